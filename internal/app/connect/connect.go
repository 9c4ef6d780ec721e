// Package connect implements `kubicle connect`: switch to a virtual cluster's
// context, print its kubeconfig, or run one command against it.
package connect

import (
	"errors"

	"github.com/spf13/cobra"

	"kubicle.dev/kubicle/internal/app/cli"
	"kubicle.dev/kubicle/internal/lifecycle"
)

type flags struct {
	host          lifecycle.HostOptions
	namespace     string
	print         bool
	kubeconfigOut string
	portForward   bool
}

// NewCommand returns the connect command.
func NewCommand(streams cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:   "connect NAME [-n HOSTNS] [--port-forward] [--print | --kubeconfig-out FILE | -- COMMAND [ARGS...]]",
		Short: "Use a virtual cluster: switch context, print its kubeconfig, or run one command",
		Long: `Make the virtual cluster's context (kubicle_NAME_HOSTNS_HOSTCONTEXT) current in your
kubeconfig, adding it when missing. With --print, write its kubeconfig to standard output
instead; with --kubeconfig-out, to a file. After --, run that one command with KUBECONFIG
set to a temporary kubeconfig of the virtual cluster; kubicle exits with its exit status.

A control plane that runs in a pod of the host (driver pod) is reached through its
Service's ClusterIP when this machine reaches the host's Service network. Otherwise, with
spec.controlPlane.expose.type PortForward, or with --port-forward, kubicle forwards a local
port to the control plane's pod through the host API server (as kubectl port-forward does)
and stays in the foreground: the kubeconfig works until Ctrl-C, or until the command
after -- ends.`,
		Example: `  kubicle connect team-a
  kubicle connect team-a -- kubectl get namespaces
  kubicle connect team-a --print > team-a.kubeconfig
  kubicle connect team-a --port-forward -- helm list -A`,
		Args:              cobra.MinimumNArgs(1),
		ValidArgsFunction: completeNames(&f.host, &f.namespace),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := lifecycle.ConnectOptions{
				Name: args[0], Namespace: f.namespace, Print: f.print, KubeconfigOut: f.kubeconfigOut, PortForward: f.portForward,
				In: streams.In, Out: streams.Out, ErrOut: streams.ErrOut,
			}
			if dash := cmd.ArgsLenAtDash(); dash >= 0 {
				if dash != 1 {
					return errors.New("give exactly one NAME before --")
				}
				o.Command = args[1:]
			} else if len(args) > 1 {
				return errors.New("give exactly one NAME; put a command to run after --")
			}
			if n := countTrue(o.Print, o.KubeconfigOut != "", len(o.Command) > 0); n > 1 {
				return errors.New("--print, --kubeconfig-out and -- COMMAND exclude each other")
			}
			h, err := lifecycle.ConnectHost(cmd.Context(), f.host)
			if err != nil {
				return err
			}
			return lifecycle.Connect(cmd.Context(), h, o)
		},
	}
	f.host.AddFlags(cmd.Flags())
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "Host namespace (default: found by name)")
	cmd.Flags().BoolVar(&f.print, "print", false, "Print the virtual cluster's kubeconfig instead of switching context")
	cmd.Flags().StringVar(&f.kubeconfigOut, "kubeconfig-out", "", "Write the virtual cluster's kubeconfig to this file instead of switching context")
	cmd.Flags().BoolVar(&f.portForward, "port-forward", false, "Reach a pod-run control plane through a local port forwarded by the host API server, and stay in the foreground")
	return cmd
}

func countTrue(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// completeNames completes the first argument with the names of the host's
// virtual clusters.
func completeNames(host *lifecycle.HostOptions, namespace *string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return lifecycle.CompleteNames(cmd.Context(), *host, *namespace, prefix), cobra.ShellCompDirectiveNoFileComp
	}
}

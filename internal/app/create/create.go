// Package create implements `kubicle create`: a virtual cluster on the host
// cluster, from flags or a VirtualCluster file (see internal/lifecycle).
package create

import (
	"errors"
	"time"

	"github.com/spf13/cobra"

	"kubicle.dev/kubicle/internal/app/cli"
	"kubicle.dev/kubicle/internal/lifecycle"
)

type flags struct {
	host      lifecycle.HostOptions
	namespace string
	file      string
	driver    string
	connect   bool
	upgrade   bool
	wait      bool
	timeout   time.Duration
}

// NewCommand returns the create command.
func NewCommand(streams cli.Streams) *cobra.Command {
	f := &flags{connect: true, wait: true, timeout: lifecycle.DefaultTimeout}
	cmd := &cobra.Command{
		Use:   "create [NAME] [-n HOSTNS] [-f FILE]",
		Short: "Create a virtual cluster on the host cluster",
		Long: `Create a virtual cluster: its host namespace and host objects (RBAC, guardrails, config),
its control plane (a local process with --driver process, a StatefulSet with --driver pod),
and a kubeconfig context kubicle_NAME_HOSTNS_HOSTCONTEXT, made current unless --connect=false.

The host is the current kubeconfig context (or --kubeconfig/--context); when the current
context is a virtual cluster's, its host. With -f, the VirtualCluster file gives the config;
NAME and -n must then match it or fill in what it leaves out.`,
		Example: `  kubicle create team-a
  kubicle create -f docs/examples/minimal.yaml --connect=false
  kubicle create team-a -f team-a.yaml --upgrade`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o := lifecycle.CreateOptions{
				Namespace: f.namespace, File: f.file, In: streams.In, Driver: f.driver,
				Connect: f.connect, Upgrade: f.upgrade, NoWait: !f.wait, Timeout: f.timeout, ErrOut: streams.ErrOut,
			}
			if len(args) == 1 {
				o.Name = args[0]
			}
			if o.Name == "" && o.File == "" {
				return errors.New("give the virtual cluster's NAME, or a VirtualCluster file with -f")
			}
			h, err := lifecycle.ConnectHost(cmd.Context(), f.host)
			if err != nil {
				return err
			}
			return lifecycle.Create(cmd.Context(), h, o)
		},
	}
	f.host.AddFlags(cmd.Flags())
	fs := cmd.Flags()
	fs.StringVarP(&f.namespace, "namespace", "n", "", "Host namespace (default: the file's metadata.namespace, else vc-NAME)")
	fs.StringVarP(&f.file, "file", "f", "", "VirtualCluster file (kubicle.dev/v1alpha1), - for standard input")
	fs.StringVar(&f.driver, "driver", "", `How the control plane runs: "process" (a local process) or "pod" (a StatefulSet on the host) (default: the file's, else "process" on kubicle's embedded host and "pod" elsewhere)`)
	fs.BoolVar(&f.connect, "connect", f.connect, "Make the virtual cluster's context the current one")
	fs.BoolVar(&f.upgrade, "upgrade", false, "Apply the config to an existing virtual cluster (restarting its control plane when the config changed) instead of refusing")
	fs.BoolVar(&f.wait, "wait", f.wait, `Wait for the control plane to be ready (driver "process" always waits)`)
	fs.DurationVar(&f.timeout, "timeout", f.timeout, "How long to wait for the control plane to be ready")
	_ = cmd.RegisterFlagCompletionFunc("driver", cobra.FixedCompletions([]string{"process", "pod"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

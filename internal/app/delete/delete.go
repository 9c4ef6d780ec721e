// Package delete implements `kubicle delete`: stop a virtual cluster and
// remove everything it has on the host and on this machine.
package delete

import (
	"time"

	"github.com/spf13/cobra"

	"kubicle.dev/kubicle/internal/app/cli"
	"kubicle.dev/kubicle/internal/lifecycle"
)

type flags struct {
	host          lifecycle.HostOptions
	namespace     string
	keepNamespace bool
	timeout       time.Duration
}

// NewCommand returns the delete command.
func NewCommand(streams cli.Streams) *cobra.Command {
	f := &flags{timeout: lifecycle.DefaultTimeout}
	cmd := &cobra.Command{
		Use:   "delete NAME [-n HOSTNS] [--keep-namespace]",
		Short: "Delete a virtual cluster and everything it has on the host",
		Long: `Stop the virtual cluster's control plane, delete every host object labelled for it (the
control plane first, the namespace last, and the namespace only when kubicle created it),
remove its kubeconfig context and its local state. When the command returns, nothing
labelled for the virtual cluster is left on the host.`,
		Example: `  kubicle delete team-a
  kubicle delete team-a -n shared-ns --keep-namespace`,
		Args: cobra.ExactArgs(1),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, prefix string) ([]cobra.Completion, cobra.ShellCompDirective) {
			if len(args) > 0 {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			return lifecycle.CompleteNames(cmd.Context(), f.host, f.namespace, prefix), cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			h, err := lifecycle.ConnectHost(cmd.Context(), f.host)
			if err != nil {
				return err
			}
			return lifecycle.Delete(cmd.Context(), h, lifecycle.DeleteOptions{
				Name: args[0], Namespace: f.namespace, KeepNamespace: f.keepNamespace, Timeout: f.timeout, ErrOut: streams.ErrOut,
			})
		},
	}
	f.host.AddFlags(cmd.Flags())
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "Host namespace (default: found by name)")
	cmd.Flags().BoolVar(&f.keepNamespace, "keep-namespace", false, "Keep a host namespace that kubicle created (its kubicle labels are removed)")
	cmd.Flags().DurationVar(&f.timeout, "timeout", f.timeout, "How long to wait for the host objects to be gone")
	return cmd
}

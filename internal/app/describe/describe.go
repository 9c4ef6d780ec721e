// Package describe implements `kubicle describe`: one virtual cluster's
// state, config, host objects and contents.
package describe

import (
	"github.com/spf13/cobra"

	"kubicle.dev/kubicle/internal/app/cli"
	"kubicle.dev/kubicle/internal/lifecycle"
)

type flags struct {
	host      lifecycle.HostOptions
	namespace string
}

// NewCommand returns the describe command.
func NewCommand(streams cli.Streams) *cobra.Command {
	f := &flags{}
	cmd := &cobra.Command{
		Use:     "describe NAME [-n HOSTNS]",
		Short:   "Show a virtual cluster's state, config, host objects and contents",
		Example: `  kubicle describe team-a`,
		Args:    cobra.ExactArgs(1),
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
			return lifecycle.Describe(cmd.Context(), h, lifecycle.DescribeOptions{Name: args[0], Namespace: f.namespace, Out: streams.Out})
		},
	}
	f.host.AddFlags(cmd.Flags())
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "Host namespace (default: found by name)")
	return cmd
}

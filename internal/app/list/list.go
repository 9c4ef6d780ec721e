// Package list implements `kubicle list`: the virtual clusters of the host
// cluster and their state.
package list

import (
	"time"

	"github.com/spf13/cobra"

	"kubicle.dev/kubicle/internal/app/cli"
	"kubicle.dev/kubicle/internal/lifecycle"
)

type flags struct {
	host      lifecycle.HostOptions
	namespace string
	output    string
}

// NewCommand returns the list command.
func NewCommand(streams cli.Streams) *cobra.Command {
	f := &flags{output: lifecycle.OutputTable}
	cmd := &cobra.Command{
		Use:     "list [-o table|json|yaml]",
		Aliases: []string{"ls"},
		Short:   "List the virtual clusters of the host cluster",
		Long: `List the virtual clusters recorded on the host cluster, from any machine that can reach
it. STATUS is Running, Starting, Sleeping or Failed; for driver "process" it comes from
the local process and its API server's /readyz, and is Unknown on another machine.`,
		Example: `  kubicle list
  kubicle list -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := lifecycle.ConnectHost(cmd.Context(), f.host)
			if err != nil {
				return err
			}
			infos, err := lifecycle.List(cmd.Context(), h, f.namespace, streams.ErrOut)
			if err != nil {
				return err
			}
			return lifecycle.PrintList(streams.Out, streams.ErrOut, infos, f.output, time.Now())
		},
	}
	f.host.AddFlags(cmd.Flags())
	cmd.Flags().StringVarP(&f.namespace, "namespace", "n", "", "Only virtual clusters in this host namespace (default: all)")
	cmd.Flags().StringVarP(&f.output, "output", "o", f.output, "Output format: table, json or yaml")
	_ = cmd.RegisterFlagCompletionFunc("output", cobra.FixedCompletions([]string{"table", "json", "yaml"}, cobra.ShellCompDirectiveNoFileComp))
	return cmd
}

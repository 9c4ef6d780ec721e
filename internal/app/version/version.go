// Package version implements `kubicle version`.
package version

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"kubicle.dev/kubicle/internal/app/cli"
	"kubicle.dev/kubicle/internal/version"
)

// NewCommand returns the version command.
func NewCommand(streams cli.Streams) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print kubicle's version and the Kubernetes version it embeds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			info := version.Get()
			switch output {
			case "":
				_, err := fmt.Fprintf(streams.Out, "kubicle %s\nkubernetes %s\ngo %s %s\n", info.Kubicle, info.Kubernetes, info.Go, info.Platform)
				return err
			case "json":
				enc := json.NewEncoder(streams.Out)
				enc.SetIndent("", "  ")
				return enc.Encode(info)
			default:
				return fmt.Errorf("--output %q: must be empty or json", output)
			}
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "", "Output format: empty or json")
	return cmd
}

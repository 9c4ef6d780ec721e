// Package kwok implements the hidden `kubicle kwok` command: kwok (sigs.k8s.io/kwok)
// built into the kubicle binary, so the embedded host needs no second download. The
// host starts it as a child process; it is not meant to be run by hand.
package kwok

import (
	"context"
	"os"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"sigs.k8s.io/kwok/pkg/config"
	kwokcmd "sigs.k8s.io/kwok/pkg/kwok/cmd"
	"sigs.k8s.io/kwok/pkg/log"
)

// NewCommand returns the kwok command. Flag parsing is left to kwok's own command.
func NewCommand() *cobra.Command {
	return &cobra.Command{
		Use:                "kwok [kwok flags]",
		Short:              "Run kwok, the node simulator of the embedded host (internal)",
		Hidden:             true,
		DisableFlagParsing: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), args)
		},
	}
}

// run mirrors kwok's own main: kwok reads its --config flag from os.Args[1:] while
// setting up its context, so os.Args is pointed at kwok's arguments first.
//
// The Kubernetes packages linked into kubicle register a string-valued --version in
// pflag.CommandLine at init, which cobra merges into every command and which clashes
// with the boolean --version of kwok's command. This process runs kwok alone, so it
// starts from an empty global flag set.
func run(ctx context.Context, args []string) error {
	os.Args = append([]string{"kwok"}, args...)
	pflag.CommandLine = pflag.NewFlagSet("kwok", pflag.ContinueOnError)
	flagset := pflag.NewFlagSet("global", pflag.ContinueOnError)
	flagset.ParseErrorsAllowlist.UnknownFlags = true
	flagset.Usage = func() {}
	ctx, _ = log.InitFlags(ctx, flagset)
	ctx, err := config.InitFlags(ctx, flagset)
	if err != nil {
		return err
	}
	command := kwokcmd.NewCommand(ctx)
	command.PersistentFlags().AddFlagSet(flagset)
	command.SetArgs(args)
	return command.ExecuteContext(ctx)
}

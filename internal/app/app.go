// Package app assembles kubicle's command tree. Main runs it and returns the error
// that cmd/kubicle prints once.
package app

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"kubicle.dev/kubicle/internal/app/cli"
	"kubicle.dev/kubicle/internal/app/connect"
	"kubicle.dev/kubicle/internal/app/controlplane"
	"kubicle.dev/kubicle/internal/app/create"
	"kubicle.dev/kubicle/internal/app/delete"
	"kubicle.dev/kubicle/internal/app/describe"
	"kubicle.dev/kubicle/internal/app/host"
	"kubicle.dev/kubicle/internal/app/kwok"
	"kubicle.dev/kubicle/internal/app/list"
	"kubicle.dev/kubicle/internal/app/operator"
	"kubicle.dev/kubicle/internal/app/version"
)

// NewCommand returns the root command.
func NewCommand(streams cli.Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "kubicle",
		Short: "Virtual Kubernetes clusters for every tenant, on one shared host cluster",
		Long: `kubicle gives every tenant a virtual cluster: its own real kube-apiserver and control
plane, running inside one namespace of a shared host cluster whose nodes run the
tenant's workloads.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(streams.In)
	root.SetOut(streams.Out)
	root.SetErr(streams.ErrOut)
	cli.AddLogFlags(root.PersistentFlags())
	root.AddCommand(
		create.NewCommand(streams),
		connect.NewCommand(streams),
		list.NewCommand(streams),
		describe.NewCommand(streams),
		delete.NewCommand(streams),
		operator.NewCommand(streams),
		controlplane.NewCommand(streams),
		host.NewCommand(streams),
		version.NewCommand(streams),
		kwok.NewCommand(),
	)
	return root
}

// Main runs kubicle with args. The first SIGINT or SIGTERM cancels the command's
// context so servers stop cleanly; a second one exits at once.
func Main(args []string, streams cli.Streams) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		<-sigs
		cancel()
		<-sigs
		os.Exit(130)
	}()
	root := NewCommand(streams)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

package host

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"kubicle.dev/kubicle/internal/app/cli"
	"kubicle.dev/kubicle/internal/hostsim"
	"kubicle.dev/kubicle/internal/kubeconfig"
	"kubicle.dev/kubicle/internal/realnode"
)

// downTimeout is how long `host down` waits after SIGTERM before it sends SIGKILL. The
// control plane stops in a few seconds; this leaves room for a loaded machine.
const downTimeout = 30 * time.Second

func newDown(streams cli.Streams, stateDir func() string) *cobra.Command {
	var purge bool
	var userConfig string
	cmd := &cobra.Command{
		Use:   "down",
		Short: "Stop the embedded host cluster (keeps its state unless --purge)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := stateDir()
			paths := hostsim.PathsFor(dir)
			if pid := hostsim.ReadPID(dir); pid != 0 {
				fmt.Fprintf(streams.ErrOut, "Stopping embedded host (pid %d)\n", pid)
				if err := stop(pid); err != nil {
					return err
				}
				_ = os.Remove(paths.PID())
				_ = os.Remove(paths.ReadyMarker())
				fmt.Fprintln(streams.ErrOut, "Embedded host stopped")
			} else {
				fmt.Fprintln(streams.ErrOut, "Embedded host is not running")
			}
			// A host that was killed leaves its real nodes' containers, mounts,
			// interfaces and rules behind; a host that stopped cleanly left nothing.
			if err := realnode.Cleanup(paths.RealNodes(), nodeBinary()); err != nil {
				return fmt.Errorf("removing real nodes: %w", err)
			}
			if purge {
				if userConfig == "" {
					userConfig = kubeconfig.DefaultPath()
				}
				if err := kubeconfig.Remove(userConfig, hostsim.ContextName); err != nil {
					return err
				}
				if err := os.RemoveAll(dir); err != nil {
					return fmt.Errorf("removing state directory: %w", err)
				}
				fmt.Fprintf(streams.ErrOut, "Removed %s and context %q from %s\n", dir, hostsim.ContextName, userConfig)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&purge, "purge", false, "Also delete the host's state directory and its kubeconfig context")
	cmd.Flags().StringVar(&userConfig, "kubeconfig", "", "With --purge: kubeconfig to remove the kubicle-host context from (default: $KUBECONFIG or ~/.kube/config)")
	return cmd
}

// stop sends SIGTERM to pid and waits for it to exit, then SIGKILL after downTimeout.
func stop(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil {
		return fmt.Errorf("stopping pid %d: %w", pid, err)
	}
	deadline := time.Now().Add(downTimeout)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return fmt.Errorf("pid %d did not stop within %s after SIGTERM; killed it", pid, downTimeout)
}

func newStatus(streams cli.Streams, stateDir func() string) *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Say whether the embedded host is running, with its address and nodes",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			dir := stateDir()
			paths := hostsim.PathsFor(dir)
			pid := hostsim.ReadPID(dir)
			if pid == 0 {
				fmt.Fprintf(streams.Out, "Embedded host: stopped (state directory %s)\n", dir)
				return fmt.Errorf("embedded host is not running")
			}
			if _, err := os.Stat(paths.ReadyMarker()); err != nil {
				fmt.Fprintf(streams.Out, "Embedded host: starting (pid %d)\n", pid)
				return nil
			}
			cfg, err := clientcmd.BuildConfigFromFlags("", paths.Kubeconfig())
			if err != nil {
				return fmt.Errorf("reading host kubeconfig: %w", err)
			}
			fmt.Fprintf(streams.Out, "Embedded host: running (pid %d)\nAPI server: %s\nkubeconfig: %s\n", pid, cfg.Host, paths.Kubeconfig())
			client, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), 10*time.Second)
			defer cancel()
			nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
			if err != nil {
				return fmt.Errorf("API server not answering: %w", err)
			}
			ready := 0
			for _, n := range nodes.Items {
				for _, c := range n.Status.Conditions {
					if c.Type == "Ready" && c.Status == "True" {
						ready++
					}
				}
			}
			fmt.Fprintf(streams.Out, "Nodes: %d (%d Ready)\n", len(nodes.Items), ready)
			return nil
		},
	}
}

func newKubeconfig(streams cli.Streams, stateDir func() string) *cobra.Command {
	return &cobra.Command{
		Use:     "kubeconfig",
		Short:   "Print the path of the embedded host's kubeconfig",
		Example: `  export KUBECONFIG=$(kubicle host kubeconfig)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := hostsim.PathsFor(stateDir()).Kubeconfig()
			if _, err := os.Stat(path); err != nil {
				return fmt.Errorf("no host kubeconfig at %s: run `kubicle host up` first", path)
			}
			_, err := fmt.Fprintln(streams.Out, path)
			return err
		},
	}
}

// nodeBinary is the kubicle-node binary beside this one.
func nodeBinary() string {
	exe, err := os.Executable()
	if err != nil {
		return "kubicle-node"
	}
	return filepath.Join(filepath.Dir(exe), "kubicle-node")
}

func newLoadImage(streams cli.Streams, stateDir func() string) *cobra.Command {
	return &cobra.Command{
		Use:   "load-image FILE...",
		Short: "Load OCI image tarballs into every real node of the running host",
		Long: `Load container images into the real nodes of the embedded host, which reach no
registry. Each FILE is an OCI image tarball (as written by make images, or by crane,
ko or buildah); pods name the image it holds with imagePullPolicy IfNotPresent or Never.`,
		Example: `  kubicle host load-image bin/images/agnhost.tar`,
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			dir := stateDir()
			if hostsim.ReadPID(dir) == 0 {
				return fmt.Errorf("the embedded host is not running (state directory %s): run `kubicle host up --real-nodes N` first", dir)
			}
			sockets, err := realnode.Sockets(hostsim.PathsFor(dir).RealNodes())
			if err != nil {
				return err
			}
			if len(sockets) == 0 {
				return fmt.Errorf("the embedded host has no real nodes: start it with --real-nodes N")
			}
			for _, f := range files {
				if _, err := os.Stat(f); err != nil {
					return fmt.Errorf("image %s: %w", f, err)
				}
			}
			for _, s := range sockets {
				if err := realnode.LoadImages(s, files...); err != nil {
					return fmt.Errorf("node %s: %w", filepath.Base(filepath.Dir(s)), err)
				}
			}
			fmt.Fprintf(streams.ErrOut, "Loaded %d image(s) into %d real node(s)\n", len(files), len(sockets))
			return nil
		},
	}
}

// Package host implements `kubicle host up|down|status|kubeconfig`: the embedded host
// cluster for laptops and CI (see internal/hostsim).
package host

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/component-base/metrics/legacyregistry"

	"kubicle.dev/kubicle/internal/app/cli"
	"kubicle.dev/kubicle/internal/hostsim"
	"kubicle.dev/kubicle/internal/kubeconfig"
	"kubicle.dev/kubicle/internal/memlimit"
)

// NewCommand returns the host command and its subcommands.
func NewCommand(streams cli.Streams) *cobra.Command {
	var stateDir string
	cmd := &cobra.Command{
		Use:   "host",
		Short: "Run an embedded host cluster (real control plane, simulated nodes)",
		Long: `The embedded host cluster: a real kube-apiserver, kube-controller-manager and
kube-scheduler on SQLite, with nodes simulated by kwok. Pods scheduled to them go Running,
and kubectl logs and exec work. Use it to try kubicle, or in CI, with no cluster at hand.`,
	}
	cmd.PersistentFlags().StringVar(&stateDir, "state-dir", defaultStateDir(), "Directory holding the host's data, logs and pid (env KUBICLE_HOST_DIR)")
	dir := func() string { return stateDir }
	cmd.AddCommand(newUp(streams, dir), newDown(streams, dir), newStatus(streams, dir), newKubeconfig(streams, dir), newLoadImage(streams, dir))
	return cmd
}

// defaultStateDir follows the XDG base directory spec for state.
func defaultStateDir() string {
	if d := os.Getenv("KUBICLE_HOST_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "kubicle", "host")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "kubicle-host")
	}
	return filepath.Join(home, ".local", "state", "kubicle", "host")
}

type upFlags struct {
	detach      bool
	userConfig  string
	noMerge     bool
	waitTimeout time.Duration
	idleTrim    bool
}

func newUp(streams cli.Streams, stateDir func() string) *cobra.Command {
	opts := hostsim.NewOptions()
	f := &upFlags{idleTrim: true}
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Start the embedded host cluster",
		Example: `  kubicle host up --detach --nodes 2 --gpu-nodes 1 --gpus-per-node 8
  kubectl --context kubicle-host get nodes

  # real nodes: containerd, kubelet and kube-proxy on this machine (root; make node images)
  sudo kubicle host up --detach --real-nodes 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.StateDir = stateDir()
			// Real nodes replace the default simulated one; both kinds when asked.
			if opts.RealNodes > 0 && !cmd.Flags().Changed("nodes") {
				opts.Nodes = 0
			}
			if err := opts.Validate(); err != nil {
				return err
			}
			if pid := hostsim.ReadPID(opts.StateDir); pid != 0 {
				return fmt.Errorf("the embedded host is already up (pid %d, kubeconfig %s); run `kubicle host down` first", pid, hostsim.PathsFor(opts.StateDir).Kubeconfig())
			}
			if f.detach {
				return upDetached(cmd, streams, opts.StateDir, f)
			}
			return upForeground(cmd.Context(), streams, opts, f)
		},
	}
	opts.AddFlags(cmd.Flags())
	cmd.Flags().BoolVarP(&f.detach, "detach", "d", false, "Start in the background and return once the host is ready")
	cmd.Flags().StringVar(&f.userConfig, "kubeconfig", "", "Kubeconfig to add the kubicle-host context to (default: $KUBECONFIG or ~/.kube/config)")
	cmd.Flags().BoolVar(&f.noMerge, "no-kubeconfig-merge", false, "Do not add the kubicle-host context to any kubeconfig")
	cmd.Flags().BoolVar(&f.idleTrim, "idle-memory-trim", f.idleTrim, "While the host is idle, hold its Go heap near the live heap and return free memory to the OS")
	cmd.Flags().DurationVar(&f.waitTimeout, "wait", 3*time.Minute, "With --detach: how long to wait for the host to be ready")
	return cmd
}

func upForeground(ctx context.Context, streams cli.Streams, opts *hostsim.Options, f *upFlags) error {
	paths := hostsim.PathsFor(opts.StateDir)
	if err := os.MkdirAll(paths.Dir(), 0o755); err != nil {
		return fmt.Errorf("state directory %s: %w", paths.Dir(), err)
	}
	logFile, err := os.OpenFile(paths.Log(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening log %s: %w", paths.Log(), err)
	}
	defer logFile.Close()
	cli.LogTo(logFile)
	_ = os.Remove(paths.ReadyMarker())
	if err := os.WriteFile(paths.PID(), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("writing pid file: %w", err)
	}
	defer func() {
		_ = os.Remove(paths.ReadyMarker())
		_ = os.Remove(paths.PID())
	}()
	// The host is one per machine and carries every tenant's pods: Go's default GOGC
	// keeps its collector's CPU out of the way of the workloads it simulates.
	memlimit.Tune(ctx, 0, nil, f.idleTrim, legacyregistry.Registerer())
	fmt.Fprintf(streams.ErrOut, "Starting embedded host (%d simulated nodes, %d simulated GPU nodes, %d real nodes); logs: %s\n", opts.Nodes, opts.GPUNodes, opts.RealNodes, paths.Log())
	err = hostsim.Run(ctx, opts, logFile, func(info hostsim.Info) error {
		target := ""
		if !f.noMerge {
			target = f.userConfig
			if target == "" {
				target = kubeconfig.DefaultPath()
			}
			cfg, err := clientcmd.LoadFromFile(info.Kubeconfig)
			if err != nil {
				return fmt.Errorf("reading host kubeconfig: %w", err)
			}
			if err := kubeconfig.Merge(target, cfg, hostsim.ContextName, false); err != nil {
				return err
			}
		}
		if err := os.WriteFile(paths.ReadyMarker(), []byte(info.Server+"\n"), 0o644); err != nil {
			return fmt.Errorf("writing ready marker: %w", err)
		}
		printReady(streams, info, target)
		return nil
	})
	if err != nil && ctx.Err() != nil && errors.Is(err, context.Canceled) {
		err = nil
	}
	if err == nil {
		fmt.Fprintln(streams.ErrOut, "Embedded host stopped")
	}
	return err
}

func printReady(streams cli.Streams, info hostsim.Info, merged string) {
	fmt.Fprintf(streams.ErrOut, "Embedded host ready at %s with %d Ready nodes\n", info.Server, info.Nodes)
	fmt.Fprintf(streams.ErrOut, "kubeconfig: %s\n", info.Kubeconfig)
	if merged != "" {
		fmt.Fprintf(streams.ErrOut, "Added context %q to %s. Try:\n  kubectl --context %s get nodes\n", hostsim.ContextName, merged, hostsim.ContextName)
	} else {
		fmt.Fprintf(streams.ErrOut, "Try:\n  kubectl --kubeconfig %s get nodes\n", info.Kubeconfig)
	}
}

// upDetached starts `kubicle host up` (without --detach) in a new session with its
// output in the state directory, and waits until it is ready or has failed.
func upDetached(cmd *cobra.Command, streams cli.Streams, stateDir string, f *upFlags) error {
	ctx := cmd.Context()
	paths := hostsim.PathsFor(stateDir)
	if err := os.MkdirAll(paths.Dir(), 0o755); err != nil {
		return fmt.Errorf("state directory %s: %w", paths.Dir(), err)
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"host", "--state-dir=" + stateDir, "up"}
	visit := func(fl *pflag.Flag) {
		if fl.Name != "detach" && fl.Name != "wait" && fl.Name != "state-dir" {
			args = append(args, "--"+fl.Name+"="+fl.Value.String())
		}
	}
	cmd.Flags().Visit(visit)
	out, err := os.OpenFile(paths.Log(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening log %s: %w", paths.Log(), err)
	}
	defer out.Close()
	offset, _ := out.Seek(0, 2)
	_ = os.Remove(paths.ReadyMarker())
	child := exec.Command(exe, args...)
	child.Stdout, child.Stderr = out, out
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := child.Start(); err != nil {
		return fmt.Errorf("starting the host in the background: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- child.Wait() }()
	fmt.Fprintf(streams.ErrOut, "Starting embedded host in the background (pid %d); logs: %s\n", child.Process.Pid, paths.Log())
	deadline := time.After(f.waitTimeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("embedded host exited during start (%v):\n%s", err, tail(paths.Log(), offset, 15))
		case <-deadline:
			return fmt.Errorf("embedded host not ready after %s (pid %d still running); see %s", f.waitTimeout, child.Process.Pid, paths.Log())
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			if _, err := os.Stat(paths.ReadyMarker()); err == nil {
				data, _ := os.ReadFile(paths.Log())
				if int64(len(data)) > offset {
					printTail(streams, string(data[offset:]))
				}
				return nil
			}
		}
	}
}

// printTail repeats the child's own status lines (not the component logs) to the user.
func printTail(streams cli.Streams, log string) {
	for _, line := range strings.Split(log, "\n") {
		for _, p := range []string{"Embedded host ready", "kubeconfig:", "Added context", "Try:", "  kubectl"} {
			if strings.HasPrefix(line, p) {
				fmt.Fprintln(streams.ErrOut, line)
				break
			}
		}
	}
}

// tail returns the last n lines of the file written after offset.
func tail(path string, offset int64, n int) string {
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) < offset {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data[offset:]), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"kubicle.dev/kubicle/internal/kubeconfig"
)

// ConnectOptions are the inputs of [Connect]. At most one of Print,
// KubeconfigOut and Command is set; with none, Connect switches the user's
// current context.
type ConnectOptions struct {
	// Name is the virtual cluster's name.
	Name string
	// Namespace is its host namespace. Default: the one namespace whose record
	// names it, else vc-NAME.
	Namespace string
	// Print writes the virtual cluster's kubeconfig to Out.
	Print bool
	// KubeconfigOut writes the virtual cluster's kubeconfig to this file.
	KubeconfigOut string
	// Command is run with KUBECONFIG set to a temporary kubeconfig of the
	// virtual cluster; its exit status becomes an [*ExitError].
	Command []string
	// PortForward reaches a pod-driven control plane through a local port
	// forwarded by the host API server even when this machine reaches its
	// Service. Connect then runs until ctx ends (Ctrl-C), or until Command
	// ends.
	PortForward bool
	// In, Out and ErrOut are the command's streams; Out also receives Print's
	// kubeconfig, ErrOut progress.
	In          io.Reader
	Out, ErrOut io.Writer
}

// ExitError is the non-zero exit status of the command that Connect ran.
// The CLI exits with Code and prints nothing more: the command has spoken.
type ExitError struct {
	// Code is the exit status; 128+N for a command killed by signal N, as
	// shells report it.
	Code int
}

// Error says how the command ended.
func (e *ExitError) Error() string { return fmt.Sprintf("command exited with status %d", e.Code) }

// commandStopGrace is how long a command gets after SIGINT when kubicle is
// interrupted, before it is killed.
const commandStopGrace = 10 * time.Second

// Connect gives access to a virtual cluster: it makes its context current in
// the user's kubeconfig (adding it when missing), prints or writes its
// kubeconfig, or runs one command against it.
func Connect(ctx context.Context, h *Host, o ConnectOptions) error {
	p := newProgress(o.ErrOut)
	r, err := locate(ctx, h, o.Name, o.Namespace)
	if err != nil {
		return err
	}
	rec, err := getRecord(ctx, h, r)
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("virtual cluster %q not found in host namespace %q (context %q); `kubicle list` shows the virtual clusters of this host", r.Name, r.Namespace, h.Context)
	}
	ctxName := ContextName(r.Name, r.Namespace, h.Context)
	cfg, fwd, err := driverFor(recordedEnv(h, rec, p), rec.VC).connect(ctx, ctxName, o.PortForward)
	if err != nil {
		return err
	}
	if fwd != nil {
		defer fwd.close()
		p.line("Forwarding 127.0.0.1:%d to the API server in pod %s through the host", fwd.Port, fwd.Pod)
	}

	switch {
	case o.Print:
		data, err := clientcmd.Write(*cfg)
		if err != nil {
			return err
		}
		if _, err := o.Out.Write(data); err != nil {
			return err
		}
	case o.KubeconfigOut != "":
		if err := kubeconfig.WriteFile(o.KubeconfigOut, cfg); err != nil {
			return err
		}
		p.done("Wrote the kubeconfig of %s to %s", r, o.KubeconfigOut)
	case len(o.Command) > 0:
		return runWithKubeconfig(ctx, cfg, o)
	default:
		if err := kubeconfig.Merge(h.UserKubeconfig, cfg, ctxName, true); err != nil {
			return err
		}
		p.done("Switched to context %q (virtual cluster %s) in %s", ctxName, r, h.UserKubeconfig)
	}
	if fwd == nil {
		return nil
	}
	p.line("The kubeconfig works while this runs; Ctrl-C stops it.")
	return fwd.wait(ctx)
}

// runWithKubeconfig runs o.Command with KUBECONFIG set to a temporary file
// holding cfg alone, removed afterwards.
func runWithKubeconfig(ctx context.Context, cfg *clientcmdapi.Config, o ConnectOptions) error {
	dir, err := os.MkdirTemp("", "kubicle-connect-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	kubeconfigPath := filepath.Join(dir, "kubeconfig")
	if err := kubeconfig.WriteFile(kubeconfigPath, cfg); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, o.Command[0], o.Command[1:]...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfigPath)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = o.In, o.Out, o.ErrOut
	// On Ctrl-C the command, in the same process group, gets SIGINT from the
	// terminal itself; when kubicle alone is told to stop, it passes SIGINT on
	// and kills the command only if it does not stop.
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = commandStopGrace
	err = cmd.Run()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code := exitErr.ExitCode()
		if ws, ok := exitErr.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
		return &ExitError{Code: code}
	}
	if err != nil {
		return fmt.Errorf("running %s: %w", o.Command[0], err)
	}
	return nil
}

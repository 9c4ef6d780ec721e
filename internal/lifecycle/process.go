package lifecycle

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// stopTimeout is how long a control plane gets to stop after SIGTERM before
// SIGKILL. It stops in a few seconds; the rest is for a loaded machine.
const stopTimeout = 30 * time.Second

// readyzTimeout bounds one /readyz request.
const readyzTimeout = 3 * time.Second

// startProcess starts `exe args…` in a new session (so that it outlives the
// CLI and its terminal), its output appended to the log, and records its pid.
// exited receives its exit once it stops.
func startProcess(p Paths, exe string, args []string) (pid int, exited <-chan error, logOffset int64, err error) {
	out, err := os.OpenFile(p.Log(), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return 0, nil, 0, fmt.Errorf("opening log %s: %w", p.Log(), err)
	}
	defer out.Close()
	logOffset, _ = out.Seek(0, 2)
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Dir = p.Dir()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, nil, 0, fmt.Errorf("starting the control plane: %w", err)
	}
	ch := make(chan error, 1)
	go func() { ch <- cmd.Wait() }()
	pid = cmd.Process.Pid
	if err := writeFileAtomic(p.PID(), []byte(strconv.Itoa(pid)+"\n"), 0o600); err != nil {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		return 0, nil, 0, err
	}
	return pid, ch, logOffset, nil
}

// readPID returns the pid in the pid file, or 0.
func readPID(p Paths) int {
	data, err := os.ReadFile(p.PID())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}

// runningPID returns the pid of the virtual cluster's control plane when it
// runs, or 0. A pid that now belongs to another program (pids are reused
// after a reboot) does not count.
func runningPID(p Paths) int {
	pid := readPID(p)
	if pid == 0 || syscall.Kill(pid, 0) != nil {
		return 0
	}
	cmdline, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	if err != nil {
		// No /proc (macOS): the signal check is all there is.
		return pid
	}
	if !bytes.Contains(cmdline, []byte("control-plane")) || !bytes.Contains(cmdline, []byte(p.Data())) {
		return 0
	}
	return pid
}

// stopProcess sends SIGTERM to the control plane and waits for it to exit,
// then kills its process group after stopTimeout.
func stopProcess(p Paths, progress *progress) error {
	pid := runningPID(p)
	if pid == 0 {
		_ = os.Remove(p.PID())
		return nil
	}
	progress.step("Stopping the control plane (pid %d)", pid)
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stopping the control plane (pid %d): %w", pid, err)
	}
	deadline := time.Now().Add(stopTimeout)
	for time.Now().Before(deadline) {
		if syscall.Kill(pid, 0) != nil {
			_ = os.Remove(p.PID())
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	progress.warn("The control plane did not stop within %s of SIGTERM; killing it", stopTimeout)
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 50 && syscall.Kill(pid, 0) == nil; i++ {
		time.Sleep(100 * time.Millisecond)
	}
	_ = os.Remove(p.PID())
	return nil
}

// readyz asks the API server of kubeconfig whether it is ready, and returns
// why not.
func readyz(ctx context.Context, kubeconfigPath string) error {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfigPath)
	if err != nil {
		return fmt.Errorf("no kubeconfig yet: %w", err)
	}
	cfg.Timeout = readyzTimeout
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	body, err := c.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	if err != nil {
		return fmt.Errorf("/readyz: %w", cause(err))
	}
	if strings.TrimSpace(string(body)) != "ok" {
		return fmt.Errorf("/readyz: %s", body)
	}
	return nil
}

// tailFile returns the last n lines written to path after offset, indented,
// with every secret in secrets replaced.
func tailFile(path string, offset int64, n int, secrets ...string) string {
	data, err := os.ReadFile(path)
	if err != nil || int64(len(data)) < offset {
		return ""
	}
	text := string(data[offset:])
	for _, s := range secrets {
		if s != "" {
			text = strings.ReplaceAll(text, s, "xxxxx")
		}
	}
	lines := strings.Split(strings.TrimRight(text, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// maxLogLine bounds a log line quoted in a progress message.
const maxLogLine = 200

// lastLine returns the last line written to path after offset, shortened,
// with every secret in secrets replaced.
func lastLine(path string, offset int64, secrets ...string) string {
	line := strings.TrimSpace(tailFile(path, offset, 1, secrets...))
	if len(line) > maxLogLine {
		line = line[:maxLogLine] + "…"
	}
	return line
}

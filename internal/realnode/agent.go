package realnode

import (
	"bytes"
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
)

// agent is one supervised process of a real node (containerd, kubelet, kube-proxy):
// its output goes to a log file, its pid to a file, so that `kubicle host down` can
// stop it even after the host process that started it was killed.
type agent struct {
	name    string
	cmd     *exec.Cmd
	pidFile string
	log     string
	done    chan error
}

// startAgent starts exe with args, logging to dir/NAME.log and recording its pid in
// dir/NAME.pid. The agent runs in a process group of its own, so that a terminal's
// Ctrl-C reaches the host only, which then stops the agents in order.
func startAgent(dir, name, exe string, args ...string) (*agent, error) {
	logPath := filepath.Join(dir, name+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("%s log: %w", name, err)
	}
	cmd := exec.Command(exe, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = logFile.Close()
		return nil, fmt.Errorf("starting %s (%s): %w", name, exe, err)
	}
	a := &agent{name: name, cmd: cmd, pidFile: filepath.Join(dir, name+".pid"), log: logPath, done: make(chan error, 1)}
	if err := os.WriteFile(a.pidFile, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644); err != nil {
		_ = cmd.Process.Kill()
		_ = logFile.Close()
		return nil, fmt.Errorf("%s pid file: %w", name, err)
	}
	go func() {
		err := cmd.Wait()
		_ = logFile.Close()
		if err == nil {
			err = errors.New("exited")
		}
		a.done <- err
	}()
	return a, nil
}

// stop sends SIGTERM and waits up to grace before SIGKILL.
func (a *agent) stop(grace time.Duration) {
	if a == nil {
		return
	}
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-a.done:
		a.done <- err
	case <-time.After(grace):
		_ = a.cmd.Process.Kill()
		err := <-a.done
		a.done <- err
	}
	_ = os.Remove(a.pidFile)
}

// exited reports a failure of the agent that was not asked to stop, with the tail
// of its log.
func (a *agent) exitError(err error) error {
	return fmt.Errorf("%s stopped: %v; last lines of %s:\n%s", a.name, err, a.log, tail(a.log, 15))
}

// tail returns the last n lines of the file at path.
func tail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// killRecorded stops the process whose pid dir/NAME.pid records, if it still runs
// and its command line names want (a stale pid file must not kill another process).
func killRecorded(dir, name, want string) {
	pidFile := filepath.Join(dir, name+".pid")
	data, err := os.ReadFile(pidFile)
	if err != nil {
		return
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err == nil && pid > 0 && cmdlineContains(pid, want) {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		for i := 0; i < 100 && cmdlineContains(pid, want); i++ {
			time.Sleep(100 * time.Millisecond)
		}
		if cmdlineContains(pid, want) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	_ = os.Remove(pidFile)
}

func cmdlineContains(pid int, want string) bool {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	return err == nil && bytes.Contains(data, []byte(want))
}

// killProcessesMatching sends SIGKILL to every process whose command line contains
// want: the containerd shims of a node, which outlive their containerd.
func killProcessesMatching(want string) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return
	}
	self := os.Getpid()
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		if cmdlineContains(pid, want) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// waitFor polls check every 100 ms until it returns nil, ctx ends or timeout passes;
// the error names what was awaited and the last reason.
func waitFor(ctx context.Context, what string, timeout time.Duration, done chan error, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %s: %w", what, timeout, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case e := <-done:
			done <- e // for agent.stop
			return fmt.Errorf("%s exited while starting: %v", what, e)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Package testenv is the one harness every integration and end-to-end test uses. It
// drives the built kubicle binary the way a user does: it starts the embedded host and
// control planes as child processes, each in its own temporary directory, waits until
// they answer, and stops them on t.Cleanup. Nothing here fakes an API server.
//
// The binary comes from $KUBICLE_BIN (set by `make test`), else it is built once per
// test process with the same link flags as `make build`. kubectl comes from
// $KUBECTL_BIN, else it is built from k8s.io/kubernetes/cmd/kubectl; helm likewise from
// $HELM_BIN, else helm.sh/helm/v4/cmd/helm.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

var (
	buildOnce sync.Map // binary name → *buildResult
)

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// defaultLDFlags mirror the Makefile's, so a binary built here reports v1.37.2.
const defaultLDFlags = "-X k8s.io/component-base/version.gitVersion=v1.37.2 " +
	"-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=37 " +
	"-X k8s.io/component-base/version.gitTreeState=clean " +
	"-X k8s.io/component-base/version.buildDate=2026-11-26T00:00:00Z " +
	"-X k8s.io/client-go/pkg/version.gitVersion=v1.37.2"

// BuildTags are the build tags of `make build` (GO_TAGS in the Makefile): without
// them the binary links package plugin, which exports every symbol dynamically and
// turns off the linker's removal of unused methods.
const BuildTags = "kustomize_disable_go_plugin_support"

// Kubicle returns the path of the kubicle binary under test.
func Kubicle(t testing.TB) string {
	return binary(t, "KUBICLE_BIN", "kubicle", "./cmd/kubicle")
}

// Kubectl returns the path of a kubectl v1.37.2 binary.
func Kubectl(t testing.TB) string {
	return binary(t, "KUBECTL_BIN", "kubectl", "k8s.io/kubernetes/cmd/kubectl")
}

// Helm returns the path of a helm binary of the version in go.mod.
func Helm(t testing.TB) string {
	return binary(t, "HELM_BIN", "helm", "helm.sh/helm/v4/cmd/helm")
}

func binary(t testing.TB, env, name, pkg string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("$%s=%s: %v", env, p, err)
		}
		return p
	}
	v, _ := buildOnce.LoadOrStore(name, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			r.err = err
			return
		}
		dir, err := os.MkdirTemp("", "kubicle-testbin-")
		if err != nil {
			r.err = err
			return
		}
		r.path = filepath.Join(dir, name)
		flags := os.Getenv("KUBICLE_LDFLAGS")
		if flags == "" {
			flags = defaultLDFlags
		}
		cmd := exec.Command("go", "build", "-tags", BuildTags, "-ldflags", flags, "-o", r.path, pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			r.err = fmt.Errorf("building %s: %v\n%s", pkg, err, out)
		}
	})
	if r.err != nil {
		t.Fatal(r.err)
	}
	return r.path
}

// ColdCopy copies the binary at src into a new temporary directory, writes it to disk
// and drops the copy from the page cache, so the first process that runs it reads it
// from disk: the state of a binary after a reboot, on a node that has just unpacked
// an image, or once the kernel has reclaimed its pages. A binary straight from the Go
// linker is in another state: the linker writes it through a memory map, the page
// cache then holds it in large folios, and every process maps all of it, ~30–40 MB
// more file-backed RSS per process for the same bytes (docs/benchmarks.md).
func ColdCopy(t testing.TB, src string) string {
	t.Helper()
	return copyBinary(t, src, true)
}

// InstalledCopy copies the binary at src into a new temporary directory the way cp(1)
// does (io.Copy between files: copy_file_range(2) on Linux) and leaves it in the page
// cache: the state of a binary that was just installed.
func InstalledCopy(t testing.TB, src string) string {
	t.Helper()
	return copyBinary(t, src, false)
}

// copyBinary copies src; drop writes it to disk and drops it from the page cache.
func copyBinary(t testing.TB, src string, drop bool) string {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	dst := filepath.Join(t.TempDir(), filepath.Base(src))
	f, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, in); err != nil {
		t.Fatal(err)
	}
	// Only clean pages can be dropped: write them out first.
	if err := f.Sync(); err != nil {
		t.Fatal(err)
	}
	if drop {
		if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
			t.Fatalf("dropping %s from the page cache: %v", dst, err)
		}
	}
	return dst
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the kubicle module")
	}
	return filepath.Dir(gomod), nil
}

// Result is the outcome of one command.
type Result struct {
	// Stdout and Stderr are what the command printed.
	Stdout, Stderr string
	// ExitCode is the exit status; -1 when it did not exit normally.
	ExitCode int
}

// String shows the result in failure messages.
func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.ExitCode, r.Stdout, r.Stderr)
}

// Run runs bin with args and env (added to the test's environment) and returns what
// it printed; it fails the test only when the command could not be started or ran
// past timeout.
func Run(t testing.TB, timeout time.Duration, env []string, bin string, args ...string) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := Result{Stdout: stdout.String(), Stderr: stderr.String(), ExitCode: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		t.Fatalf("%s %s: still running after %s\n%s", filepath.Base(bin), strings.Join(args, " "), timeout, res)
	}
	var exitErr *exec.ExitError
	if err != nil && !errors.As(err, &exitErr) {
		t.Fatalf("%s %s: %v", filepath.Base(bin), strings.Join(args, " "), err)
	}
	return res
}

// MustRun is Run that fails the test unless the command exits 0.
func MustRun(t testing.TB, timeout time.Duration, env []string, bin string, args ...string) Result {
	t.Helper()
	res := Run(t, timeout, env, bin, args...)
	if res.ExitCode != 0 {
		t.Fatalf("%s %s failed: %s", filepath.Base(bin), strings.Join(args, " "), res)
	}
	return res
}

// Eventually polls cond every interval until it returns true, and fails the test
// after timeout with the last reason cond gave for not being done.
func Eventually(t testing.TB, timeout, interval time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	reason := "never checked"
	for {
		ok, why := cond()
		if ok {
			return
		}
		reason = why
		if time.Now().After(deadline) {
			t.Fatalf("still waiting after %s: %s", timeout, reason)
		}
		time.Sleep(interval)
	}
}

// Process is a long-running child process started by the harness.
type Process struct {
	t    testing.TB
	cmd  *exec.Cmd
	done chan struct{}
	err  error
	// Log is the file holding the process's stdout and stderr.
	Log string
}

// Start starts bin with args, its output going to a log file in the test's temp dir.
// The process is stopped with SIGTERM (then SIGKILL) on cleanup; when the test failed,
// the end of its log is printed.
func Start(t testing.TB, env []string, bin string, args ...string) *Process {
	t.Helper()
	logFile, err := os.CreateTemp(t.TempDir(), filepath.Base(bin)+"-*.log")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Its own process group, so that Kill reaches children such as kwok.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", bin, err)
	}
	p := &Process{t: t, cmd: cmd, done: make(chan struct{}), Log: logFile.Name()}
	go func() {
		p.err = cmd.Wait()
		_ = logFile.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.Stop(30 * time.Second)
		if t.Failed() {
			t.Logf("last lines of %s:\n%s", p.Log, p.Tail(40))
		}
	})
	return p
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has exited, and its error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Stop sends SIGTERM and waits up to grace, then kills the process group. It returns
// how long the process took to exit after SIGTERM.
func (p *Process) Stop(grace time.Duration) time.Duration {
	start := time.Now()
	select {
	case <-p.done:
		return 0
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		took := time.Since(start)
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL) // leftovers in the group
		return took
	case <-time.After(grace):
		p.Kill()
		return time.Since(start)
	}
}

// Kill sends SIGKILL to the process group (kill -9) and waits for the exit.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

// Tail returns the last n lines of the process's log.
func (p *Process) Tail(n int) string {
	data, _ := os.ReadFile(p.Log)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

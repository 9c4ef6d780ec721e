package hostsim

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// alive reports whether pid is a running kubicle process. The command line check keeps
// a stale pid file (after kill -9 or a reboot) from naming an unrelated process.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && err != syscall.EPERM {
		return false
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return true // no /proc: trust the signal check
	}
	return bytes.Contains(cmdline, []byte("kubicle"))
}

// kubeletPort returns the port kwok's kubelet endpoint used before, so that nodes
// stored with that port in status.daemonEndpoints stay reachable after a restart, or a
// free one the first time.
func kubeletPort(p Paths) (int, error) {
	file := filepath.Join(p.Kwok(), "kubelet-port")
	if data, err := os.ReadFile(file); err == nil {
		if port, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && port > 0 {
			return port, nil
		}
	}
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(p.Kwok(), 0o755); err != nil {
		return 0, err
	}
	if err := os.WriteFile(file, []byte(strconv.Itoa(port)+"\n"), 0o644); err != nil {
		return 0, fmt.Errorf("recording kubelet port: %w", err)
	}
	return port, nil
}

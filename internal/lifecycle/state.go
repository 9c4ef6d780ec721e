package lifecycle

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// StateDir returns kubicle's per-user state directory: $KUBICLE_STATE_DIR,
// else $XDG_STATE_HOME/kubicle, else ~/.local/state/kubicle (the XDG base
// directory spec's place for state).
func StateDir() string {
	if d := os.Getenv("KUBICLE_STATE_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "kubicle")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "kubicle-"+fmt.Sprint(os.Getuid()))
	}
	return filepath.Join(home, ".local", "state", "kubicle")
}

// Paths are the files of one virtual cluster's local state; see the package
// documentation.
type Paths struct{ dir string }

// PathsFor returns the local state of virtual cluster name in host namespace
// hostNamespace of host context hostContext, under stateDir.
func PathsFor(stateDir, hostContext, hostNamespace, name string) Paths {
	return Paths{filepath.Join(stateDir, "vclusters", PathComponent(hostContext), hostNamespace, name)}
}

// Dir is the virtual cluster's state directory.
func (p Paths) Dir() string { return p.dir }

// Data is the control plane's data directory.
func (p Paths) Data() string { return filepath.Join(p.dir, "data") }

// AdminKubeconfig is the admin kubeconfig the control plane writes.
func (p Paths) AdminKubeconfig() string { return filepath.Join(p.Data(), "kubeconfig") }

// Config is the control plane's config file.
func (p Paths) Config() string { return filepath.Join(p.dir, "config.yaml") }

// HostKubeconfig is the host kubeconfig the control plane uses.
func (p Paths) HostKubeconfig() string { return filepath.Join(p.dir, "host.kubeconfig") }

// Log receives the control plane's output.
func (p Paths) Log() string { return filepath.Join(p.dir, "control-plane.log") }

// PID holds the control plane's process id.
func (p Paths) PID() string { return filepath.Join(p.dir, "control-plane.pid") }

// Info holds [localInfo].
func (p Paths) Info() string { return filepath.Join(p.dir, "cluster.json") }

// localPaths returns the local state of a recorded process-driven virtual
// cluster: under this host context, or where the record says when it was
// created on this machine through another context name.
func localPaths(h *Host, rec *record) Paths {
	paths := PathsFor(StateDir(), h.Context, rec.VC.Namespace, rec.VC.Name)
	if !paths.Exists() && rec.StateDir != "" && rec.Machine == machineName() && filepath.IsAbs(rec.StateDir) {
		return Paths{rec.StateDir}
	}
	return paths
}

// lockFile serialises kubicle commands on one virtual cluster. It sits
// beside the state directory, so that deleting the directory does not
// delete a lock someone holds.
func (p Paths) lockFile() string { return p.dir + ".lock" }

// Exists reports whether the state directory exists.
func (p Paths) Exists() bool {
	_, err := os.Stat(p.dir)
	return err == nil
}

// PathComponent turns a kubeconfig context name into one safe path
// component: letters, digits, '.', '_' and '-' are kept; anything else
// (the '/' and ':' of cloud providers' context names) becomes '_', and a
// short hash of the original keeps different names apart.
func PathComponent(s string) string {
	safe := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			return r
		}
		return '_'
	}, s)
	if safe == s && s != "." && s != ".." && s != "" {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	return safe + "-" + hex.EncodeToString(sum[:4])
}

// localInfo is what kubicle keeps about a process-driven virtual cluster
// beside its data, for later commands on the same machine.
type localInfo struct {
	// Name and Namespace identify the virtual cluster.
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
	// HostContext and HostServer say which host it belongs to.
	HostContext string `json:"hostContext"`
	HostServer  string `json:"hostServer"`
	// ConfigHash covers everything the control plane is started with; a
	// change means a restart on `create --upgrade`.
	ConfigHash string `json:"configHash"`
	// TokenExpires is when the host token in host.kubeconfig expires.
	TokenExpires time.Time `json:"tokenExpires,omitzero"`
	// Created is when the virtual cluster was created.
	Created time.Time `json:"created"`
}

func readInfo(p Paths) (*localInfo, error) {
	data, err := os.ReadFile(p.Info())
	if err != nil {
		return nil, err
	}
	info := &localInfo{}
	if err := json.Unmarshal(data, info); err != nil {
		return nil, fmt.Errorf("reading %s: %w", p.Info(), err)
	}
	return info, nil
}

func writeInfo(p Paths, info *localInfo) error {
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(p.Info(), append(data, '\n'), 0o600)
}

// writeFileAtomic writes data to path through a temporary file and a rename.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func readFile(path string) ([]byte, error) { return os.ReadFile(path) }

// lock takes the exclusive lock of the virtual cluster's local state and
// returns its release. It waits for another kubicle command on the same
// cluster to finish, saying so on progress.
func (p Paths) lock(progress *progress) (func(), error) {
	if err := os.MkdirAll(filepath.Dir(p.dir), 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	f, err := os.OpenFile(p.lockFile(), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", p.dir, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", p.dir, err)
		}
		progress.step("Waiting for another kubicle command on this virtual cluster to finish")
		if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", p.dir, err)
		}
	}
	return func() {
		_ = f.Close()
		if !p.Exists() {
			// Nothing to guard any more (a failed create, a pod-driven
			// cluster, a delete): leave no lock file or empty directories.
			_ = p.remove()
		}
	}, nil
}

// remove deletes the local state and its lock file, and the host context
// and namespace directories above it when they are left empty.
func (p Paths) remove() error {
	if err := os.RemoveAll(p.dir); err != nil {
		return fmt.Errorf("removing local state %s: %w", p.dir, err)
	}
	_ = os.Remove(p.lockFile())
	ns := filepath.Dir(p.dir)
	_ = os.Remove(ns) // only when empty
	_ = os.Remove(filepath.Dir(ns))
	_ = os.Remove(filepath.Dir(filepath.Dir(ns)))
	return nil
}

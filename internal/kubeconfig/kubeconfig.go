// Package kubeconfig writes kubeconfig files for kubicle's clusters and merges their
// contexts into a user's kubeconfig the way kind does: one cluster, user and context
// entry per cluster, written atomically, other entries left as they were.
package kubeconfig

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Credentials describe how to reach one cluster as one user.
type Credentials struct {
	// Server is the API server's URL, e.g. https://127.0.0.1:6443.
	Server string
	// CAData is the PEM CA that signed the serving certificate.
	CAData []byte
	// CertData and KeyData are the PEM client certificate and key.
	CertData, KeyData []byte
	// Token is a bearer token, used when no client certificate is given.
	Token string
	// TLSServerName is the name the serving certificate is checked against, when
	// the server is reached at an address the certificate does not name.
	TLSServerName string
}

// New returns a kubeconfig whose cluster, user and context all carry name and whose
// current context is that context.
func New(name string, c Credentials) *clientcmdapi.Config {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthorityData: c.CAData, TLSServerName: c.TLSServerName}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: c.CertData, ClientKeyData: c.KeyData, Token: c.Token}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	cfg.CurrentContext = name
	return cfg
}

// WriteFile writes cfg to path with mode 0600, atomically.
func WriteFile(path string, cfg *clientcmdapi.Config) error {
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encoding kubeconfig: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	tmp := fmt.Sprintf("%s.tmp-%d", path, os.Getpid())
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}

// DefaultPath is the kubeconfig file a user's kubectl writes to: the first entry of
// $KUBECONFIG, else ~/.kube/config.
func DefaultPath() string {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if p := rules.GetDefaultFilename(); p != "" {
		return p
	}
	return clientcmd.RecommendedHomeFile
}

// Merge copies the named context of src (with its cluster and user) into the kubeconfig
// file at path, creating the file when absent. With setCurrent the context becomes the
// current one. Other entries in the file are kept.
func Merge(path string, src *clientcmdapi.Config, name string, setCurrent bool) error {
	return edit(path, func(cfg *clientcmdapi.Config) error {
		ctx, ok := src.Contexts[name]
		if !ok {
			return fmt.Errorf("kubeconfig has no context %q", name)
		}
		cfg.Clusters[name] = src.Clusters[ctx.Cluster].DeepCopy()
		cfg.AuthInfos[name] = src.AuthInfos[ctx.AuthInfo].DeepCopy()
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: ctx.Namespace}
		if setCurrent || cfg.CurrentContext == "" {
			cfg.CurrentContext = name
		}
		return nil
	})
}

// Remove deletes the context name (and the cluster and user of the same name) from the
// kubeconfig at path. A missing file or entry is not an error. When the removed context
// was current, no context is current afterwards, as with kind.
func Remove(path, name string) error {
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return edit(path, func(cfg *clientcmdapi.Config) error {
		delete(cfg.Contexts, name)
		delete(cfg.Clusters, name)
		delete(cfg.AuthInfos, name)
		if cfg.CurrentContext == name {
			cfg.CurrentContext = ""
		}
		return nil
	})
}

// UseContext makes context name current in the kubeconfig at path when it is defined
// there, and reports whether it was.
func UseContext(path, name string) (bool, error) {
	found := false
	err := edit(path, func(cfg *clientcmdapi.Config) error {
		if _, ok := cfg.Contexts[name]; ok {
			cfg.CurrentContext, found = name, true
		}
		return nil
	})
	return found, err
}

// lockWait bounds how long an edit waits for another writer's lock file.
const lockWait = 10 * time.Second

// edit loads the file at path (or starts empty), applies fn and writes it back. It
// holds the lock kubectl and client-go use for the same file (PATH.lock, created
// exclusively and removed afterwards), so concurrent kubicle and kubectl commands do
// not lose each other's entries.
func edit(path string, fn func(*clientcmdapi.Config) error) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("updating kubeconfig %s: %w", path, err)
	}
	lockPath := path + ".lock"
	deadline := time.Now().Add(lockWait)
	for {
		f, err := os.OpenFile(lockPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
		if err == nil {
			_ = f.Close()
			break
		}
		if !errors.Is(err, os.ErrExist) {
			return fmt.Errorf("locking kubeconfig %s: %w", path, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("kubeconfig %s is locked by another writer (%s exists for over %s); remove it if no kubectl or kubicle is running", path, lockPath, lockWait)
		}
		time.Sleep(50 * time.Millisecond)
	}
	defer os.Remove(lockPath)
	cfg := clientcmdapi.NewConfig()
	if data, err := os.ReadFile(path); err == nil {
		if cfg, err = clientcmd.Load(data); err != nil {
			return fmt.Errorf("reading kubeconfig %s: %w", path, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("reading kubeconfig %s: %w", path, err)
	}
	if err := fn(cfg); err != nil {
		return err
	}
	return WriteFile(path, cfg)
}

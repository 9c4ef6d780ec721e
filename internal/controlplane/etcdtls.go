package controlplane

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// Keys of the Secret that spec.controlPlane.backingStore.externalEtcd.tlsSecretRef
// names: a kubernetes.io/tls Secret with the CA bundle next to the pair.
const (
	etcdTLSCAKey   = "ca.crt"
	etcdTLSCertKey = "tls.crt"
	etcdTLSKeyKey  = "tls.key"
)

// fetchEtcdTLS reads the Secret that spec.controlPlane.backingStore.externalEtcd.
// tlsSecretRef names from the host namespace, writes its files under the data
// directory (etcd-tls/, private) and points the external etcd's TLS options at
// them. It does nothing when the store is not an external etcd, the config names no
// Secret, or the TLS files were given as flags (which win). Both drivers come
// through here: a process reads the Secret with its host kubeconfig, a pod with its
// in-cluster credentials, whose Role grants get on that one Secret.
func (c *CompletedOptions) fetchEtcdTLS(ctx context.Context) error {
	vc := c.VirtualCluster
	if c.storeType() != StoreExternalEtcd || vc == nil || vc.Spec.ControlPlane.BackingStore.ExternalEtcd == nil {
		return nil
	}
	ref := vc.Spec.ControlPlane.BackingStore.ExternalEtcd.TLSSecretRef
	if ref == nil || c.EtcdCAFile != "" || c.EtcdCertFile != "" || c.EtcdKeyFile != "" {
		return nil
	}
	what := fmt.Sprintf("spec.controlPlane.backingStore.externalEtcd.tlsSecretRef: Secret %s/%s", c.HostNamespace, ref.Name)
	if c.HostNamespace == "" {
		return fmt.Errorf("%s: the control plane has no host to read it from (give --host-kubeconfig, or the TLS files as --etcd-cafile, --etcd-certfile and --etcd-keyfile)", what)
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", c.HostKubeconfig)
	if err != nil {
		return fmt.Errorf("%s: host credentials: %w", what, err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	secret, err := client.CoreV1().Secrets(c.HostNamespace).Get(rctx, ref.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return fmt.Errorf("%s does not exist: create it with keys %s, %s and %s", what, etcdTLSCAKey, etcdTLSCertKey, etcdTLSKeyKey)
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	}
	dir := c.path("etcd-tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	files := map[string]*string{etcdTLSCAKey: &c.EtcdCAFile, etcdTLSCertKey: &c.EtcdCertFile, etcdTLSKeyKey: &c.EtcdKeyFile}
	for _, key := range []string{etcdTLSCAKey, etcdTLSCertKey, etcdTLSKeyKey} {
		data, ok := secret.Data[key]
		if !ok || len(data) == 0 {
			return fmt.Errorf("%s has no key %s (it needs %s, %s and %s)", what, key, etcdTLSCAKey, etcdTLSCertKey, etcdTLSKeyKey)
		}
		path := filepath.Join(dir, key)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return fmt.Errorf("%s: writing %s: %w", what, path, err)
		}
		*files[key] = path
	}
	return nil
}

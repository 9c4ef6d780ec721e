package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"kubicle.dev/kubicle/internal/controlplane/pki"
	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/kubeconfig"
	"kubicle.dev/kubicle/internal/syncer/translate"
)

// copyPKI copies the certificates and keys of dir (a mounted Secret: its entries
// are links into a hidden ..data directory) into the data directory's pki, so that
// every replica serves with the same CA and the files stay writable for renewal.
func copyPKI(dir, dst string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("reading --pki-dir %s: %w", dir, err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return err
	}
	n := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) || strings.Contains(err.Error(), "is a directory") {
				continue
			}
			return fmt.Errorf("reading %s: %w", filepath.Join(dir, e.Name()), err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", filepath.Join(dst, e.Name()), err)
		}
		n++
	}
	if n == 0 {
		return fmt.Errorf("--pki-dir %s holds no files", dir)
	}
	return nil
}

// exportKubeConfig writes the Secret that spec.exportKubeConfig asks for, once the
// virtual cluster is usable, for a control plane that runs in a pod of the host
// (driver "pod"): only this process holds the admin credentials then. The server is
// spec.exportKubeConfig.server, or the control plane's host Service. It retries
// until it succeeds or ctx ends.
func (s *Server) exportKubeConfig(ctx context.Context, b *pki.Bundle) {
	o := s.opts
	vc := o.VirtualCluster
	if vc == nil || !InCluster() || o.HostKubeconfig != "" {
		return
	}
	logger := klog.FromContext(ctx)
	e := vc.Spec.ExportKubeConfig
	server := e.Server
	if server == "" {
		r := deploy.RefOf(vc)
		server = fmt.Sprintf("https://%s.%s.svc:%d", r.ServiceName(), r.Namespace, deploy.ServicePort)
	}
	cert, key, err := b.Admin.Read()
	if err != nil {
		logger.Error(err, "Exporting the kubeconfig: reading the admin credentials")
		return
	}
	cfg := kubeconfig.New(e.Context, kubeconfig.Credentials{Server: server, CAData: b.CA.CertPEM(), CertData: cert, KeyData: key})
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		logger.Error(err, "Exporting the kubeconfig: encoding it")
		return
	}
	secret := deploy.KubeConfigSecret(vc, data)
	if secret == nil {
		return
	}
	hostCfg, err := clientcmd.BuildConfigFromFlags("", "")
	if err != nil {
		logger.Error(err, "Exporting the kubeconfig: host credentials")
		return
	}
	host, err := kubernetes.NewForConfig(hostCfg)
	if err != nil {
		logger.Error(err, "Exporting the kubeconfig: host client")
		return
	}
	for {
		if err := s.usable.ready(ctx); err == nil {
			err = writeSecret(ctx, host, secret.Namespace, secret.Name, func(existing *metav1.ObjectMeta) error {
				return ownedByVirtualCluster(existing, secret.Labels)
			}, secret)
			if err == nil {
				logger.Info("Wrote the exported kubeconfig", "secret", secret.Namespace+"/"+secret.Name, "server", server)
				return
			}
			logger.Error(err, "Exporting the kubeconfig; retrying")
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
	}
}

// ownedByVirtualCluster refuses to overwrite a Secret that kubicle did not write for
// this virtual cluster: one of the user's Secrets may have the configured name.
func ownedByVirtualCluster(meta *metav1.ObjectMeta, want map[string]string) error {
	for _, k := range []string{translate.KeyVCluster, translate.LabelManagedBy, deploy.LabelHostNamespace} {
		if meta.Labels[k] != want[k] {
			return fmt.Errorf("Secret %s/%s exists and was not written by kubicle for this virtual cluster (label %s=%q); refusing to overwrite it",
				meta.Namespace, meta.Name, k, meta.Labels[k])
		}
	}
	return nil
}

// writeSecret creates secret, or updates the existing one after check accepts it.
func writeSecret(ctx context.Context, host kubernetes.Interface, ns, name string, check func(*metav1.ObjectMeta) error, secret *corev1.Secret) error {
	rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	existing, err := host.CoreV1().Secrets(ns).Get(rctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = host.CoreV1().Secrets(ns).Create(rctx, secret, metav1.CreateOptions{})
		return err
	case err != nil:
		return err
	}
	if err := check(&existing.ObjectMeta); err != nil {
		return err
	}
	updated := existing.DeepCopy()
	updated.Labels, updated.Data = secret.Labels, secret.Data
	_, err = host.CoreV1().Secrets(ns).Update(rctx, updated, metav1.UpdateOptions{})
	return err
}

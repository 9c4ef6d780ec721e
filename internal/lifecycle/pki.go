package lifecycle

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/internal/controlplane/pki"
	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// generatePKI writes the trust roots that the replicas of a pod-driven
// control plane share into dir, with the file names deploy.RenderOptions.PKI
// expects: ca.crt/.key, front-proxy-ca.crt/.key, sa.key/.pub.
func generatePKI(dir string) error {
	if _, err := pki.EnsureCA(dir, "ca", "kubicle-ca"); err != nil {
		return err
	}
	if _, err := pki.EnsureCA(dir, "front-proxy-ca", "kubicle-front-proxy-ca"); err != nil {
		return err
	}
	_, err := pki.EnsureKey(dir, "sa")
	return err
}

// podPKI returns the shared PKI that a pod-driven control plane needs when
// its replicas share a store (replicas > 1, or a store outside the pod): the
// one already on the host, else a new one. Nil when the control plane may
// generate its own.
func podPKI(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster) (map[string][]byte, error) {
	cp := &vc.Spec.ControlPlane
	bs := cp.BackingStore.Type
	if (cp.Replicas == nil || *cp.Replicas <= 1) && bs != v1alpha1.BackingStoreDatabase && bs != v1alpha1.BackingStoreExternalEtcd {
		return nil, nil
	}
	r := deploy.RefOf(vc)
	s, err := h.Client.CoreV1().Secrets(r.Namespace).Get(ctx, r.PKISecretName(), metav1.GetOptions{})
	switch {
	case err == nil && belongsTo(s.Labels, r, true):
		return s.Data, nil
	case err == nil:
		return nil, fmt.Errorf("Secret %s/%s exists and does not belong to virtual cluster %s", r.Namespace, r.PKISecretName(), r)
	case !apierrors.IsNotFound(err):
		return nil, fmt.Errorf("reading Secret %s/%s: %w", r.Namespace, r.PKISecretName(), err)
	}
	dir, err := os.MkdirTemp("", "kubicle-pki-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := generatePKI(dir); err != nil {
		return nil, fmt.Errorf("generating the control plane's PKI: %w", err)
	}
	files := map[string][]byte{}
	for _, f := range []string{"ca.crt", "ca.key", "front-proxy-ca.crt", "front-proxy-ca.key", "sa.key", "sa.pub"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return nil, fmt.Errorf("generating the control plane's PKI: %w", err)
		}
		files[f] = data
	}
	return files, nil
}

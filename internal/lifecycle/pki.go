package lifecycle

import (
	"kubicle.dev/kubicle/internal/controlplane/pki"
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

package controlplane

import "kubicle.dev/kubicle/internal/controlplane/pki"

// nil2bundle is a bundle with file names only, enough to render flags.
func nil2bundle() *pki.Bundle {
	pair := pki.Pair{CertFile: "x.crt", KeyFile: "x.key"}
	ca := &pki.CA{CertFile: "ca.crt", KeyFile: "ca.key"}
	return &pki.Bundle{CA: ca, FrontProxyCA: ca, Serving: pair, Admin: pair, ControllerManager: pair,
		Scheduler: pair, APIServerKubeletClient: pair, FrontProxyClient: pair, ServiceAccount: pair, KubeletServing: pair}
}

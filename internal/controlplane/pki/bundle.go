package pki

import (
	"fmt"
	"net"
	"os"
	"slices"
)

// Bundle is the set of credentials one control plane uses, all under one directory.
type Bundle struct {
	// Dir holds every file of the bundle.
	Dir string
	// CA signs the serving certificate and every client certificate; clients trust it.
	CA *CA
	// FrontProxyCA signs the client certificate the API server presents to aggregated
	// API servers (the requestheader CA).
	FrontProxyCA *CA
	// Serving is the API server's serving certificate.
	Serving Pair
	// KubeletServing is the serving certificate of simulated kubelets (kwok) on a host.
	KubeletServing Pair
	// Admin is a client certificate in group system:masters.
	Admin Pair
	// ControllerManager is the client certificate of kube-controller-manager.
	ControllerManager Pair
	// Scheduler is the client certificate of kube-scheduler.
	Scheduler Pair
	// APIServerKubeletClient is the API server's client certificate towards kubelets.
	APIServerKubeletClient Pair
	// FrontProxyClient is the API server's client certificate towards aggregated APIs.
	FrontProxyClient Pair
	// ServiceAccount is the token signing key (KeyFile) and its public key (CertFile).
	ServiceAccount Pair
}

// APIServerKubeletClientName is the CN of the API server's client certificate towards
// kubelets; a kubelet endpoint accepts only that name.
const APIServerKubeletClientName = "kube-apiserver-kubelet-client"

// BundleOptions says what the serving certificate must cover.
type BundleOptions struct {
	// Hosts are extra DNS names or IP addresses for the serving certificate, beside
	// the ones every control plane gets (localhost, 127.0.0.1, ::1, kubernetes,
	// kubernetes.default, kubernetes.default.svc, kubernetes.default.svc.cluster.local).
	Hosts []string
	// ServiceIP is the first address of the service range (the kubernetes Service).
	ServiceIP net.IP
}

// DefaultDNSNames are the names every serving certificate carries.
var DefaultDNSNames = []string{
	"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
	"kubernetes.default.svc.cluster.local",
}

// EnsureBundle creates what is missing in dir and reuses what is there.
func EnsureBundle(dir string, opts BundleOptions) (*Bundle, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating PKI directory: %w", err)
	}
	b := &Bundle{Dir: dir}
	var err error
	if b.CA, err = EnsureCA(dir, "ca", "kubicle-ca"); err != nil {
		return nil, err
	}
	if b.FrontProxyCA, err = EnsureCA(dir, "front-proxy-ca", "kubicle-front-proxy-ca"); err != nil {
		return nil, err
	}
	dns := slices.Clone(DefaultDNSNames)
	ips := []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	if opts.ServiceIP != nil {
		ips = append(ips, opts.ServiceIP)
	}
	for _, h := range opts.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
		} else if h != "" && !slices.Contains(dns, h) {
			dns = append(dns, h)
		}
	}
	steps := []struct {
		ca   *CA
		out  *Pair
		leaf Leaf
	}{
		{b.CA, &b.Serving, Leaf{Name: "apiserver", CommonName: "kube-apiserver", DNSNames: dns, IPs: ips, Server: true}},
		{b.CA, &b.KubeletServing, Leaf{Name: "kubelet-serving", CommonName: "kubicle-kubelet", DNSNames: []string{"localhost"}, IPs: ips, Server: true}},
		{b.CA, &b.Admin, Leaf{Name: "admin", CommonName: "kubicle-admin", Organizations: []string{"system:masters"}}},
		{b.CA, &b.ControllerManager, Leaf{Name: "controller-manager", CommonName: "system:kube-controller-manager"}},
		{b.CA, &b.Scheduler, Leaf{Name: "scheduler", CommonName: "system:kube-scheduler"}},
		{b.CA, &b.APIServerKubeletClient, Leaf{Name: "apiserver-kubelet-client", CommonName: APIServerKubeletClientName, Organizations: []string{"system:masters"}}},
		{b.FrontProxyCA, &b.FrontProxyClient, Leaf{Name: "front-proxy-client", CommonName: "front-proxy-client"}},
	}
	for _, s := range steps {
		if *s.out, err = s.ca.Ensure(dir, s.leaf); err != nil {
			return nil, err
		}
	}
	if b.ServiceAccount, err = EnsureKey(dir, "sa"); err != nil {
		return nil, err
	}
	return b, nil
}

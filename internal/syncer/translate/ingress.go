package translate

import (
	"errors"
	"fmt"

	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Ingress returns the host Ingress for a virtual Ingress: [HostName] in DNSSubdomain
// form, the markers, and every reference translated: backend Services to their host
// Services ([HostName] in DNSLabel form, as [Service] names them) and TLS Secrets to
// their host copies. The ingress class is kept: classes come from the host. Resource
// backends (an arbitrary API object) are refused, since the host cannot resolve a
// virtual object.
func Ingress(virtual *networkingv1.Ingress, t Target) (*networkingv1.Ingress, error) {
	if virtual == nil {
		return nil, errors.New("translating ingress: nil ingress")
	}
	if err := t.check("ingress", virtual); err != nil {
		return nil, err
	}
	host := &networkingv1.Ingress{
		TypeMeta:   metav1.TypeMeta{APIVersion: "networking.k8s.io/v1", Kind: "Ingress"},
		ObjectMeta: t.hostMeta(virtual, DNSSubdomain),
	}
	spec := virtual.Spec.DeepCopy()
	var errs field.ErrorList
	backend := func(b *networkingv1.IngressBackend, p *field.Path) {
		if b == nil {
			return
		}
		if b.Resource != nil {
			errs = append(errs, field.Forbidden(p.Child("resource"), "resource backends cannot be synced to the host; use a service backend"))
			return
		}
		if b.Service != nil {
			b.Service.Name = HostName(t.VCluster, virtual.Namespace, b.Service.Name, DNSLabel)
		}
	}
	backend(spec.DefaultBackend, field.NewPath("spec", "defaultBackend"))
	for i := range spec.Rules {
		if spec.Rules[i].HTTP == nil {
			continue
		}
		for j := range spec.Rules[i].HTTP.Paths {
			backend(&spec.Rules[i].HTTP.Paths[j].Backend, field.NewPath("spec", "rules").Index(i).Child("http", "paths").Index(j).Child("backend"))
		}
	}
	for i := range spec.TLS {
		if spec.TLS[i].SecretName != "" {
			spec.TLS[i].SecretName = HostName(t.VCluster, virtual.Namespace, spec.TLS[i].SecretName, DNSSubdomain)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("translating ingress %s/%s: %w", virtual.Namespace, virtual.Name, errs.ToAggregate())
	}
	host.Spec = *spec
	return host, nil
}

// IngressSecrets returns the names of the virtual Secrets an Ingress references (TLS).
func IngressSecrets(virtual *networkingv1.Ingress) []string {
	var out []string
	for _, tls := range virtual.Spec.TLS {
		if tls.SecretName != "" {
			out = append(out, tls.SecretName)
		}
	}
	return out
}

// VirtualIngressStatus is the status a virtual Ingress shows: the host's load
// balancer addresses.
func VirtualIngressStatus(host *networkingv1.Ingress) networkingv1.IngressStatus {
	return *host.Status.DeepCopy()
}

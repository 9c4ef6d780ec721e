package translate

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestIngress(t *testing.T) {
	t.Parallel()
	target := Target{VCluster: "a", HostNamespace: "vc-a"}
	class := "nginx"
	virtual := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u1", Labels: map[string]string{"app": "web"}},
		Spec: networkingv1.IngressSpec{
			IngressClassName: &class,
			DefaultBackend:   &networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "fallback", Port: networkingv1.ServiceBackendPort{Number: 80}}},
			TLS:              []networkingv1.IngressTLS{{Hosts: []string{"shop.example.com"}, SecretName: "shop-tls"}},
			Rules: []networkingv1.IngressRule{{Host: "shop.example.com", IngressRuleValue: networkingv1.IngressRuleValue{HTTP: &networkingv1.HTTPIngressRuleValue{
				Paths: []networkingv1.HTTPIngressPath{{Path: "/", Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "web", Port: networkingv1.ServiceBackendPort{Name: "http"}}}}},
			}}}},
		},
	}
	host, err := Ingress(virtual, target)
	if err != nil {
		t.Fatal(err)
	}
	if host.Name != "web-x-shop-x-a" || host.Namespace != "vc-a" || host.Labels[KeyVCluster] != "a" || host.Labels["app"] != "web" {
		t.Fatalf("host ingress meta: %s/%s %v", host.Namespace, host.Name, host.Labels)
	}
	if got := host.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name; got != HostName("a", "shop", "web", DNSLabel) {
		t.Errorf("rule backend %q", got)
	}
	if got := host.Spec.DefaultBackend.Service.Name; got != HostName("a", "shop", "fallback", DNSLabel) {
		t.Errorf("default backend %q", got)
	}
	if got := host.Spec.TLS[0].SecretName; got != HostName("a", "shop", "shop-tls", DNSSubdomain) {
		t.Errorf("tls secret %q", got)
	}
	if *host.Spec.IngressClassName != "nginx" || virtual.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name != "web" {
		t.Error("class changed or the virtual ingress was modified")
	}
	if s := IngressSecrets(virtual); len(s) != 1 || s[0] != "shop-tls" {
		t.Errorf("IngressSecrets = %v", s)
	}

	group := "example.com"
	virtual.Spec.DefaultBackend = &networkingv1.IngressBackend{Resource: &corev1.TypedLocalObjectReference{APIGroup: &group, Kind: "Bucket", Name: "b"}}
	if _, err := Ingress(virtual, target); err == nil || !strings.Contains(err.Error(), "spec.defaultBackend.resource") {
		t.Fatalf("resource backend: %v", err)
	}
}

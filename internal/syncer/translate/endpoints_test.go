package translate

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestEndpointSlice(t *testing.T) {
	t.Parallel()
	node := "node-1"
	port, proto := int32(5432), corev1.ProtocolTCP
	virtual := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: "db-1", Namespace: "shop", UID: "u",
			Labels: map[string]string{discoveryv1.LabelServiceName: "db", discoveryv1.LabelManagedBy: "tenant"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Port: &port, Protocol: &proto}},
		Endpoints: []discoveryv1.Endpoint{{Addresses: []string{"192.0.2.10"}, NodeName: &node,
			TargetRef: &corev1.ObjectReference{Kind: "Pod", Name: "x"}}},
	}
	host, err := EndpointSlice(virtual, Target{VCluster: "a", HostNamespace: "vc-a"})
	if err != nil {
		t.Fatal(err)
	}
	if host.Labels[discoveryv1.LabelServiceName] != HostName("a", "shop", "db", DNSLabel) {
		t.Errorf("service-name label %q", host.Labels[discoveryv1.LabelServiceName])
	}
	if host.Labels[discoveryv1.LabelManagedBy] != EndpointSliceManagedBy || host.Labels[KeyVCluster] != "a" {
		t.Errorf("labels %v", host.Labels)
	}
	if len(host.Endpoints) != 1 || host.Endpoints[0].Addresses[0] != "192.0.2.10" || host.Endpoints[0].TargetRef != nil || host.Endpoints[0].NodeName != nil {
		t.Errorf("endpoints %+v", host.Endpoints)
	}
	if virtual.Endpoints[0].NodeName == nil {
		t.Error("the virtual slice was modified")
	}
	delete(virtual.Labels, discoveryv1.LabelServiceName)
	if _, err := EndpointSlice(virtual, Target{VCluster: "a", HostNamespace: "vc-a"}); err == nil {
		t.Error("a slice without service-name label was translated")
	}
}

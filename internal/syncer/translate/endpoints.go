package translate

import (
	"errors"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// EndpointSliceManagedBy is the endpointslice.kubernetes.io/managed-by value of the
// host copies of a virtual cluster's manual EndpointSlices: not the EndpointSlice
// controller's own value, so the host controller leaves them alone.
const EndpointSliceManagedBy = "kubicle-syncer"

// EndpointSlice returns the host copy of a virtual EndpointSlice that belongs to a
// Service without selector (whose endpoints the tenant manages): [HostName] in
// DNSSubdomain form, the markers, kubernetes.io/service-name pointing at the host
// Service, and the same addresses and ports. Slices of selector Services need no copy:
// the host computes them from the host pods.
func EndpointSlice(virtual *discoveryv1.EndpointSlice, t Target) (*discoveryv1.EndpointSlice, error) {
	if virtual == nil {
		return nil, errors.New("translating endpointslice: nil endpointslice")
	}
	if err := t.check("endpointslice", virtual); err != nil {
		return nil, err
	}
	service := virtual.Labels[discoveryv1.LabelServiceName]
	if service == "" {
		return nil, errors.New("translating endpointslice: no kubernetes.io/service-name label")
	}
	host := &discoveryv1.EndpointSlice{
		TypeMeta:    metav1.TypeMeta{APIVersion: "discovery.k8s.io/v1", Kind: "EndpointSlice"},
		ObjectMeta:  t.hostMeta(virtual, DNSSubdomain),
		AddressType: virtual.AddressType,
		Ports:       virtual.DeepCopy().Ports,
	}
	host.Labels[discoveryv1.LabelServiceName] = HostName(t.VCluster, virtual.Namespace, service, DNSLabel)
	host.Labels[discoveryv1.LabelManagedBy] = EndpointSliceManagedBy
	for _, e := range virtual.Endpoints {
		e = *e.DeepCopy()
		// Virtual targets and node names mean nothing on the host.
		e.TargetRef = nil
		e.NodeName = nil
		host.Endpoints = append(host.Endpoints, e)
	}
	return host, nil
}

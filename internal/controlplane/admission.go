package controlplane

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apiserver/pkg/admission"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	"k8s.io/kubernetes/pkg/apis/core"
	corev1conv "k8s.io/kubernetes/pkg/apis/core/v1"

	"kubicle.dev/kubicle/internal/syncer"
	"kubicle.dev/kubicle/internal/syncer/translate"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// hostServiceIPPlugin is the name of the admission plugin that gives a new virtual
// Service the ClusterIP of its host Service.
const hostServiceIPPlugin = "KubicleHostServiceIP"

// HostServiceFunc creates the host Service of a virtual Service being created and
// returns the ClusterIPs the host gave it.
type HostServiceFunc func(ctx context.Context, virtual *corev1.Service) ([]string, error)

// serviceIPAdmission is a mutating admission plugin inside the virtual API server: on
// Service creation it asks the syncer to create the host Service first and stores the
// virtual Service with the host's ClusterIP. One hop, no proxy: kubectl keeps talking
// to a real kube-apiserver, and a tenant pod reaches a service at the address the
// virtual cluster shows.
type serviceIPAdmission struct {
	*admission.Handler
	ensure atomic.Pointer[HostServiceFunc]
	check  atomic.Pointer[ServiceCheckFunc]
}

// ServiceCheckFunc applies the isolation policy to a virtual Service being
// changed; a refusal is a *syncer.PolicyError.
type ServiceCheckFunc func(virtual *corev1.Service) error

func newServiceIPAdmission() *serviceIPAdmission {
	return &serviceIPAdmission{Handler: admission.NewHandler(admission.Create, admission.Update)}
}

var _ admission.MutationInterface = &serviceIPAdmission{}

// Admit sets the ClusterIPs of a Service being created to its host Service's.
func (p *serviceIPAdmission) Admit(ctx context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != core.Resource("services") || a.GetSubresource() != "" {
		return nil
	}
	svc, ok := a.GetObject().(*core.Service)
	if !ok || a.GetName() == "" || a.IsDryRun() {
		// A generated name is not known yet: the syncer creates the host Service
		// later and reports a ClusterIPMismatch event on the virtual one.
		return nil
	}
	if svc.Spec.Type == core.ServiceTypeExternalName {
		return nil
	}
	if a.GetNamespace() == "default" && a.GetName() == "kubernetes" {
		return nil // the API server's own Service: never synced, keeps its virtual address
	}
	if a.GetOperation() == admission.Update {
		return p.admitUpdate(a, svc)
	}
	// Right after start the syncer may not be built yet: wait a little rather than
	// fail a client that creates a Service as soon as /readyz says ok.
	fn := p.ensure.Load()
	for deadline := time.Now().Add(30 * time.Second); fn == nil; fn = p.ensure.Load() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return apierrors.NewServiceUnavailable("the virtual cluster's syncer is still starting; retry in a few seconds")
		}
		time.Sleep(50 * time.Millisecond)
	}
	v1svc := &corev1.Service{}
	if err := corev1conv.Convert_core_Service_To_v1_Service(svc, v1svc, nil); err != nil {
		return apierrors.NewInternalError(err)
	}
	v1svc.Namespace, v1svc.Name = a.GetNamespace(), a.GetName()
	ips, err := (*fn)(ctx, v1svc)
	var refused *syncer.PolicyError
	if errors.As(err, &refused) {
		return apierrors.NewForbidden(core.Resource("services"), a.GetName(), refused)
	}
	if err != nil {
		return apierrors.NewServiceUnavailable(fmt.Sprintf("kubicle: allocating the service's address on the host: %v", err))
	}
	if len(ips) > 0 {
		if svc.Spec.ClusterIP != "" && svc.Spec.ClusterIP != ips[0] {
			return apierrors.NewBadRequest(fmt.Sprintf("spec.clusterIP %s cannot be chosen in a virtual cluster: services get the address the host allocates (%s)", svc.Spec.ClusterIP, ips[0]))
		}
		svc.Spec.ClusterIP = ips[0]
		svc.Spec.ClusterIPs = ips
	}
	return nil
}

// admitUpdate refuses a change that the isolation policy does not allow (a type
// or external IPs). The ClusterIP is immutable, so nothing else is needed.
func (p *serviceIPAdmission) admitUpdate(a admission.Attributes, svc *core.Service) error {
	fn := p.check.Load()
	if fn == nil {
		return nil // no syncer yet: the service reconciler applies the policy when it starts
	}
	v1svc := &corev1.Service{}
	if err := corev1conv.Convert_core_Service_To_v1_Service(svc, v1svc, nil); err != nil {
		return apierrors.NewInternalError(err)
	}
	v1svc.Namespace, v1svc.Name = a.GetNamespace(), a.GetName()
	var refused *syncer.PolicyError
	if err := (*fn)(v1svc); errors.As(err, &refused) {
		return apierrors.NewForbidden(core.Resource("services"), a.GetName(), refused)
	}
	return nil
}

// plugin is one of kubicle's admission plugins, registered in process.
type plugin struct {
	name string
	admission.Interface
}

// registerPlugins adds plugins to the API server's options and enables them.
func registerPlugins(s *apiserveroptions.ServerRunOptions, plugins []plugin) error {
	if len(plugins) == 0 {
		return nil
	}
	if s.Admission == nil || s.Admission.GenericAdmission == nil {
		return errors.New("admission options missing")
	}
	for _, p := range plugins {
		s.Admission.GenericAdmission.Plugins.Register(p.name, func(io.Reader) (admission.Interface, error) { return p.Interface, nil })
		if !slices.Contains(s.Admission.GenericAdmission.RecommendedPluginOrder, p.name) {
			s.Admission.GenericAdmission.RecommendedPluginOrder = append(s.Admission.GenericAdmission.RecommendedPluginOrder, p.name)
		}
		s.Admission.GenericAdmission.EnablePlugins = append(s.Admission.GenericAdmission.EnablePlugins, p.name)
	}
	return nil
}

// podSecurityPlugin is the name of the admission plugin that refuses a pod
// against the virtual cluster's spec.isolation.podSecurityStandard.
const podSecurityPlugin = "KubiclePodSecurity"

// podSecurityAdmission is a validating admission plugin inside the virtual API
// server: a pod, or an ephemeral container added to one (kubectl debug), that the
// tenant's Pod Security Standard refuses is refused at once, in the words the
// syncer would use, whatever the virtual namespace's own pod-security labels say
// (the tenant is admin of its namespaces; the standard is the platform's).
type podSecurityAdmission struct {
	*admission.Handler
	standard v1alpha1.PodSecurityStandard
}

var _ admission.ValidationInterface = &podSecurityAdmission{}

// Validate refuses a pod that breaks the standard.
func (p *podSecurityAdmission) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != core.Resource("pods") || a.IsDryRun() {
		return nil
	}
	switch {
	case a.GetOperation() == admission.Create && a.GetSubresource() == "":
	case a.GetOperation() == admission.Update && a.GetSubresource() == "ephemeralcontainers":
	default:
		return nil
	}
	v1pod, err := admittedPod(a)
	if v1pod == nil || err != nil {
		return err
	}
	why, err := syncer.PodSecurityViolation(p.standard, v1pod)
	if err != nil {
		return apierrors.NewInternalError(err)
	}
	if why != "" {
		return apierrors.NewForbidden(core.Resource("pods"), a.GetName(), errors.New(why))
	}
	return nil
}

// podPlacementPlugin is the name of the admission plugin that refuses a pod
// whose tolerations or node selector leave the nodes the virtual cluster may
// use (spec.isolation.nodeSelector, tolerations, allowedTolerations).
const podPlacementPlugin = "KubiclePodPlacement"

// podPlacementAdmission is a validating admission plugin inside the virtual API
// server: a pod created or changed with a toleration the platform did not grant
// (of nvidia.com/gpu, say, on a host that reserves its GPU nodes) or a node
// selector outside the tenant's pool is refused at once, in the words the syncer
// would use. A pod's spec.nodeName is judged by the syncer, which knows the host's
// nodes.
type podPlacementAdmission struct {
	*admission.Handler
	policy translate.PlacementPolicy
}

var _ admission.ValidationInterface = &podPlacementAdmission{}

// Validate refuses a pod that leaves the tenant's nodes.
func (p *podPlacementAdmission) Validate(_ context.Context, a admission.Attributes, _ admission.ObjectInterfaces) error {
	if a.GetResource().GroupResource() != core.Resource("pods") || a.GetSubresource() != "" || a.IsDryRun() {
		return nil
	}
	v1pod, err := admittedPod(a)
	if v1pod == nil || err != nil {
		return err
	}
	if errs := translate.CheckPlacement(v1pod, p.policy); len(errs) > 0 {
		return apierrors.NewForbidden(core.Resource("pods"), a.GetName(),
			fmt.Errorf("refused by the virtual cluster's placement: %w", errs.ToAggregate()))
	}
	return nil
}

// admittedPod returns the pod being admitted as a v1 Pod, the form kubicle's
// checks read, or nil when the object is not a pod.
func admittedPod(a admission.Attributes) (*corev1.Pod, error) {
	pod, ok := a.GetObject().(*core.Pod)
	if !ok {
		return nil, nil
	}
	v1pod := &corev1.Pod{}
	if err := corev1conv.Convert_core_Pod_To_v1_Pod(pod, v1pod, nil); err != nil {
		return nil, apierrors.NewInternalError(err)
	}
	return v1pod, nil
}

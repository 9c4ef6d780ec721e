package syncer

import (
	"context"
	"errors"
	"fmt"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
)

// hostKind is one kind the syncer reads and writes on the host, with the setting
// that turns it on. The host RBAC that deploy renders follows the same settings.
type hostKind struct {
	setting  string
	on       bool
	group    string
	resource string
	verbs    []string
	// clusterScoped kinds are read across the cluster (nodes), not in the namespace.
	clusterScoped bool
	setup         func() error
}

var (
	writeVerbs = []string{"get", "list", "watch", "create", "update", "patch", "delete"}
	readVerbs  = []string{"get", "list", "watch"}
)

func on(b *bool) bool { return b != nil && *b }

// kinds lists what the VirtualCluster's sync section turns on.
func (s *Syncer) kinds() []hostKind {
	to, from := s.vc.Spec.Sync.ToHost, s.vc.Spec.Sync.FromHost
	pods := on(to.Pods.Enabled)
	kinds := []hostKind{
		{"sync.toHost.pods", pods, "", "pods", writeVerbs, false, s.setupPods},
		{"sync.toHost.pods", pods, "", "nodes", readVerbs, true, s.setupNodes},
		// Pods need the Secrets they reference and their token Secrets.
		{"sync.toHost.configMaps", on(to.ConfigMaps.Enabled), "", "configmaps", writeVerbs, false, s.setupConfigMaps},
		{"sync.toHost.secrets", on(to.Secrets.Enabled) || pods, "", "secrets", writeVerbs, false, s.setupSecrets},
		{"sync.toHost.services", on(to.Services.Enabled), "", "services", writeVerbs, false, s.setupServices},
		{"sync.toHost.endpoints", on(to.Endpoints.Enabled), "discovery.k8s.io", "endpointslices", writeVerbs, false,
			func() error { return setupObjects(s, endpointSlices) }},
		{"sync.toHost.persistentVolumeClaims", on(to.PersistentVolumeClaims.Enabled), "", "persistentvolumeclaims", writeVerbs, false,
			func() error { return setupObjects(s, persistentVolumeClaims) }},
		{"sync.toHost.ingresses", on(to.Ingresses.Enabled), "networking.k8s.io", "ingresses", writeVerbs, false,
			func() error { return setupObjects(s, ingresses) }},
		{"sync.toHost.networkPolicies", on(to.NetworkPolicies.Enabled), "networking.k8s.io", "networkpolicies", writeVerbs, false,
			func() error { return setupObjects(s, networkPolicies) }},
		{"sync.fromHost.events", on(from.Events.Enabled), "", "events", readVerbs, false, s.setupEvents},
	}
	for _, c := range s.hostClasses() {
		kinds = append(kinds, hostKind{c.setting, on(c.sync.Enabled), c.group, c.resource, readVerbs, true,
			func() error { return s.setupHostClass(c) }})
	}
	return kinds
}

// setup registers the field indexes and the controllers of the enabled kinds, after
// checking that the host credentials allow what those controllers do: a missing
// permission would otherwise leave a cache waiting forever, with nothing synced.
func (s *Syncer) setup() error {
	s.recorder = s.mgr.GetEventRecorderFor("kubicle-syncer")
	if err := s.setupIndexes(context.Background()); err != nil {
		return err
	}
	kinds := s.kinds()
	if err := s.checkHostAccess(kinds); err != nil {
		return err
	}
	done := map[string]bool{}
	for _, k := range kinds {
		if !k.on || done[k.resource] {
			continue
		}
		done[k.resource] = true
		if err := k.setup(); err != nil {
			return err
		}
	}
	return nil
}

// checkHostAccess asks the host (SelfSubjectAccessReview) for every verb the enabled
// kinds need and reports all that are missing, naming the setting that needs them.
func (s *Syncer) checkHostAccess(kinds []hostKind) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, k := range kinds {
		if !k.on {
			continue
		}
		ns := s.cfg.HostNamespace
		if k.clusterScoped {
			ns = ""
		}
		for _, verb := range k.verbs {
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: k.group, Resource: k.resource},
			}}
			if err := s.hostAPI.Create(ctx, review); err != nil {
				return fmt.Errorf("syncer: checking host permissions: %w", err)
			}
			if !review.Status.Allowed {
				where := "in host namespace " + ns
				if k.clusterScoped {
					where = "cluster-wide"
				}
				errs = append(errs, fmt.Errorf("cannot %s %s %s (needed by %s)", verb, k.resource, where, k.setting))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("syncer: the host credentials lack permissions:\n%w", errors.Join(errs...))
	}
	return nil
}

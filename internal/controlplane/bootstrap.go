package controlplane

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/server/healthz"
	"k8s.io/client-go/kubernetes"
	rbacclient "k8s.io/client-go/kubernetes/typed/rbac/v1"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/util/retry"
	"k8s.io/component-helpers/auth/rbac/reconciliation"
	"k8s.io/klog/v2"
	apiserverapp "k8s.io/kubernetes/cmd/kube-apiserver/app"
	apiserveroptions "k8s.io/kubernetes/cmd/kube-apiserver/app/options"
	schedulingapiv1 "k8s.io/kubernetes/pkg/apis/scheduling/v1"
	rbacrest "k8s.io/kubernetes/pkg/registry/rbac/rest"
	schedulingrest "k8s.io/kubernetes/pkg/registry/scheduling/rest"
	"k8s.io/kubernetes/plugin/pkg/auth/authorizer/rbac/bootstrappolicy"
)

// kube-apiserver creates its bootstrap RBAC policy and its system priority classes in
// two post-start hooks that wait a full second before their first attempt
// (wait.Poll), and then reconcile ~130 objects one request at a time. /readyz waits
// for both, so every start of a control plane, fresh or not, spends that second idle
// (docs/benchmarks.md). The control plane disables the two hooks and runs its own in
// their place: the same data (bootstrappolicy, SystemPriorityClasses), the same
// reconciliation (k8s.io/component-helpers), the same retry rules and the same
// 30-second limit, but the first attempt is immediate and objects are reconciled a few
// at a time. The replacements are readiness checks under their own names.
const (
	// rbacBootstrapHook replaces rbacrest.PostStartHookName.
	rbacBootstrapHook = "kubicle/rbac-bootstrap-roles"
	// priorityClassHook replaces schedulingrest.PostStartHookName.
	priorityClassHook = "kubicle/bootstrap-system-priority-classes"

	// bootstrapInterval and bootstrapTimeout are upstream's: a pass that leaves
	// something unreconciled is retried every second for 30 seconds; then the hook
	// fails, which stops the API server.
	bootstrapInterval = time.Second
	bootstrapTimeout  = 30 * time.Second
	// bootstrapWorkers reconcile objects side by side; each request is CPU-bound in
	// this process, so a few keep both cores of a small machine busy.
	bootstrapWorkers = 4
)

// runKubeAPIServer is kube-apiserver's app.Run with the bootstrap hooks replaced and
// the given readiness checks added to /readyz.
func runKubeAPIServer(ctx context.Context, opts apiserveroptions.CompletedOptions, readyz ...healthz.HealthChecker) error {
	if opts.InformerName == nil {
		name, err := cache.NewInformerName("kube-apiserver")
		if err != nil {
			return err
		}
		opts.InformerName = name
	}
	config, err := apiserverapp.NewConfig(opts)
	if err != nil {
		return err
	}
	replaceBootstrapHooks(config.KubeAPIs.ControlPlane.Generic)
	completed, err := config.Complete()
	if err != nil {
		return err
	}
	server, err := apiserverapp.CreateServerChain(completed)
	if err != nil {
		return err
	}
	// The aggregator serves /readyz for the whole chain; readiness-only checks of
	// the servers behind it are not carried up, so they are added here.
	if err := server.GenericAPIServer.AddReadyzChecks(readyz...); err != nil {
		return err
	}
	prepared, err := server.PrepareRun()
	if err != nil {
		return err
	}
	return prepared.Run(ctx)
}

// replaceBootstrapHooks disables upstream's RBAC and priority-class hooks in the
// kube-apiserver's config and adds immediate ones. A hook upstream would not run
// (RBAC not among the authorization modes, which upstream marks by disabling its hook;
// the scheduling API turned off) is not replaced either.
func replaceBootstrapHooks(c *genericapiserver.Config) {
	if !c.DisabledPostStartHooks.Has(rbacrest.PostStartHookName) &&
		c.MergedResourceConfig.ResourceEnabled(rbacv1.SchemeGroupVersion.WithResource("clusterroles")) {
		c.DisabledPostStartHooks.Insert(rbacrest.PostStartHookName)
		c.AddPostStartHookOrDie(rbacBootstrapHook, func(hc genericapiserver.PostStartHookContext) error {
			return bootstrapUntilDone(hc, "roles", func(ctx context.Context, client kubernetes.Interface) error {
				return ensureRBACPolicy(ctx, client, defaultPolicy())
			})
		})
	}
	if !c.DisabledPostStartHooks.Has(schedulingrest.PostStartHookName) &&
		c.MergedResourceConfig.ResourceEnabled(schedulingv1.SchemeGroupVersion.WithResource("priorityclasses")) {
		c.DisabledPostStartHooks.Insert(schedulingrest.PostStartHookName)
		c.AddPostStartHookOrDie(priorityClassHook, func(hc genericapiserver.PostStartHookContext) error {
			return bootstrapUntilDone(hc, "default system priority classes", ensureSystemPriorityClasses)
		})
	}
}

// bootstrapUntilDone runs pass now and then every bootstrapInterval until it returns
// nil, for at most bootstrapTimeout or until the server stops.
func bootstrapUntilDone(hc genericapiserver.PostStartHookContext, what string, pass func(context.Context, kubernetes.Interface) error) error {
	client, err := kubernetes.NewForConfig(hc.LoopbackClientConfig)
	if err != nil {
		return fmt.Errorf("unable to initialize %s: %w", what, err)
	}
	var last error
	err = wait.PollUntilContextTimeout(hc, bootstrapInterval, bootstrapTimeout, true, func(ctx context.Context) (bool, error) {
		if last = pass(ctx, client); last != nil {
			var p permanentError
			if errors.As(last, &p) {
				return false, p.err
			}
			klog.V(2).InfoS("Bootstrap pass incomplete, retrying", "what", what, "err", last)
			return false, nil
		}
		return true, nil
	})
	if err != nil && hc.Err() == nil {
		// A permanent error ends the poll with itself; a timeout says nothing of why.
		if last == nil || errors.Is(last, err) {
			return fmt.Errorf("unable to initialize %s: %w", what, err)
		}
		return fmt.Errorf("unable to initialize %s: %w (last attempt: %v)", what, err, last)
	}
	return nil
}

// permanentError ends bootstrapUntilDone at once: retrying cannot help.
type permanentError struct{ err error }

func (p permanentError) Error() string { return p.err.Error() }
func (p permanentError) Unwrap() error { return p.err }

// policyData is the bootstrap RBAC policy, as upstream's RBAC storage builds it.
type policyData struct {
	clusterRoles        []rbacv1.ClusterRole
	clusterRoleBindings []rbacv1.ClusterRoleBinding
	roles               map[string][]rbacv1.Role
	roleBindings        map[string][]rbacv1.RoleBinding
	// rolesToAggregate maps a role that became aggregated to its new name.
	rolesToAggregate map[string]string
	// bindingsToSplit maps a binding that was split to a template of the new one.
	bindingsToSplit map[string]rbacv1.ClusterRoleBinding
}

// defaultPolicy returns the policy of this Kubernetes version (feature gates apply).
func defaultPolicy() policyData {
	return policyData{
		clusterRoles:        append(bootstrappolicy.ClusterRoles(), bootstrappolicy.ControllerRoles()...),
		clusterRoleBindings: append(bootstrappolicy.ClusterRoleBindings(), bootstrappolicy.ControllerRoleBindings()...),
		roles:               bootstrappolicy.NamespaceRoles(),
		roleBindings:        bootstrappolicy.NamespaceRoleBindings(),
		rolesToAggregate:    bootstrappolicy.ClusterRolesToAggregate(),
		bindingsToSplit:     bootstrappolicy.ClusterRoleBindingsToSplit(),
	}
}

// reconcileTask reconciles one object and says what it did.
type reconcileTask struct {
	kind, name string
	run        func() (op reconciliation.ReconcileOperation, protected bool, err error)
}

// ensureRBACPolicy reconciles every object of p: missing ones are created, ones that
// lack permissions or subjects are updated (unless annotated as protected), as
// upstream's hook does. It returns an error naming what failed after trying all.
func ensureRBACPolicy(ctx context.Context, client kubernetes.Interface, p policyData) error {
	rbac := client.RbacV1()
	// One list per kind and namespace answers the first Get of each object, instead of
	// ~140 requests; listing also shows that the store answers before anything is
	// written (upstream lists for that too).
	clusterRoles, err := rbac.ClusterRoles().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing clusterroles: %w", err)
	}
	clusterRoleBindings, err := rbac.ClusterRoleBindings().List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing clusterrolebindings: %w", err)
	}
	if err := primeAggregatedClusterRoles(ctx, p.rolesToAggregate, rbac); err != nil {
		return fmt.Errorf("priming aggregated clusterroles: %w", err)
	}
	if err := primeSplitClusterRoleBindings(ctx, p.bindingsToSplit, rbac); err != nil {
		return fmt.Errorf("priming split clusterrolebindings: %w", err)
	}
	// Priming may have created objects the lists do not hold; the snapshot must not
	// answer NotFound for them.
	primedRoles, primedBindings := map[string]bool{}, map[string]bool{}
	for _, n := range p.rolesToAggregate {
		primedRoles["/"+n] = true
	}
	for _, b := range p.bindingsToSplit {
		primedBindings["/"+b.Name] = true
	}

	clusterRoleSnap := newSnapshot[reconciliation.RuleOwner](rbacv1.Resource("clusterroles"), primedRoles)
	for i := range clusterRoles.Items {
		clusterRoleSnap.add("", clusterRoles.Items[i].Name, reconciliation.ClusterRoleRuleOwner{ClusterRole: &clusterRoles.Items[i]})
	}
	clusterBindingSnap := newSnapshot[reconciliation.RoleBinding](rbacv1.Resource("clusterrolebindings"), primedBindings)
	for i := range clusterRoleBindings.Items {
		b := &clusterRoleBindings.Items[i]
		clusterBindingSnap.add("", b.Name, reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: b})
	}
	roleSnap := newSnapshot[reconciliation.RuleOwner](rbacv1.Resource("roles"), nil)
	bindingSnap := newSnapshot[reconciliation.RoleBinding](rbacv1.Resource("rolebindings"), nil)
	for ns := range p.roles {
		list, err := rbac.Roles(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing roles in %s: %w", ns, err)
		}
		for i := range list.Items {
			roleSnap.add(ns, list.Items[i].Name, reconciliation.RoleRuleOwner{Role: &list.Items[i]})
		}
	}
	for ns := range p.roleBindings {
		list, err := rbac.RoleBindings(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing rolebindings in %s: %w", ns, err)
		}
		for i := range list.Items {
			bindingSnap.add(ns, list.Items[i].Name, reconciliation.RoleBindingAdapter{RoleBinding: &list.Items[i]})
		}
	}
	namespaces := client.CoreV1().Namespaces()
	clusterRoleClient := cachedRoles{reconciliation.ClusterRoleModifier{Client: rbac.ClusterRoles()}, clusterRoleSnap}
	roleClient := cachedRoles{reconciliation.RoleModifier{Client: rbac, NamespaceClient: namespaces}, roleSnap}
	clusterBindingClient := cachedBindings{reconciliation.ClusterRoleBindingClientAdapter{Client: rbac.ClusterRoleBindings()}, clusterBindingSnap}
	bindingClient := cachedBindings{reconciliation.RoleBindingClientAdapter{Client: rbac, NamespaceClient: namespaces}, bindingSnap}

	var tasks []reconcileTask
	for i := range p.clusterRoles {
		o := reconciliation.ReconcileRoleOptions{
			Role:    reconciliation.ClusterRoleRuleOwner{ClusterRole: &p.clusterRoles[i]},
			Client:  clusterRoleClient,
			Confirm: true,
		}
		tasks = append(tasks, roleTask("clusterrole", p.clusterRoles[i].Name, o))
	}
	for i := range p.clusterRoleBindings {
		o := reconciliation.ReconcileRoleBindingOptions{
			RoleBinding: reconciliation.ClusterRoleBindingAdapter{ClusterRoleBinding: &p.clusterRoleBindings[i]},
			Client:      clusterBindingClient,
			Confirm:     true,
		}
		tasks = append(tasks, bindingTask("clusterrolebinding", p.clusterRoleBindings[i].Name, o))
	}
	for ns, roles := range p.roles {
		for i := range roles {
			o := reconciliation.ReconcileRoleOptions{
				Role:    reconciliation.RoleRuleOwner{Role: &roles[i]},
				Client:  roleClient,
				Confirm: true,
			}
			tasks = append(tasks, roleTask("role", ns+"/"+roles[i].Name, o))
		}
	}
	for ns, bindings := range p.roleBindings {
		for i := range bindings {
			o := reconciliation.ReconcileRoleBindingOptions{
				RoleBinding: reconciliation.RoleBindingAdapter{RoleBinding: &bindings[i]},
				Client:      bindingClient,
				Confirm:     true,
			}
			tasks = append(tasks, bindingTask("rolebinding", ns+"/"+bindings[i].Name, o))
		}
	}
	return runTasks(ctx, tasks, bootstrapWorkers)
}

// snapshot answers the first Get of each object from lists taken at the start of a
// pass (NotFound when the lists did not hold it); every later Get of the same object,
// which reconciliation makes after a conflict or a lost race, goes to the API server.
// Keys are namespace/name; cluster-scoped objects have an empty namespace.
type snapshot[T any] struct {
	gr    schema.GroupResource
	mu    sync.Mutex
	items map[string]T
	// used holds the keys already answered, and keys the lists cannot vouch for.
	used map[string]bool
}

func newSnapshot[T any](gr schema.GroupResource, skip map[string]bool) *snapshot[T] {
	used := maps.Clone(skip)
	if used == nil {
		used = map[string]bool{}
	}
	return &snapshot[T]{gr: gr, items: map[string]T{}, used: used}
}

func (s *snapshot[T]) add(namespace, name string, v T) { s.items[namespace+"/"+name] = v }

// get answers the first Get of namespace/name from the snapshot and every later one
// with live.
func (s *snapshot[T]) get(namespace, name string, live func(namespace, name string) (T, error)) (T, error) {
	key := namespace + "/" + name
	s.mu.Lock()
	used := s.used[key]
	s.used[key] = true
	v, found := s.items[key]
	s.mu.Unlock()
	switch {
	case used:
		return live(namespace, name)
	case found:
		return v, nil
	}
	return v, apierrors.NewNotFound(s.gr, name)
}

// cachedRoles is a role or clusterrole client whose first Get comes from a snapshot.
type cachedRoles struct {
	reconciliation.RuleOwnerModifier
	snap *snapshot[reconciliation.RuleOwner]
}

// Get answers from the snapshot once per object, then from the API server.
func (c cachedRoles) Get(namespace, name string) (reconciliation.RuleOwner, error) {
	return c.snap.get(namespace, name, c.RuleOwnerModifier.Get)
}

// cachedBindings is cachedRoles for role bindings and cluster role bindings.
type cachedBindings struct {
	reconciliation.RoleBindingModifier
	snap *snapshot[reconciliation.RoleBinding]
}

// Get answers from the snapshot once per object, then from the API server.
func (c cachedBindings) Get(namespace, name string) (reconciliation.RoleBinding, error) {
	return c.snap.get(namespace, name, c.RoleBindingModifier.Get)
}

func roleTask(kind, name string, o reconciliation.ReconcileRoleOptions) reconcileTask {
	return reconcileTask{kind: kind, name: name, run: func() (reconciliation.ReconcileOperation, bool, error) {
		r, err := o.Run()
		if err != nil {
			return "", false, err
		}
		return r.Operation, r.Protected, nil
	}}
}

func bindingTask(kind, name string, o reconciliation.ReconcileRoleBindingOptions) reconcileTask {
	return reconcileTask{kind: kind, name: name, run: func() (reconciliation.ReconcileOperation, bool, error) {
		r, err := o.Run()
		if err != nil {
			return "", false, err
		}
		return r.Operation, r.Protected, nil
	}}
}

// runTasks runs tasks on workers goroutines; each task is retried on conflicts and on
// "service unavailable" (the API server answers that while it updates storage
// versions), and a failure does not stop the others. The error names every task that
// failed.
func runTasks(ctx context.Context, tasks []reconcileTask, workers int) error {
	next := make(chan reconcileTask)
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for t := range next {
				err := retry.OnError(retry.DefaultBackoff, func(err error) bool {
					return apierrors.IsConflict(err) || apierrors.IsServiceUnavailable(err)
				}, func() error {
					op, protected, err := t.run()
					if err != nil {
						return err
					}
					switch {
					case protected && op != reconciliation.ReconcileNone:
						klog.InfoS("Skipped a reconcile-protected bootstrap object", "kind", t.kind, "name", t.name)
					case op != reconciliation.ReconcileNone:
						klog.V(2).InfoS("Reconciled a bootstrap object", "kind", t.kind, "name", t.name, "operation", op)
					}
					return nil
				})
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Errorf("%s %s: %w", t.kind, t.name, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, t := range tasks {
		select {
		case next <- t:
		case <-ctx.Done():
		}
	}
	close(next)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	return errors.Join(errs...)
}

// primeAggregatedClusterRoles copies a role that has since become an aggregated one
// under its new name, unless that exists already, so that rules added to the old role
// by hand are kept (upstream does this for clusters from before aggregation).
func primeAggregatedClusterRoles(ctx context.Context, toAggregate map[string]string, rbac rbacclient.ClusterRolesGetter) error {
	for oldName, newName := range toAggregate {
		if _, err := rbac.ClusterRoles().Get(ctx, newName, metav1.GetOptions{}); err == nil {
			continue
		} else if !apierrors.IsNotFound(err) {
			return err
		}
		old, err := rbac.ClusterRoles().Get(ctx, oldName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if old.AggregationRule != nil {
			// Already aggregated: there are no hand-made rules left to carry over.
			continue
		}
		klog.V(1).InfoS("Migrating a clusterrole to its aggregated name", "from", oldName, "to", newName)
		copied := old.DeepCopy()
		copied.ObjectMeta = metav1.ObjectMeta{Name: newName, Labels: old.Labels, Annotations: old.Annotations}
		if _, err := rbac.ClusterRoles().Create(ctx, copied, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

// primeSplitClusterRoleBindings creates each binding that replaced part of an older
// one with the older one's subjects, labels and annotations, when the older exists
// and the newer does not.
func primeSplitClusterRoleBindings(ctx context.Context, toSplit map[string]rbacv1.ClusterRoleBinding, rbac rbacclient.ClusterRoleBindingsGetter) error {
	for oldName, template := range toSplit {
		old, err := rbac.ClusterRoleBindings().Get(ctx, oldName, metav1.GetOptions{})
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return err
		}
		if _, err := rbac.ClusterRoleBindings().Get(ctx, template.Name, metav1.GetOptions{}); err == nil {
			continue
		} else if !apierrors.IsNotFound(err) {
			return err
		}
		klog.V(1).InfoS("Creating a split clusterrolebinding", "from", oldName, "to", template.Name)
		created := template.DeepCopy()
		created.Subjects = old.Subjects
		created.Labels = old.Labels
		created.Annotations = old.Annotations
		if _, err := rbac.ClusterRoleBindings().Create(ctx, created, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
	}
	return nil
}

// ensureSystemPriorityClasses creates each system priority class that does not exist;
// existing ones are left as they are (as upstream does).
func ensureSystemPriorityClasses(ctx context.Context, client kubernetes.Interface) error {
	pcs := client.SchedulingV1().PriorityClasses()
	for _, pc := range schedulingapiv1.SystemPriorityClasses() {
		_, err := pcs.Get(ctx, pc.Name, metav1.GetOptions{})
		if err == nil {
			continue
		}
		if !apierrors.IsNotFound(err) {
			return fmt.Errorf("getting PriorityClass %s: %w", pc.Name, err)
		}
		if _, err := pcs.Create(ctx, pc, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			if apierrors.IsServiceUnavailable(err) {
				return fmt.Errorf("creating PriorityClass %s: %w", pc.Name, err)
			}
			// Upstream gives up at once on any other error; so does the hook.
			return permanentError{fmt.Errorf("creating PriorityClass %s: %w", pc.Name, err)}
		}
		klog.InfoS("Created a system PriorityClass", "name", pc.Name, "value", pc.Value)
	}
	return nil
}

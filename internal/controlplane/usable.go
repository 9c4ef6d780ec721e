package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// usableCheckName is the readiness check that holds /readyz until the virtual
// cluster can run workloads, not only answer requests: `kubectl run` right
// after /readyz turns ok must work. The control plane itself waits for
// /readyz?exclude=kubicle-workloads before it starts the controller manager,
// which is what makes the check pass.
const usableCheckName = "kubicle-workloads"

// usableCheck passes once the default namespace has its ServiceAccount and its
// root CA ConfigMap (both made by the controller manager, and needed by every
// pod that mounts a token), and, when the control plane runs a syncer, while
// the syncer's caches are synced. The first two are remembered once seen.
type usableCheck struct {
	mu      sync.Mutex
	client  kubernetes.Interface
	objects atomic.Bool
	syncer  atomic.Pointer[func() bool]
}

// Name implements healthz.HealthChecker.
func (u *usableCheck) Name() string { return usableCheckName }

// setClient gives the check the client it reads with, once the admin
// credentials exist.
func (u *usableCheck) setClient(cfg *rest.Config) error {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = 2 * time.Second
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.client = c
	u.mu.Unlock()
	return nil
}

// waitForSyncer makes the check wait for ready as well.
func (u *usableCheck) waitForSyncer(ready func() bool) { u.syncer.Store(&ready) }

// Check implements healthz.HealthChecker.
func (u *usableCheck) Check(r *http.Request) error { return u.ready(r.Context()) }

// ready reports why the virtual cluster cannot run workloads yet, or nil.
func (u *usableCheck) ready(ctx context.Context) error {
	if !u.objects.Load() {
		if err := u.checkObjects(ctx); err != nil {
			return err
		}
		u.objects.Store(true)
	}
	if ready := u.syncer.Load(); ready != nil && !(*ready)() {
		return errors.New("the syncer's caches of the virtual cluster and the host are not synced yet")
	}
	return nil
}

func (u *usableCheck) checkObjects(ctx context.Context) error {
	u.mu.Lock()
	c := u.client
	u.mu.Unlock()
	if c == nil {
		return errors.New("the control plane is starting")
	}
	if _, err := c.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{}); err != nil {
		return describeMissing(err, `ServiceAccount "default" in namespace "default"`)
	}
	if _, err := c.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{}); err != nil {
		return describeMissing(err, `ConfigMap "kube-root-ca.crt" in namespace "default"`)
	}
	return nil
}

func describeMissing(err error, what string) error {
	if apierrors.IsNotFound(err) {
		return fmt.Errorf("%s not created yet by the controller manager", what)
	}
	return fmt.Errorf("reading %s: %w", what, err)
}

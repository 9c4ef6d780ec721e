package controlplane

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
	"k8s.io/klog/v2"
)

// Leader election of the replicas of one control plane (spec.controlPlane.replicas
// > 1). Every replica serves the API, DNS and the kubelet endpoint; one leader per
// Lease runs what writes: the controller manager, the scheduler and the syncer's
// controllers. The Leases live in the virtual cluster's kube-system namespace,
// named as on any cluster, so that `kubectl get leases -n kube-system` shows who
// leads.
const (
	// LeaseNamespace holds the control plane's Leases in the virtual cluster.
	LeaseNamespace = "kube-system"
	// ControllerManagerLease is the Lease of kube-controller-manager.
	ControllerManagerLease = "kube-controller-manager"
	// SchedulerLease is the Lease of kube-scheduler.
	SchedulerLease = "kube-scheduler"
	// SyncerLease is the Lease of the syncer's controllers.
	SyncerLease = "kubicle-syncer"

	// LeaseDuration, RenewDeadline and RetryPeriod are the upstream components'
	// defaults: a leader that dies without a word is replaced about LeaseDuration
	// after its last renewal; one that stops cleanly releases its Leases at once.
	LeaseDuration = 15 * time.Second
	// RenewDeadline is how long a leader keeps trying to renew before it gives up.
	RenewDeadline = 10 * time.Second
	// RetryPeriod is how often candidates try to acquire and leaders renew.
	RetryPeriod = 2 * time.Second
)

// errLeaseLost is returned by runElected when the replica lost its Lease while
// its component ran: the component stops and, as upstream components do, the
// control plane exits, so that it restarts as a follower with fresh state.
var errLeaseLost = errors.New("lost its lease")

// LeaderIdentity is this replica's identity in the Leases it holds: the host
// name (a pod's name, with driver pod) and a random suffix, as kube-controller-
// manager writes it.
func LeaderIdentity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "kubicle"
	}
	return host + "_" + string(uuid.NewUUID())
}

// runElected runs component only while this replica holds Lease name in the
// virtual cluster, until ctx is cancelled; on cancel it releases the Lease so
// that another replica takes over at once.
func runElected(ctx context.Context, cfg *rest.Config, name, identity string, component func(context.Context) error) error {
	client, err := kubernetes.NewForConfig(rest.CopyConfig(cfg))
	if err != nil {
		return fmt.Errorf("leader election client: %w", err)
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: LeaseNamespace, Name: name},
		Client:     client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: identity},
	}
	logger := klog.FromContext(ctx).WithValues("lease", LeaseNamespace+"/"+name, "identity", identity)
	// done carries the component's result once it returned; it stays empty
	// while this replica never led.
	done := make(chan error, 1)
	var led atomic.Bool
	elector, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   LeaseDuration,
		RenewDeadline:   RenewDeadline,
		RetryPeriod:     RetryPeriod,
		ReleaseOnCancel: true,
		Name:            name,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(ctx context.Context) {
				logger.Info("Became leader; starting")
				led.Store(true)
				done <- component(ctx)
			},
			OnStoppedLeading: func() {
				if ctx.Err() == nil {
					logger.Info("Stopped leading")
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election %s: %w", name, err)
	}
	// Run returns when ctx is cancelled or the Lease could not be renewed; either
	// way it has cancelled the component's context. Wait for the component, so
	// that nothing of it outlives this call.
	elector.Run(ctx)
	var runErr error
	if led.Load() {
		select {
		case runErr = <-done:
		case <-time.After(stopTimeout):
			return fmt.Errorf("%s did not stop within %s after leading", name, stopTimeout)
		}
	}
	switch {
	case ctx.Err() != nil:
		return nil // stopped as asked
	case runErr != nil:
		return runErr
	case led.Load():
		return fmt.Errorf("%s: %w %s/%s", identity, errLeaseLost, LeaseNamespace, name)
	default:
		return fmt.Errorf("leader election for %s/%s ended without leading", LeaseNamespace, name)
	}
}

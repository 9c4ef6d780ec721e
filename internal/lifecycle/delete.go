package lifecycle

import (
	"context"
	"fmt"
	"io"
	"time"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/kubeconfig"
)

// DeleteOptions are the inputs of [Delete].
type DeleteOptions struct {
	// Name is the virtual cluster's name.
	Name string
	// Namespace is its host namespace. Default: the one namespace whose record
	// names it, else vc-NAME.
	Namespace string
	// KeepNamespace keeps a namespace that kubicle created (without kubicle's
	// labels).
	KeepNamespace bool
	// Timeout bounds the wait for the host objects to be gone. Default:
	// DefaultTimeout.
	Timeout time.Duration
	// ErrOut receives progress.
	ErrOut io.Writer
}

// Delete deletes a virtual cluster: it stops its control plane through the
// driver that runs it (a process: SIGTERM, then SIGKILL), deletes every
// host object labelled for it in deploy.DeletionOrder, the host namespace
// when kubicle created it, its context in the user's kubeconfig and its
// local state, and waits until no host object labelled for it is left. A
// virtual cluster of which nothing is found is an error, and so is one that
// kubicle operator manages (its VirtualCluster object is deleted instead).
func Delete(ctx context.Context, h *Host, o DeleteOptions) error {
	p := newProgress(o.ErrOut)
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	r, err := locate(ctx, h, o.Name, o.Namespace)
	if err != nil {
		return err
	}
	paths := PathsFor(StateDir(), h.Context, r.Namespace, r.Name)
	unlock, err := paths.lock(p)
	if err != nil {
		return err
	}
	defer unlock()

	rec, err := getRecord(ctx, h, r)
	if err != nil {
		return err
	}
	if rec != nil && rec.Operator {
		return managedByOperatorError(r, "delete")
	}
	owned, err := listOwned(ctx, h.Dynamic, r)
	if err != nil {
		return err
	}
	if rec == nil && len(owned) == 0 && !paths.Exists() {
		return fmt.Errorf("virtual cluster %q not found in host namespace %q (context %q); `kubicle list` shows the virtual clusters of this host", r.Name, r.Namespace, h.Context)
	}
	p.line("Deleting virtual cluster %q in host namespace %q (context %q)", r.Name, r.Namespace, h.Context)
	if rec != nil && rec.Machine != "" && rec.Machine != machineName() && !paths.Exists() {
		p.warn("Its control plane runs as a process on machine %q, which keeps running until stopped there; its host objects are deleted now", rec.Machine)
	}

	if err := stopRunning(ctx, driverEnv{h: h, p: p, paths: paths}, r); err != nil {
		return err
	}
	ownNamespace := false
	for _, o := range owned {
		ownNamespace = ownNamespace || o.Kind.Kind == "Namespace"
	}
	if err := deleteOwned(ctx, h.Dynamic, r, ownNamespace && !o.KeepNamespace, o.Timeout, p); err != nil {
		return err
	}
	switch {
	case !ownNamespace:
		if err := releaseNamespace(ctx, h, r.Namespace); err != nil {
			return err
		}
		p.done("Left host namespace %s, which kubicle did not create, as it was before", r.Namespace)
	case o.KeepNamespace:
		if err := releaseNamespace(ctx, h, r.Namespace); err != nil {
			return err
		}
		p.done("Kept host namespace %s (--keep-namespace), without kubicle's labels", r.Namespace)
	default:
		p.done("Deleted host namespace %s", r.Namespace)
	}

	ctxName := ContextName(r.Name, r.Namespace, h.Context)
	wasCurrent := currentContext(h.UserKubeconfig) == ctxName
	if err := kubeconfig.Remove(h.UserKubeconfig, ctxName); err != nil {
		return err
	}
	if paths.Exists() {
		if err := paths.remove(); err != nil {
			return err
		}
		p.done("Removed context %q and local state %s", ctxName, paths.Dir())
	} else {
		p.done("Removed context %q", ctxName)
	}
	if wasCurrent {
		// Back to the host, rather than to no cluster at all.
		switched, err := useContext(h.UserKubeconfig, h.Context)
		if err != nil {
			return err
		}
		if switched {
			p.done("Switched the current context back to the host's, %q", h.Context)
		}
	}
	p.line("Virtual cluster %q deleted", r.Name)
	return nil
}

// stopRunning stops for good the control plane of virtual cluster r that
// runs now, whichever driver runs it ([runningDriver]), before its host
// objects are deleted. Its traces decide, not its record: Delete also
// removes what a cluster whose record is gone left behind.
func stopRunning(ctx context.Context, env driverEnv, r deploy.Ref) error {
	d, err := runningDriver(ctx, env, r)
	if err != nil || d == nil {
		return err
	}
	return d.delete(ctx)
}

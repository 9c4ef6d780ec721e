package node

import (
	"context"
	"errors"
	"fmt"
	"time"

	criclient "k8s.io/cri-client/pkg"
)

// criCleanup stops and removes every pod sandbox of the container runtime at
// endpoint. Stopping a sandbox through CRI makes the runtime run the CNI DEL of its
// network (veth, IP address, port mappings) and unmount its network namespace, which
// killing processes alone would leave behind.
func criCleanup(endpoint string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	rs, err := criclient.NewRemoteRuntimeService(ctx, endpoint, 10*time.Second, nil, false)
	if err != nil {
		return fmt.Errorf("connecting to the container runtime at %s: %w", endpoint, err)
	}
	pods, err := rs.ListPodSandbox(ctx, nil)
	if err != nil {
		return fmt.Errorf("listing pod sandboxes: %w", err)
	}
	var errs []error
	for _, p := range pods {
		if err := rs.StopPodSandbox(ctx, p.Id); err != nil {
			errs = append(errs, fmt.Errorf("stopping sandbox of pod %s/%s: %w", p.Metadata.Namespace, p.Metadata.Name, err))
			continue
		}
		if err := rs.RemovePodSandbox(ctx, p.Id); err != nil {
			errs = append(errs, fmt.Errorf("removing sandbox of pod %s/%s: %w", p.Metadata.Namespace, p.Metadata.Name, err))
		}
	}
	return errors.Join(errs...)
}

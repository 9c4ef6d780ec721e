package lifecycle

import (
	"context"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/kubeconfig"
)

// hostTokenLifetime is how long the control plane's host token (driver
// "process") is valid. `kubicle create --upgrade` renews it once less than
// tokenRenewBefore is left.
const (
	hostTokenLifetime = 365 * 24 * time.Hour
	tokenRenewBefore  = 30 * 24 * time.Hour
)

// writeHostKubeconfig writes to path the kubeconfig that a process-driven
// control plane reaches the host with: a token of virtual cluster r's
// ServiceAccount, so it has exactly the rights deploy renders for it. It
// returns when the token expires.
func writeHostKubeconfig(ctx context.Context, h *Host, r deploy.Ref, path string) (time.Time, error) {
	seconds := int64(hostTokenLifetime / time.Second)
	tr, err := h.Client.CoreV1().ServiceAccounts(r.Namespace).CreateToken(ctx, r.ServiceAccountName(),
		&authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &seconds}}, metav1.CreateOptions{})
	if err != nil {
		return time.Time{}, fmt.Errorf("issuing a host token for ServiceAccount %s/%s: %w", r.Namespace, r.ServiceAccountName(), err)
	}
	cfg, err := h.hostKubeconfig(tr.Status.Token)
	if err != nil {
		return time.Time{}, err
	}
	if err := kubeconfig.WriteFile(path, cfg); err != nil {
		return time.Time{}, err
	}
	return tr.Status.ExpirationTimestamp.Time, nil
}

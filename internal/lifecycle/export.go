package lifecycle

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// exportKubeconfig writes the Secret of spec.exportKubeConfig from the
// admin kubeconfig at adminPath of a control plane that serves at endpoint,
// or deletes one written before when the export is now off.
func exportKubeconfig(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster, adminPath, endpoint string, p *progress) error {
	r := deploy.RefOf(vc)
	e := &vc.Spec.ExportKubeConfig
	if e.Enabled == nil || !*e.Enabled {
		sel := fmt.Sprintf("%s,%s=%s", r.Selector(), deploy.LabelComponent, deploy.ComponentKubeConfig)
		err := h.Client.CoreV1().Secrets(r.Namespace).DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: sel})
		if err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting the exported kubeconfig: %w", err)
		}
		return nil
	}
	server := e.Server
	if server == "" {
		server = endpoint
	}
	cfg, err := clusterKubeconfig(adminPath, e.Context, server)
	if err != nil {
		return err
	}
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return fmt.Errorf("encoding the exported kubeconfig: %w", err)
	}
	secret := deploy.KubeConfigSecret(vc, data)
	if secret == nil {
		return nil
	}
	if err := checkOwnership(ctx, h.Dynamic, r, []deploy.Object{secret}); err != nil {
		return err
	}
	if err := apply(ctx, h.Dynamic, secret, true); err != nil {
		return err
	}
	p.done("Wrote the kubeconfig to Secret %s/%s (context %q, server %s)", r.Namespace, secret.Name, e.Context, server)
	return nil
}

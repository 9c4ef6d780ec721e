package lifecycle

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/kubeconfig"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// reachTimeout bounds one attempt to reach a Service address from this machine, and
// reachWait all of them.
const (
	reachTimeout = 2 * time.Second
	reachWait    = 30 * time.Second
)

// exportedKubeconfig reads the kubeconfig that a pod-driven control plane wrote to
// its spec.exportKubeConfig Secret.
func exportedKubeconfig(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster) (*clientcmdapi.Config, error) {
	r := deploy.RefOf(vc)
	e := &vc.Spec.ExportKubeConfig
	if e.Enabled == nil || !*e.Enabled {
		return nil, fmt.Errorf("virtual cluster %s runs with driver \"pod\" and spec.exportKubeConfig.enabled false: only the control plane holds its credentials; enable the export to connect", r)
	}
	secret, err := h.Client.CoreV1().Secrets(r.Namespace).Get(ctx, e.SecretName, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("the control plane of %s has not written its kubeconfig Secret %s/%s yet", r, r.Namespace, e.SecretName)
	} else if err != nil {
		return nil, fmt.Errorf("reading the kubeconfig Secret %s/%s: %w", r.Namespace, e.SecretName, err)
	}
	cfg, err := clientcmd.Load(secret.Data[v1alpha1.KubeConfigSecretKey])
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig in Secret %s/%s: %w", r.Namespace, e.SecretName, err)
	}
	return cfg, nil
}

// waitExportedKubeconfig waits for the control plane to write its kubeconfig Secret,
// which it does once the virtual cluster is usable.
func waitExportedKubeconfig(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster, timeout time.Duration) (*clientcmdapi.Config, error) {
	deadline := time.Now().Add(timeout)
	for {
		cfg, err := exportedKubeconfig(ctx, h, vc)
		if err == nil || time.Now().After(deadline) {
			return cfg, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}

// podUserKubeconfig turns the exported kubeconfig of a pod-driven virtual cluster
// into one for this machine, under context name. The exported one names the
// control plane's Service by its cluster DNS name, which only pods resolve; this one
// names the Service's ClusterIP, verified against the certificate's DNS name, when
// this machine reaches it (the embedded host with real nodes routes ClusterIPs; so
// do hosts whose service network is routed). A server set in
// spec.exportKubeConfig.server is kept as it is.
func podUserKubeconfig(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster, exported *clientcmdapi.Config, name string) (*clientcmdapi.Config, error) {
	r := deploy.RefOf(vc)
	kctx, ok := exported.Contexts[exported.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("the exported kubeconfig of %s has no current context", r)
	}
	cluster, user := exported.Clusters[kctx.Cluster], exported.AuthInfos[kctx.AuthInfo]
	if cluster == nil || user == nil {
		return nil, fmt.Errorf("the exported kubeconfig of %s is incomplete", r)
	}
	creds := kubeconfig.Credentials{Server: cluster.Server, CAData: cluster.CertificateAuthorityData,
		CertData: user.ClientCertificateData, KeyData: user.ClientKeyData, Token: user.Token}
	if vc.Spec.ExportKubeConfig.Server == "" {
		svc, err := h.Client.CoreV1().Services(r.Namespace).Get(ctx, r.ServiceName(), metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading the control plane's Service %s/%s: %w", r.Namespace, r.ServiceName(), err)
		}
		addr := net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(deploy.ServicePort))
		// A control plane that just became ready is in its Service's endpoints a
		// moment later; until then the proxy refuses the connection.
		var conn net.Conn
		deadline := time.Now().Add(reachWait)
		for {
			conn, err = net.DialTimeout("tcp", addr, reachTimeout)
			if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if err != nil {
			return nil, fmt.Errorf("virtual cluster %s: its API server's Service %s/%s (%s) is not reachable from this machine (%v); "+
				"run kubectl inside the host, or set spec.exportKubeConfig.server to an address that reaches it", r, r.Namespace, r.ServiceName(), addr, err)
		}
		_ = conn.Close()
		u, _ := url.Parse(cluster.Server)
		creds.Server = "https://" + addr
		if u != nil {
			creds.TLSServerName = u.Hostname()
		}
	}
	return kubeconfig.New(name, creds), nil
}

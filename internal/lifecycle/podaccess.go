package lifecycle

import (
	"context"
	"errors"
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

// errUnreachable is the error of [podUserKubeconfig] when this machine does not
// reach the control plane's Service.
var errUnreachable = errors.New("not reachable from this machine")

// exportedCredentials returns the credentials of the exported kubeconfig of a
// pod-driven virtual cluster and the host name of its server, which the serving
// certificate names.
func exportedCredentials(exported *clientcmdapi.Config) (kubeconfig.Credentials, string, error) {
	kctx, ok := exported.Contexts[exported.CurrentContext]
	if !ok {
		return kubeconfig.Credentials{}, "", errors.New("the exported kubeconfig has no current context")
	}
	cluster, user := exported.Clusters[kctx.Cluster], exported.AuthInfos[kctx.AuthInfo]
	if cluster == nil || user == nil {
		return kubeconfig.Credentials{}, "", errors.New("the exported kubeconfig is incomplete")
	}
	creds := kubeconfig.Credentials{Server: cluster.Server, CAData: cluster.CertificateAuthorityData,
		CertData: user.ClientCertificateData, KeyData: user.ClientKeyData, Token: user.Token}
	u, err := url.Parse(cluster.Server)
	if err != nil {
		return kubeconfig.Credentials{}, "", fmt.Errorf("the exported kubeconfig's server %q: %w", cluster.Server, err)
	}
	return creds, u.Hostname(), nil
}

// podUserKubeconfig turns the exported kubeconfig of a pod-driven virtual cluster
// into one for this machine, under context name. The exported one names the
// control plane's Service by its cluster DNS name, which only pods resolve; this one
// names the Service's ClusterIP, verified against the certificate's DNS name, when
// this machine reaches it (the embedded host with real nodes routes ClusterIPs; so
// do hosts whose service network is routed), trying for up to wait. A server set in
// spec.exportKubeConfig.server is kept as it is. An unreachable Service gives an
// error that wraps errUnreachable.
func podUserKubeconfig(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster, exported *clientcmdapi.Config, name string, wait time.Duration) (*clientcmdapi.Config, error) {
	r := deploy.RefOf(vc)
	creds, serverName, err := exportedCredentials(exported)
	if err != nil {
		return nil, fmt.Errorf("virtual cluster %s: %w", r, err)
	}
	if vc.Spec.ExportKubeConfig.Server == "" {
		svc, err := h.Client.CoreV1().Services(r.Namespace).Get(ctx, r.ServiceName(), metav1.GetOptions{})
		if err != nil {
			return nil, fmt.Errorf("reading the control plane's Service %s/%s: %w", r.Namespace, r.ServiceName(), err)
		}
		addr := net.JoinHostPort(svc.Spec.ClusterIP, strconv.Itoa(deploy.ServicePort))
		// A control plane that just became ready is in its Service's endpoints a
		// moment later; until then the proxy refuses the connection.
		var conn net.Conn
		deadline := time.Now().Add(wait)
		for {
			conn, err = net.DialTimeout("tcp", addr, reachTimeout)
			if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
				break
			}
			time.Sleep(500 * time.Millisecond)
		}
		if err != nil {
			return nil, fmt.Errorf("virtual cluster %s: its API server's Service %s/%s (%s) is %w (%v); "+
				"`kubicle connect %s -n %s --port-forward` reaches it through the host API server, or set spec.exportKubeConfig.server to an address that reaches it",
				r, r.Namespace, r.ServiceName(), addr, errUnreachable, err, r.Name, r.Namespace)
		}
		_ = conn.Close()
		creds.Server = "https://" + addr
		creds.TLSServerName = serverName
	}
	return kubeconfig.New(name, creds), nil
}

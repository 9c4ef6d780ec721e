package lifecycle

import (
	"fmt"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"kubicle.dev/kubicle/internal/kubeconfig"
)

// clusterKubeconfig returns a kubeconfig for the virtual cluster whose admin
// kubeconfig is at adminPath, its cluster, user and context all named name.
// A non-empty server replaces the admin kubeconfig's.
func clusterKubeconfig(adminPath, name, server string) (*clientcmdapi.Config, error) {
	admin, err := clientcmd.LoadFromFile(adminPath)
	if err != nil {
		return nil, fmt.Errorf("reading the virtual cluster's kubeconfig: %w", err)
	}
	ctx, ok := admin.Contexts[admin.CurrentContext]
	if !ok {
		return nil, fmt.Errorf("reading the virtual cluster's kubeconfig %s: no current context", adminPath)
	}
	cluster, user := admin.Clusters[ctx.Cluster], admin.AuthInfos[ctx.AuthInfo]
	if cluster == nil || user == nil {
		return nil, fmt.Errorf("reading the virtual cluster's kubeconfig %s: context %q is incomplete", adminPath, admin.CurrentContext)
	}
	if server == "" {
		server = cluster.Server
	}
	return kubeconfig.New(name, kubeconfig.Credentials{
		Server:   server,
		CAData:   cluster.CertificateAuthorityData,
		CertData: user.ClientCertificateData,
		KeyData:  user.ClientKeyData,
		Token:    user.Token,
	}), nil
}

// newClient returns a clientset for cfg.
func newClient(cfg *rest.Config) (kubernetes.Interface, error) {
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client for %s: %w", cfg.Host, err)
	}
	return c, nil
}

// useContext makes context name current in the kubeconfig at path when it is
// defined there. It reports whether it did.
func useContext(path, name string) (bool, error) { return kubeconfig.UseContext(path, name) }

// currentContext returns the current context of the kubeconfig at path, or
// "" when it has none or cannot be read.
func currentContext(path string) string {
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		return ""
	}
	return cfg.CurrentContext
}

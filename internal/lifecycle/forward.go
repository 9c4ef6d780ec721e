package lifecycle

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/kubeconfig"
)

// forward is a local port forwarded to the API server port of a pod-driven
// control plane through the host API server's port-forward, as `kubectl
// port-forward` does: the way to reach a virtual cluster from a machine that
// does not reach the host's Service network.
type forward struct {
	// Port is the local port on 127.0.0.1.
	Port int
	// Pod is the forwarded pod, namespace/name.
	Pod  string
	stop chan struct{}
	done chan error
}

// startForward forwards 127.0.0.1:local (0: a free port) to the API server port
// of pod ns/pod and returns once the port listens.
func startForward(ctx context.Context, h *Host, ns, pod string, local int, errOut io.Writer) (*forward, error) {
	transport, upgrader, err := spdy.RoundTripperFor(h.Config)
	if err != nil {
		return nil, err
	}
	u := h.Client.CoreV1().RESTClient().Post().Resource("pods").Namespace(ns).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: transport}, http.MethodPost, &url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path})
	f := &forward{Pod: ns + "/" + pod, stop: make(chan struct{}), done: make(chan error, 1)}
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddresses(dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("%d:%d", local, deploy.APIServerPort)}, f.stop, ready, io.Discard, errOut)
	if err != nil {
		return nil, err
	}
	go func() { f.done <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-f.done:
		return nil, fmt.Errorf("forwarding a local port to pod %s: %w", f.Pod, err)
	case <-ctx.Done():
		close(f.stop)
		return nil, ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) != 1 {
		close(f.stop)
		return nil, fmt.Errorf("forwarding a local port to pod %s: no port (%v)", f.Pod, err)
	}
	f.Port = int(ports[0].Local)
	return f, nil
}

// wait blocks until ctx ends (Ctrl-C) or the forward fails, then stops it.
func (f *forward) wait(ctx context.Context) error {
	defer f.close()
	select {
	case <-ctx.Done():
		return nil
	case err := <-f.done:
		if err == nil {
			err = fmt.Errorf("the host ended the connection")
		}
		return fmt.Errorf("forwarding to pod %s stopped: %w", f.Pod, err)
	}
}

// close stops the forward.
func (f *forward) close() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
}

// forwardedKubeconfig turns the exported kubeconfig of a pod-driven virtual
// cluster into one for this machine through f, under context name: the server
// is the local port, verified against the name the exported kubeconfig uses (the
// Service's DNS name, in the serving certificate).
func forwardedKubeconfig(exported *clientcmdapi.Config, name string, f *forward) (*clientcmdapi.Config, error) {
	creds, serverName, err := exportedCredentials(exported)
	if err != nil {
		return nil, err
	}
	creds.Server = fmt.Sprintf("https://127.0.0.1:%d", f.Port)
	creds.TLSServerName = serverName
	return kubeconfig.New(name, creds), nil
}

package kubelet

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/proxy"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"

	"kubicle.dev/kubicle/internal/syncer/translate"
)

// Query parameters of the kubelet's streaming endpoints
// (k8s.io/api/core/v1 ExecStdinParam and friends, and PortHeader).
const (
	paramStdin   = "input"
	paramStdout  = "output"
	paramStderr  = "error"
	paramTTY     = "tty"
	paramCommand = "command"
	paramPort    = "port"
)

// logParams are the PodLogOptions query parameters passed on to the host's
// pods/log unchanged. container comes from the path; insecureSkipTLSVerifyBackend
// is the host's business, not a tenant's.
var logParams = []string{"follow", "previous", "timestamps", "sinceSeconds", "sinceTime", "tailLines", "limitBytes", "stream"}

// forbiddenHeaderPrefixes are request headers (canonical form) never passed to
// the host: credentials and identities that are the host's to decide.
var forbiddenHeaderPrefixes = []string{"Authorization", "Proxy-Authorization", "Cookie", "Impersonate-", "X-Remote-"}

// routes builds the mux; see the package documentation for the list.
func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	mux.HandleFunc("GET /containerLogs/{namespace}/{pod}/{container}", s.containerLogs)
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		for _, p := range []struct {
			prefix string
			kind   subresource
		}{{"/exec", exec}, {"/attach", attach}} {
			mux.Handle(method+" "+p.prefix+"/{namespace}/{pod}/{container}", s.stream(p.kind))
			mux.Handle(method+" "+p.prefix+"/{namespace}/{pod}/{uid}/{container}", s.stream(p.kind))
		}
		mux.Handle(method+" /portForward/{namespace}/{pod}", s.stream(portForward))
		mux.Handle(method+" /portForward/{namespace}/{pod}/{uid}", s.stream(portForward))
	}
	return s.authenticated(mux)
}

// authenticated refuses requests without a verified client certificate (the
// TLS configuration already requires one) or, when AllowedClientNames is
// set, with another common name.
func (s *Server) authenticated(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
			http.Error(w, "Unauthorized: a client certificate is required", http.StatusUnauthorized)
			return
		}
		if names := s.cfg.AllowedClientNames; len(names) > 0 {
			if cn := r.TLS.VerifiedChains[0][0].Subject.CommonName; !slices.Contains(names, cn) {
				http.Error(w, fmt.Sprintf("Forbidden: client %q may not use the kubelet API", cn), http.StatusForbidden)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// target is the virtual pod a request names.
type target struct {
	namespace, pod, container string
	// uid is the virtual pod UID from the path; "" when the path has none.
	uid types.UID
}

func targetOf(r *http.Request) target {
	return target{
		namespace: r.PathValue("namespace"),
		pod:       r.PathValue("pod"),
		container: r.PathValue("container"),
		uid:       types.UID(r.PathValue("uid")),
	}
}

// hostPod returns the name of the host pod of t after checking that it
// exists and carries the markers of t in this virtual cluster. Otherwise it
// answers the request itself and returns false.
func (s *Server) hostPod(w http.ResponseWriter, r *http.Request, t target) (string, bool) {
	logger := klog.FromContext(r.Context())
	if t.namespace == "" || t.pod == "" {
		http.Error(w, "a pod namespace and name are required", http.StatusBadRequest)
		return "", false
	}
	name := translate.HostName(s.cfg.VirtualCluster, t.namespace, t.pod, translate.DNSSubdomain)
	ctx, cancel := context.WithTimeout(r.Context(), lookupTimeout)
	defer cancel()
	pod, err := s.pods.CoreV1().Pods(s.cfg.HostNamespace).Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		http.Error(w, "pod does not exist", http.StatusNotFound)
		return "", false
	case err != nil:
		logger.Error(err, "Reading host pod", "namespace", s.cfg.HostNamespace, "name", name)
		http.Error(w, "reading the pod from the host cluster failed", http.StatusBadGateway)
		return "", false
	}
	if why := s.mismatch(pod, t); why != "" {
		// Not this tenant's pod: answer as if it did not exist.
		logger.Info("Refusing a kubelet request for a host pod that is not the virtual pod's",
			"virtualPod", t.namespace+"/"+t.pod, "hostPod", s.cfg.HostNamespace+"/"+name, "reason", why)
		http.Error(w, "pod does not exist", http.StatusNotFound)
		return "", false
	}
	return name, true
}

// mismatch says why host pod p is not the host pod of t in this virtual
// cluster, or "" when it is.
func (s *Server) mismatch(p *corev1.Pod, t target) string {
	if !translate.IsManaged(p, s.cfg.VirtualCluster) {
		return "not managed by kubicle for this virtual cluster"
	}
	id, err := translate.VirtualIdentity(p)
	switch {
	case err != nil:
		return err.Error()
	case id.VCluster != s.cfg.VirtualCluster || id.Namespace != t.namespace || id.Name != t.pod:
		return "markers name " + id.String()
	case t.uid != "" && id.UID != t.uid:
		return "virtual UID " + string(id.UID) + " is not " + string(t.uid)
	}
	return ""
}

// containerLogs streams the host pod's log, flushing as it goes.
func (s *Server) containerLogs(w http.ResponseWriter, r *http.Request) {
	t := targetOf(r)
	name, ok := s.hostPod(w, r, t)
	if !ok {
		return
	}
	req := s.streams.CoreV1().RESTClient().Get().
		Namespace(s.cfg.HostNamespace).Resource("pods").Name(name).SubResource("log").
		Param("container", t.container)
	q := r.URL.Query()
	for _, k := range logParams {
		for _, v := range q[k] {
			req.Param(k, v)
		}
	}
	// The kubelet's legacy spelling: tail=N, or tail=all for everything.
	if tail := q.Get("tail"); tail != "" && tail != "all" && !q.Has("tailLines") {
		req.Param("tailLines", tail)
	}
	logs, err := req.Stream(r.Context())
	if err != nil {
		s.hostError(w, r, err, name, t.pod)
		return
	}
	defer func() { _ = logs.Close() }()

	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	flush := http.NewResponseController(w).Flush
	_ = flush()
	buf := make([]byte, 32*1024)
	for {
		n, err := logs.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return // the client went away
			}
			_ = flush()
		}
		if err != nil {
			if !errors.Is(err, io.EOF) && r.Context().Err() == nil {
				klog.FromContext(r.Context()).V(2).Info("Host log stream ended", "hostPod", name, "err", err)
			}
			return
		}
	}
}

// hostError answers a request whose host call failed, with the host's status
// code and message, naming the virtual pod instead of the host pod. Host
// authentication and authorization failures are the syncer's, not the
// caller's, so they become 502.
func (s *Server) hostError(w http.ResponseWriter, r *http.Request, err error, hostName, virtualName string) {
	code, msg := http.StatusBadGateway, "the host cluster failed the request"
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Code >= 400 {
		st := status.Status()
		switch int(st.Code) {
		case http.StatusUnauthorized, http.StatusForbidden:
			msg = "the host cluster refused the syncer's request"
		default:
			code, msg = int(st.Code), strings.ReplaceAll(st.Message, hostName, virtualName)
		}
	}
	if code == http.StatusBadGateway {
		klog.FromContext(r.Context()).Error(err, "Host request failed", "hostPod", s.cfg.HostNamespace+"/"+hostName)
	}
	http.Error(w, msg, code)
}

// subresource is a streaming pod subresource.
type subresource string

const (
	exec        subresource = "exec"
	attach      subresource = "attach"
	portForward subresource = "portforward"
)

// stream proxies an upgraded exec, attach or port-forward connection to the
// host pod's subresource.
func (s *Server) stream(kind subresource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t := targetOf(r)
		opts, err := streamOptions(kind, r.URL.Query(), t.container)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		name, ok := s.hostPod(w, r, t)
		if !ok {
			return
		}
		location := s.streams.CoreV1().RESTClient().Post().
			Namespace(s.cfg.HostNamespace).Resource("pods").Name(name).SubResource(string(kind)).
			VersionedParams(opts, scheme.ParameterCodec).URL()

		h := proxy.NewUpgradeAwareHandler(location, s.transport, false, true, responder{name: name})
		h.UpgradeTransport = s.upgrade
		h.UseLocationHost = true
		out := r.Clone(r.Context())
		for k := range out.Header {
			for _, p := range forbiddenHeaderPrefixes {
				if strings.HasPrefix(k, p) {
					out.Header.Del(k)
				}
			}
		}
		h.ServeHTTP(w, out)
	})
}

// streamOptions translates the kubelet's query parameters into the options
// of the host API server's subresource.
func streamOptions(kind subresource, q url.Values, container string) (runtime.Object, error) {
	set := func(k string) bool { return q.Get(k) == "1" }
	switch kind {
	case exec, attach:
		stdin, stdout, stderr, tty := set(paramStdin), set(paramStdout), set(paramStderr), set(paramTTY)
		if tty {
			stderr = false // a terminal has no separate stderr; the kubelet drops it too
		}
		if !stdin && !stdout && !stderr {
			return nil, errors.New("you must specify at least 1 of stdin, stdout, stderr")
		}
		if kind == attach {
			return &corev1.PodAttachOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr, TTY: tty, Container: container}, nil
		}
		if len(q[paramCommand]) == 0 {
			return nil, errors.New("a command is required")
		}
		return &corev1.PodExecOptions{Stdin: stdin, Stdout: stdout, Stderr: stderr, TTY: tty, Container: container, Command: q[paramCommand]}, nil
	default:
		var ports []int32
		for _, list := range q[paramPort] {
			for _, p := range strings.Split(list, ",") {
				n, err := strconv.ParseUint(p, 10, 16)
				if err != nil || n == 0 {
					return nil, fmt.Errorf("port %q is not a port number", p)
				}
				ports = append(ports, int32(n))
			}
		}
		return &corev1.PodPortForwardOptions{Ports: ports}, nil
	}
}

// responder answers errors of the upgrade-aware proxy before the connection
// is upgraded.
type responder struct{ name string }

func (rs responder) Error(w http.ResponseWriter, r *http.Request, err error) {
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Code >= 400 && status.Status().Code < 500 {
		http.Error(w, status.Status().Message, int(status.Status().Code))
		return
	}
	klog.FromContext(r.Context()).Error(err, "Proxying to the host pod failed", "hostPod", rs.name)
	http.Error(w, "proxying to the host cluster failed", http.StatusBadGateway)
}

// Package realnode runs real Kubernetes nodes on this machine for the embedded host
// cluster: per node a containerd (Debian's, with its own root, state and socket), a
// kubelet 1.37.2 and a CNI bridge network (Debian's containernetworking-plugins), and
// for the machine one kube-proxy 1.37.2 in iptables mode. Pods on these nodes are real
// containers run by runc; logs, exec, port-forward, Services and pod-to-pod traffic
// work as on any cluster. Everything a node creates (processes, mounts, cgroups,
// links, addresses, iptables rules) is removed again by Stop or, after a crash, by
// Cleanup.
package realnode

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"kubicle.dev/kubicle/internal/controlplane/pki"
)

// NodeLabel marks the Node objects of real nodes.
const NodeLabel = "node.kubicle.dev/real"

// agentStopGrace bounds how long an agent may take to exit after SIGTERM.
const agentStopGrace = 10 * time.Second

// NodeName is the name of real node i.
func NodeName(i int) string { return "kubicle-real-" + strconv.Itoa(i) }

// Options configure the real nodes of a host.
type Options struct {
	// Dir holds the nodes' state: one directory per node, and kube-proxy's.
	Dir string
	// Count is the number of nodes.
	Count int
	// NodeBinary is the kubicle-node executable (kubelet, kube-proxy).
	NodeBinary string
	// Server is the host API server's URL, reachable at HostIP.
	Server string
	// PKIDir holds the host's CA (ca.crt, ca.key); node credentials are issued from it.
	PKIDir string
	// Images are OCI image tarballs loaded into every node before its kubelet starts;
	// they must include the sandbox image (SandboxImage).
	Images []string
	// Client is an administrator's client of the host, which grants the network
	// policy controller its permissions.
	Client kubernetes.Interface
}

// Nodes is a set of running real nodes.
type Nodes struct {
	o       Options
	nodes   []*node
	proxy   *agent
	netpol  *agent
	errs    chan error
	stopped chan struct{}
}

type node struct {
	i          int
	dir        string
	containerd *agent
	kubelet    *agent
}

func (n *node) socket() string { return filepath.Join(n.dir, "containerd.sock") }

// Start starts o.Count real nodes and kube-proxy. It returns once every agent runs;
// the Node objects become Ready shortly after (the caller waits for that). A start
// that fails removes what it did.
func Start(ctx context.Context, o Options) (*Nodes, error) {
	if o.Count < 1 || o.Count > MaxNodes {
		return nil, fmt.Errorf("--real-nodes %d: must be between 1 and %d", o.Count, MaxNodes)
	}
	if err := CheckPrerequisites(o.NodeBinary); err != nil {
		return nil, err
	}
	if err := enableForwarding(); err != nil {
		return nil, err
	}
	ca, err := pki.EnsureCA(o.PKIDir, "ca", "kubicle-ca")
	if err != nil {
		return nil, fmt.Errorf("host CA: %w", err)
	}
	ns := &Nodes{o: o, errs: make(chan error, 2*o.Count+1), stopped: make(chan struct{})}
	for i := 0; i < o.Count; i++ {
		n, err := ns.startNode(ctx, ca, i)
		if n != nil {
			ns.nodes = append(ns.nodes, n)
		}
		if err != nil {
			ns.Stop()
			return nil, fmt.Errorf("real node %s: %w", NodeName(i), err)
		}
	}
	if err := ns.startProxy(ca); err != nil {
		ns.Stop()
		return nil, err
	}
	if err := ns.startNetpol(ctx, ca); err != nil {
		ns.Stop()
		return nil, err
	}
	ns.watch()
	return ns, nil
}

// Err receives the first failure of an agent that was not asked to stop.
func (ns *Nodes) Err() <-chan error { return ns.errs }

func (ns *Nodes) watch() {
	forward := func(a *agent) {
		go func() {
			select {
			case err := <-a.done:
				a.done <- err
				select {
				case <-ns.stopped:
				default:
					ns.errs <- a.exitError(err)
				}
			case <-ns.stopped:
			}
		}()
	}
	for _, n := range ns.nodes {
		forward(n.containerd)
		forward(n.kubelet)
	}
	forward(ns.proxy)
	forward(ns.netpol)
}

func (ns *Nodes) startNode(ctx context.Context, ca *pki.CA, i int) (*node, error) {
	name, nodeIP := NodeName(i), NodeIP
	n := &node{i: i, dir: filepath.Join(ns.o.Dir, name)}
	for _, d := range []string{"pki", "cni/net.d", "cni/ipam", "kubelet", "pod-logs", "containerd"} {
		if err := os.MkdirAll(filepath.Join(n.dir, d), 0o755); err != nil {
			return nil, err
		}
	}
	if err := addLoopbackAddress(nodeIP); err != nil {
		return nil, err
	}
	pkiDir := filepath.Join(n.dir, "pki")
	client, err := ca.Ensure(pkiDir, pki.Leaf{Name: "kubelet-client", CommonName: "system:node:" + name, Organizations: []string{"system:nodes"}})
	if err != nil {
		return nil, fmt.Errorf("kubelet client certificate: %w", err)
	}
	serving, err := ca.Ensure(pkiDir, pki.Leaf{Name: "kubelet-serving", CommonName: "system:node:" + name,
		DNSNames: []string{name}, IPs: []net.IP{net.ParseIP(nodeIP)}, Server: true})
	if err != nil {
		return nil, fmt.Errorf("kubelet serving certificate: %w", err)
	}
	cgroup, err := ensureCgroupRoot(name)
	if err != nil {
		return nil, err
	}
	conf, err := cniConfig(i, filepath.Join(n.dir, "cni/ipam"))
	if err != nil {
		return nil, err
	}
	files := map[string]string{
		"cni/net.d/10-kubicle.conflist": string(conf),
		"containerd/config.toml":        containerdConfig(n.dir, nodeIP),
		"kubelet/config.yaml":           kubeletConfig(n.dir, nodeIP, KubeletPort(i), kubeletHealthzPort(i), cgroup, ca.CertFile, serving.CertFile, serving.KeyFile),
		"kubelet/kubeconfig":            kubeconfig(ns.o.Server, ca.CertFile, client.CertFile, client.KeyFile),
	}
	for rel, content := range files {
		if err := os.WriteFile(filepath.Join(n.dir, rel), []byte(content), 0o600); err != nil {
			return nil, err
		}
	}

	if n.containerd, err = startAgent(n.dir, "containerd", "containerd", "--config", filepath.Join(n.dir, "containerd/config.toml")); err != nil {
		return n, err
	}
	if err := waitFor(ctx, "containerd", time.Minute, n.containerd.done, func() error { return ctr(n.socket(), "version") }); err != nil {
		return n, fmt.Errorf("%w; last lines of %s:\n%s", err, n.containerd.log, tail(n.containerd.log, 10))
	}
	if err := LoadImages(n.socket(), ns.o.Images...); err != nil {
		return n, err
	}
	n.kubelet, err = startAgent(n.dir, "kubelet", ns.o.NodeBinary, "kubelet",
		"--config", filepath.Join(n.dir, "kubelet/config.yaml"),
		"--kubeconfig", filepath.Join(n.dir, "kubelet/kubeconfig"),
		"--root-dir", filepath.Join(n.dir, "kubelet"),
		"--cert-dir", pkiDir,
		"--hostname-override", name,
		"--node-ip", nodeIP,
		"--node-labels", NodeLabel+"=true",
	)
	return n, err
}

func (ns *Nodes) startProxy(ca *pki.CA) error {
	dir := filepath.Join(ns.o.Dir, "kube-proxy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cert, err := ca.Ensure(dir, pki.Leaf{Name: "kube-proxy", CommonName: "system:kube-proxy"})
	if err != nil {
		return fmt.Errorf("kube-proxy certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(kubeconfig(ns.o.Server, ca.CertFile, cert.CertFile, cert.KeyFile)), 0o600); err != nil {
		return err
	}
	// One kube-proxy for the machine: every node shares its network namespace, and two
	// proxies would rewrite each other's rules.
	ns.proxy, err = startAgent(dir, "kube-proxy", ns.o.NodeBinary, proxyArgs(dir)...)
	return err
}

func proxyArgs(dir string) []string {
	return []string{"kube-proxy",
		"--kubeconfig", filepath.Join(dir, "kubeconfig"),
		"--proxy-mode", "iptables",
		"--hostname-override", NodeName(0),
		"--cluster-cidr", PodCIDR,
		"--bind-address", NodeIP,
		"--healthz-bind-address", NodeIP + ":10256",
		"--metrics-bind-address", NodeIP + ":10249",
		// Leave the machine's conntrack limits and timeouts as they are.
		"--conntrack-max-per-core", "0",
		"--conntrack-tcp-timeout-established", "0",
		"--conntrack-tcp-timeout-close-wait", "0",
	}
}

// Stop stops every agent and removes what the nodes created on the machine.
func (ns *Nodes) Stop() error {
	select {
	case <-ns.stopped:
		return nil
	default:
		close(ns.stopped)
	}
	var errs []error
	for _, n := range ns.nodes {
		n.kubelet.stop(agentStopGrace)
	}
	ns.proxy.stop(agentStopGrace)
	ns.netpol.stop(agentStopGrace)
	for _, n := range ns.nodes {
		errs = append(errs, teardownNode(n.dir, n.i, ns.o.NodeBinary, n.containerd))
	}
	errs = append(errs, teardownMachine(ns.o.Dir, ns.o.NodeBinary, len(ns.nodes)))
	return errors.Join(errs...)
}

// teardownNode removes a node whose kubelet is stopped: its pods through CRI (which
// runs CNI DEL), then containerd and the shims it left, then mounts, cgroups, its
// bridge and its address. containerd may be nil (after a crash): it is started again
// for the CRI part.
func teardownNode(dir string, i int, nodeBinary string, containerd *agent) error {
	var errs []error
	socket := filepath.Join(dir, "containerd.sock")
	if containerd == nil {
		// containerd's streaming server listens on the node address.
		_ = addLoopbackAddress(NodeIP)
		if c, err := startAgent(dir, "containerd", "containerd", "--config", filepath.Join(dir, "containerd/config.toml")); err == nil {
			containerd = c
			_ = waitFor(context.Background(), "containerd", 30*time.Second, c.done, func() error { return ctr(socket, "version") })
		}
	}
	if containerd != nil {
		if out, err := exec.Command(nodeBinary, "cri-cleanup", "unix://"+socket).CombinedOutput(); err != nil {
			errs = append(errs, fmt.Errorf("removing the pods of %s: %v: %s", NodeName(i), err, strings.TrimSpace(string(out))))
		}
		containerd.stop(agentStopGrace)
	}
	killProcessesMatching(socket)
	if err := unmountUnder(dir); err != nil {
		errs = append(errs, err)
	}
	errs = append(errs, removeCgroupRoot(NodeName(i)), removeLink(bridgeName(i)))
	return errors.Join(errs...)
}

// teardownMachine removes kube-proxy's and the kubelets' iptables rules and the host
// address.
func teardownMachine(dir, nodeBinary string, count int) error {
	var errs []error
	if out, err := exec.Command(nodeBinary, "kube-proxy", "--cleanup").CombinedOutput(); err != nil {
		errs = append(errs, fmt.Errorf("removing kube-proxy's rules: %v: %s", err, strings.TrimSpace(string(out))))
	}
	errs = append(errs, removeKubeletChains(), removeNetpolRules(), removeLoopbackAddress(NodeIP), removeLoopbackAddress(HostIP))
	return errors.Join(errs...)
}

// Cleanup removes real nodes whose host stopped without Stop (killed, or the machine
// lost power): it stops the agents recorded under dir and removes what the nodes
// created. It does nothing when dir holds no nodes.
func Cleanup(dir, nodeBinary string) error {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return err
	}
	var errs []error
	count := 0
	for _, a := range []string{"kube-proxy", "netpol"} {
		if _, err := os.Stat(filepath.Join(dir, a, a+".pid")); err == nil {
			count++
			killRecorded(filepath.Join(dir, a), a, a)
		}
	}
	for _, addr := range []string{NodeIP, HostIP} {
		if has, _ := hasLoopbackAddress(addr); has {
			count++
		}
	}
	for _, e := range entries {
		i, ok := strings.CutPrefix(e.Name(), "kubicle-real-")
		n, err := strconv.Atoi(i)
		if !ok || err != nil || !e.IsDir() {
			continue
		}
		nd := filepath.Join(dir, e.Name())
		if !needsTeardown(nd, n) {
			continue // stopped cleanly: nothing of it is left on the machine
		}
		count++
		killRecorded(nd, "kubelet", "kubelet")
		killRecorded(nd, "containerd", "containerd")
		errs = append(errs, teardownNode(nd, n, nodeBinary, nil))
	}
	if count > 0 {
		errs = append(errs, teardownMachine(dir, nodeBinary, count))
	}
	return errors.Join(errs...)
}

// LoadImages imports OCI image tarballs into the containerd at socket, in the
// namespace the kubelet uses.
func LoadImages(socket string, files ...string) error {
	for _, f := range files {
		if err := ctr(socket, "images", "import", f); err != nil {
			return fmt.Errorf("loading image %s: %w", f, err)
		}
	}
	return nil
}

// ctr runs containerd's client against socket in the kubelet's namespace.
func ctr(socket string, args ...string) error {
	out, err := exec.Command("ctr", append([]string{"--address", socket, "--namespace", "k8s.io"}, args...)...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ctr %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// Sockets returns the containerd sockets of the real nodes under dir, for loading
// images into a running host.
func Sockets(dir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(dir, "kubicle-real-*", "containerd.sock"))
	if err != nil {
		return nil, err
	}
	return matches, nil
}

// needsTeardown reports whether real node i, whose state is in dir, left anything on
// the machine: a recorded agent, a mount, its bridge or its address.
func needsTeardown(dir string, i int) bool {
	for _, name := range []string{"containerd.pid", "kubelet.pid"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			return true
		}
	}
	if mounted, _ := hasMountsUnder(dir); mounted {
		return true
	}
	_, err := net.InterfaceByName(bridgeName(i))
	return err == nil
}

// netpolUser is the identity of the network policy controller, and netpolRole the
// ClusterRole that lets it read what it enforces.
const (
	netpolUser = "kubicle:real-node-netpol"
	netpolRole = "kubicle:real-node-netpol"
)

// startNetpol grants the network policy controller its permissions and starts it:
// one for the machine, like kube-proxy, since every node shares its network.
func (ns *Nodes) startNetpol(ctx context.Context, ca *pki.CA) error {
	dir := filepath.Join(ns.o.Dir, "netpol")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := ensureNetpolRBAC(ctx, ns.o.Client); err != nil {
		return err
	}
	cert, err := ca.Ensure(dir, pki.Leaf{Name: "netpol", CommonName: netpolUser})
	if err != nil {
		return fmt.Errorf("network policy controller certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kubeconfig"), []byte(kubeconfig(ns.o.Server, ca.CertFile, cert.CertFile, cert.KeyFile)), 0o600); err != nil {
		return err
	}
	ns.netpol, err = startAgent(dir, "netpol", ns.o.NodeBinary, "netpol",
		"--kubeconfig", filepath.Join(dir, "kubeconfig"),
		"--hostname-override", NodeName(0),
	)
	return err
}

// ensureNetpolRBAC creates (or restores) the ClusterRole and binding of the network
// policy controller: read pods, namespaces, network policies and nodes.
func ensureNetpolRBAC(ctx context.Context, client kubernetes.Interface) error {
	if client == nil {
		return errors.New("no host client to grant the network policy controller its permissions")
	}
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: netpolRole, Labels: map[string]string{NodeLabel: "true"}},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"pods", "namespaces", "nodes"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"networking.k8s.io"}, Resources: []string{"networkpolicies"}, Verbs: []string{"get", "list", "watch"}},
		},
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: netpolRole, Labels: map[string]string{NodeLabel: "true"}},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: netpolRole},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: netpolUser}},
	}
	roles, bindings := client.RbacV1().ClusterRoles(), client.RbacV1().ClusterRoleBindings()
	if _, err := roles.Create(ctx, role, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		_, err = roles.Update(ctx, role, metav1.UpdateOptions{})
		if err != nil {
			return fmt.Errorf("updating ClusterRole %s: %w", netpolRole, err)
		}
	} else if err != nil {
		return fmt.Errorf("creating ClusterRole %s: %w", netpolRole, err)
	}
	if _, err := bindings.Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating ClusterRoleBinding %s: %w", netpolRole, err)
	}
	return nil
}

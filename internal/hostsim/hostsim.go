// Package hostsim runs the embedded host cluster behind `kubicle host up`: a complete
// control plane (kube-apiserver, kube-controller-manager with every host controller,
// kube-scheduler, SQLite store) in this process, plus kwok in a child process that
// turns Node objects into simulated nodes whose pods go Running and serve logs and
// exec. It lets anyone try kubicle on a laptop or in CI with no cluster at hand.
package hostsim

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/spf13/pflag"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/klog/v2"

	"kubicle.dev/kubicle/internal/controlplane"
	"kubicle.dev/kubicle/internal/realnode"
)

// ContextName is the kubeconfig context of the embedded host, as kind names its own.
const ContextName = "kubicle-host"

// nodesReadyTimeout bounds the wait for kwok to mark the nodes Ready; kwok does so
// within a second or two of starting.
const nodesReadyTimeout = time.Minute

// Options configure the embedded host.
type Options struct {
	// StateDir holds the host's data, logs, pid and kubeconfig.
	StateDir string
	// Listen is the API server's address; port 0 picks one and keeps it.
	Listen string
	// Nodes is the number of ordinary simulated nodes.
	Nodes int
	// GPUNodes is the number of simulated GPU nodes.
	GPUNodes int
	// GPUsPerNode is the nvidia.com/gpu capacity of each GPU node.
	GPUsPerNode int
	// GPUProduct is the nvidia.com/gpu.product label of GPU nodes.
	GPUProduct string
	// NodeCPU and NodeMemory are each node's capacity, as resource quantities.
	NodeCPU, NodeMemory string
	// NodePods is how many pods each node takes.
	NodePods int
	// PodCIDR is the range kwok gives simulated pods their IPs from.
	PodCIDR string
	// Executable is the kubicle binary that runs kwok (`kubicle kwok`); default: this one.
	Executable string
	// RealNodes is the number of real nodes: containerd, kubelet and kube-proxy on
	// this machine, running real containers (see internal/realnode). Needs root.
	RealNodes int
	// NodeBinary is the kubicle-node executable of real nodes; default: kubicle-node
	// beside the kubicle binary.
	NodeBinary string
	// Images are OCI image tarballs loaded into every real node; default: every .tar
	// in the images directory beside NodeBinary (what `make images` writes).
	Images []string
}

// NewOptions returns the defaults of `kubicle host up`.
func NewOptions() *Options {
	return &Options{
		Listen: "127.0.0.1:0",
		Nodes:  1,
		// 8 GPUs per node: the size of the common HGX/DGX node.
		GPUsPerNode: 8,
		GPUProduct:  "NVIDIA-H100-80GB-HBM3",
		// A mid-sized cloud VM, so that a few hundred test pods fit on one node.
		NodeCPU:    "16",
		NodeMemory: "64Gi",
		NodePods:   110,
		PodCIDR:    "10.244.0.0/16",
	}
}

// AddFlags binds the options to fs.
func (o *Options) AddFlags(fs *pflag.FlagSet) {
	fs.StringVar(&o.Listen, "listen", o.Listen, "Address of the host API server; port 0 picks a free port once and keeps it")
	fs.IntVar(&o.Nodes, "nodes", o.Nodes, "Number of simulated ordinary nodes")
	fs.IntVar(&o.GPUNodes, "gpu-nodes", o.GPUNodes, "Number of simulated GPU nodes (nvidia.com/gpu capacity, GPU labels, nvidia.com/gpu:NoSchedule taint)")
	fs.IntVar(&o.GPUsPerNode, "gpus-per-node", o.GPUsPerNode, "nvidia.com/gpu capacity of each GPU node")
	fs.StringVar(&o.GPUProduct, "gpu-product", o.GPUProduct, "nvidia.com/gpu.product label of GPU nodes")
	fs.StringVar(&o.NodeCPU, "node-cpu", o.NodeCPU, "CPU capacity of each node")
	fs.StringVar(&o.NodeMemory, "node-memory", o.NodeMemory, "Memory capacity of each node")
	fs.IntVar(&o.NodePods, "node-pods", o.NodePods, "Pod capacity of each node")
	fs.StringVar(&o.PodCIDR, "pod-cidr", o.PodCIDR, "Range of simulated pod IPs")
	fs.IntVar(&o.RealNodes, "real-nodes", o.RealNodes, "Number of real nodes: containerd, kubelet and kube-proxy on this machine, running real containers (needs root; see docs/real-nodes.md)")
	fs.StringVar(&o.NodeBinary, "node-binary", o.NodeBinary, "The kubicle-node binary of real nodes (default: kubicle-node beside kubicle)")
	fs.StringArrayVar(&o.Images, "image", o.Images, "OCI image tarball to load into every real node, repeatable (default: the .tar files in the images directory beside kubicle-node)")
}

// Validate returns every problem with the options.
func (o *Options) Validate() error {
	var errs []error
	if o.StateDir == "" {
		errs = append(errs, errors.New("state directory is required"))
	}
	if o.Nodes < 0 || o.GPUNodes < 0 || o.RealNodes < 0 || o.Nodes+o.GPUNodes+o.RealNodes == 0 {
		errs = append(errs, fmt.Errorf("--nodes %d, --gpu-nodes %d and --real-nodes %d: need at least one node, and no negative counts", o.Nodes, o.GPUNodes, o.RealNodes))
	}
	if o.RealNodes > realnode.MaxNodes {
		errs = append(errs, fmt.Errorf("--real-nodes %d: at most %d", o.RealNodes, realnode.MaxNodes))
	}
	if o.GPUNodes > 0 && o.GPUsPerNode < 1 {
		errs = append(errs, fmt.Errorf("--gpus-per-node %d: must be at least 1", o.GPUsPerNode))
	}
	if o.NodePods < 1 {
		errs = append(errs, fmt.Errorf("--node-pods %d: must be at least 1", o.NodePods))
	}
	if _, _, err := net.ParseCIDR(o.PodCIDR); err != nil {
		errs = append(errs, fmt.Errorf("--pod-cidr %q: not a CIDR", o.PodCIDR))
	}
	if _, err := o.NodeSpecs(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Paths of the files in a host's state directory.
type Paths struct{ dir string }

// PathsFor returns the paths of the state directory dir.
func PathsFor(dir string) Paths { return Paths{dir} }

// Dir is the state directory.
func (p Paths) Dir() string { return p.dir }

// Data is the control plane's data directory.
func (p Paths) Data() string { return filepath.Join(p.dir, "data") }

// Kubeconfig is the host's admin kubeconfig.
func (p Paths) Kubeconfig() string { return filepath.Join(p.Data(), "kubeconfig") }

// Log is where the host writes its logs when detached.
func (p Paths) Log() string { return filepath.Join(p.dir, "host.log") }

// PID holds the pid of the running host.
func (p Paths) PID() string { return filepath.Join(p.dir, "host.pid") }

// ReadyMarker exists while the host is up and ready.
func (p Paths) ReadyMarker() string { return filepath.Join(p.dir, "ready") }

// Kwok is kwok's directory (configuration, simulated logs, exec working directory).
func (p Paths) Kwok() string { return filepath.Join(p.dir, "kwok") }

// Volumes holds the directories of provisioned PersistentVolumes.
func (p Paths) Volumes() string { return filepath.Join(p.dir, "volumes") }

// RealNodes is the real nodes' directory (see internal/realnode).
func (p Paths) RealNodes() string { return filepath.Join(p.dir, "nodes") }

// Info describes a host that is up.
type Info struct {
	// Server is the API server URL.
	Server string
	// Kubeconfig is the admin kubeconfig's path.
	Kubeconfig string
	// Nodes is the number of Ready nodes.
	Nodes int
}

// Run starts the host and serves until ctx is cancelled or a part fails. onReady is
// called once the API server answers and every node is Ready. kwokLog receives kwok's
// output.
func Run(ctx context.Context, o *Options, kwokLog *os.File, onReady func(Info) error) error {
	if err := o.Validate(); err != nil {
		return err
	}
	specs, _ := o.NodeSpecs()
	paths := PathsFor(o.StateDir)
	logger := klog.FromContext(ctx)

	cpo := controlplane.NewOptions()
	cpo.DataDir = paths.Data()
	cpo.Listen = o.Listen
	cpo.Scheduler = true
	cpo.Profile = controlplane.ProfileHost
	cpo.ContextName = ContextName
	var real *realnode.Options
	if o.RealNodes > 0 {
		var err error
		if real, err = o.realNodeOptions(paths); err != nil {
			return err
		}
		// Pods reach the host API through the kubernetes Service, whose endpoint is
		// the API server's advertised address: it must not be loopback, which inside
		// a pod is the pod itself.
		if err := realnode.PrepareHostAddress(); err != nil {
			return err
		}
		if host, port, err := net.SplitHostPort(o.Listen); err == nil && (host == "127.0.0.1" || host == "localhost") {
			cpo.Listen = net.JoinHostPort(realnode.HostIP, port)
		}
		cpo.APIServerArgs = append(cpo.APIServerArgs, "endpoint-reconciler-type=lease")
	}
	completed, err := cpo.Complete()
	if err != nil {
		return err
	}
	cp := controlplane.New(completed)
	cpCtx, stopCP := context.WithCancel(ctx)
	defer stopCP()
	cpDone := make(chan error, 1)
	go func() { cpDone <- cp.Run(cpCtx) }()
	select {
	case err := <-cpDone:
		if err == nil {
			err = ctx.Err()
		}
		return err
	case <-cp.Ready():
	}

	var stops []func()
	stopAll := func() {
		for i := len(stops) - 1; i >= 0; i-- {
			stops[i]()
		}
		stopCP()
		<-cpDone
	}
	client, err := kubernetes.NewForConfig(cp.AdminConfig())
	if err != nil {
		stopAll()
		return err
	}
	if err := EnsureNodes(ctx, client, specs); err != nil {
		stopAll()
		return err
	}
	if err := ensureStorageClass(ctx, client); err != nil {
		stopAll()
		return err
	}
	provCtx, stopProvisioner := context.WithCancel(ctx)
	defer stopProvisioner()
	go runProvisioner(provCtx, client, paths.Volumes())

	var names []string
	failed := make(chan error, 2)
	if len(specs) > 0 {
		kwok, err := o.startKwok(paths, kwokLog)
		if err != nil {
			stopAll()
			return err
		}
		stops = append(stops, func() { kwok.stop(context.Background()) })
		go func() {
			err := <-kwok.done
			kwok.done <- err // for kwok.stop
			failed <- fmt.Errorf("kwok (simulated nodes) stopped: %v; see its log", err)
		}()
		for _, s := range specs {
			names = append(names, s.Name)
		}
	}
	if real != nil {
		real.Server = cp.AdminConfig().Host
		real.Client = client
		if err := removeRealNodesBeyond(ctx, client, o.RealNodes); err != nil {
			stopAll()
			return err
		}
		nodes, err := realnode.Start(ctx, *real)
		if err != nil {
			stopAll()
			return err
		}
		stops = append(stops, func() {
			if err := nodes.Stop(); err != nil {
				logger.Error(err, "Removing real nodes")
			}
		})
		go func() { failed <- <-nodes.Err() }()
		for i := 0; i < o.RealNodes; i++ {
			names = append(names, realnode.NodeName(i))
		}
	}

	ready, err := waitNodes(ctx, client, names, failed)
	if err != nil {
		stopAll()
		return err
	}
	if onReady != nil {
		info := Info{Server: cp.AdminConfig().Host, Kubeconfig: paths.Kubeconfig(), Nodes: ready}
		if err := onReady(info); err != nil {
			stopAll()
			return err
		}
	}
	logger.Info("Host cluster ready", "nodes", ready)

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-cpDone:
		cpDone <- err
		runErr = fmt.Errorf("control plane stopped: %w", err)
	case runErr = <-failed:
	}
	stopAll()
	return runErr
}

// startKwok starts kwok for the simulated nodes.
func (o *Options) startKwok(paths Paths, kwokLog *os.File) (*kwokProcess, error) {
	exe := o.Executable
	if exe == "" {
		var err error
		if exe, err = os.Executable(); err != nil {
			return nil, fmt.Errorf("finding the kubicle binary for kwok: %w", err)
		}
	}
	port, err := kubeletPort(paths)
	if err != nil {
		return nil, err
	}
	pkiDir := filepath.Join(paths.Data(), "pki")
	return startKwok(exe, paths.Kwok(), paths.Kubeconfig(),
		filepath.Join(pkiDir, "kubelet-serving.crt"), filepath.Join(pkiDir, "kubelet-serving.key"),
		port, o.PodCIDR, kwokLog)
}

// realNodeOptions resolves the node binary and the images of real nodes, checks the
// machine, and removes what real nodes of an earlier run that was killed left behind.
func (o *Options) realNodeOptions(paths Paths) (*realnode.Options, error) {
	bin := o.NodeBinary
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding the kubicle binary: %w", err)
		}
		bin = filepath.Join(filepath.Dir(exe), "kubicle-node")
	}
	if err := realnode.CheckPrerequisites(bin); err != nil {
		return nil, err
	}
	images := o.Images
	if len(images) == 0 {
		found, err := filepath.Glob(filepath.Join(filepath.Dir(bin), "images", "*.tar"))
		if err != nil {
			return nil, err
		}
		images = found
	}
	if err := realnode.Cleanup(paths.RealNodes(), bin); err != nil {
		return nil, fmt.Errorf("removing real nodes of an earlier run: %w", err)
	}
	return &realnode.Options{Dir: paths.RealNodes(), Count: o.RealNodes, NodeBinary: bin,
		PKIDir: filepath.Join(paths.Data(), "pki"), Images: images}, nil
}

// removeRealNodesBeyond deletes the Node objects of real nodes that an earlier run had
// and this one does not start.
func removeRealNodesBeyond(ctx context.Context, client kubernetes.Interface, count int) error {
	list, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: realnode.NodeLabel + "=true"})
	if err != nil {
		return fmt.Errorf("listing real nodes: %w", err)
	}
	want := map[string]bool{}
	for i := 0; i < count; i++ {
		want[realnode.NodeName(i)] = true
	}
	for _, n := range list.Items {
		if !want[n.Name] {
			if err := client.CoreV1().Nodes().Delete(ctx, n.Name, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
				return fmt.Errorf("deleting node %s: %w", n.Name, err)
			}
		}
	}
	return nil
}

func waitNodes(ctx context.Context, client kubernetes.Interface, names []string, failed chan error) (int, error) {
	deadline := time.After(nodesReadyTimeout)
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	ready := 0
	for {
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case err := <-failed:
			failed <- err
			return 0, fmt.Errorf("nodes failed during start: %w", err)
		case <-deadline:
			return 0, fmt.Errorf("only %d of %d nodes Ready after %s", ready, len(names), nodesReadyTimeout)
		case <-tick.C:
			n, err := NodesReady(ctx, client, names)
			if err == nil && n == len(names) {
				return n, nil
			}
			ready = n
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port for the kubelet endpoint: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ReadPID returns the pid of the host running from dir, or 0 when none is.
func ReadPID(dir string) int {
	data, err := os.ReadFile(PathsFor(dir).PID())
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(string(trimSpace(data)))
	if err != nil || pid <= 0 || !alive(pid) {
		return 0
	}
	return pid
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == ' ') {
		b = b[:len(b)-1]
	}
	return b
}

package realnode

import (
	"fmt"
	"strings"
)

// SandboxImage is the pod sandbox (pause) image every node's containerd runs; `make
// images` builds it and the host loads it into each node.
const SandboxImage = "kubicle.dev/pause:3.10"

// containerdConfig renders the configuration of node i's containerd: everything it
// keeps (root, state, runc state, sockets) under dir, so that several nodes and any
// containerd of the machine itself never share a file. restrict_oom_score_adj keeps
// the kubelet's negative OOM scores from failing on machines that refuse them
// (NOTES.md).
func containerdConfig(dir, nodeIP string) string {
	q := func(s string) string { return fmt.Sprintf("%q", s) }
	lines := []string{
		`version = 2`,
		`root = ` + q(dir+"/containerd/root"),
		`state = ` + q(dir+"/containerd/state"),
		`disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]`,
		``,
		`[grpc]`,
		`  address = ` + q(dir+"/containerd.sock"),
		`[ttrpc]`,
		`  address = ` + q(dir+"/containerd.sock.ttrpc"),
		`[debug]`,
		`  address = ""`,
		`[metrics]`,
		`  address = ""`,
		``,
		`[plugins."io.containerd.internal.v1.opt"]`,
		`  path = ` + q(dir+"/containerd/opt"),
		`[plugins."io.containerd.grpc.v1.cri"]`,
		`  sandbox_image = ` + q(SandboxImage),
		`  restrict_oom_score_adj = true`,
		`  stream_server_address = ` + q(nodeIP),
		`  stream_server_port = "0"`,
		`  enable_selinux = false`,
		`  [plugins."io.containerd.grpc.v1.cri".containerd]`,
		`    snapshotter = "overlayfs"`,
		`    default_runtime_name = "runc"`,
		`    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]`,
		`      runtime_type = "io.containerd.runc.v2"`,
		`      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]`,
		`        SystemdCgroup = false`,
		`        Root = ` + q(dir+"/containerd/runc"),
		`  [plugins."io.containerd.grpc.v1.cri".cni]`,
		`    bin_dir = ` + q(CNIBinDir),
		`    conf_dir = ` + q(dir+"/cni/net.d"),
		`  [plugins."io.containerd.grpc.v1.cri".registry]`,
		`    config_path = ""`,
	}
	return strings.Join(lines, "\n") + "\n"
}

// kubeletConfig renders node i's KubeletConfiguration. Each node's kubelet serves on
// its own address, keeps its pods under a cgroup of its own (cgroupRoot), so that
// kubelets on one machine never take each other's pod cgroups for orphans, and writes
// pod logs under its own directory. Eviction thresholds are low: a CI machine's disk
// must not taint the node.
func kubeletConfig(dir, nodeIP string, port, healthzPort int, cgroupRoot, caFile, certFile, keyFile string) string {
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %[2]s
port: %[7]d
readOnlyPort: 0
healthzBindAddress: %[2]s
healthzPort: %[8]d
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: %[4]q
authorization:
  mode: Webhook
tlsCertFile: %[5]q
tlsPrivateKeyFile: %[6]q
containerRuntimeEndpoint: unix://%[1]s/containerd.sock
cgroupDriver: cgroupfs
cgroupRoot: %[3]s
cgroupsPerQOS: true
enforceNodeAllocatable: [pods]
failCgroupV1: false
failSwapOn: false
clusterDomain: cluster.local
resolvConf: /etc/resolv.conf
podLogsDir: %[1]s/pod-logs
volumePluginDir: %[1]s/kubelet/volume-plugins
serializeImagePulls: false
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: 50Mi
  nodefs.available: "1%%"
  nodefs.inodesFree: "1%%"
  imagefs.available: "1%%"
protectKernelDefaults: false
rotateCertificates: false
serverTLSBootstrap: false
registerNode: true
`, dir, nodeIP, cgroupRoot, caFile, certFile, keyFile, port, healthzPort)
}

// kubeconfig renders a kubeconfig for a client certificate.
func kubeconfig(server, caFile, certFile, keyFile string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: host
  cluster:
    server: %s
    certificate-authority: %q
users:
- name: agent
  user:
    client-certificate: %q
    client-key: %q
contexts:
- name: host
  context:
    cluster: host
    user: agent
current-context: host
`, server, caFile, certFile, keyFile)
}

package hostsim

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	nodefast "sigs.k8s.io/kwok/kustomize/stage/node/fast"
	podfast "sigs.k8s.io/kwok/kustomize/stage/pod/fast"
)

// kwokConfig is the configuration kwok reads: its own stages for node and pod
// lifecycles (shipped in the kwok module), plus log, attach, exec and port-forward
// simulation for every pod.
// Exec runs the command as a real process on this machine in workDir: kwok's local
// exec is not sandboxed, which is why the kubelet endpoint listens on loopback only.
func kwokConfig(logFile, workDir string) string {
	docs := []string{
		nodefast.DefaultNodeInit,
		nodeHeartbeat,
		podfast.DefaultPodReady,
		podfast.DefaultPodComplete,
		podfast.DefaultPodDelete,
		fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterLogs
metadata:
  name: kubicle-simulated-logs
spec:
  logs:
  - logsFile: %q
    follow: true
`, logFile),
		fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterAttach
metadata:
  name: kubicle-simulated-attach
spec:
  attaches:
  - logsFile: %q
`, logFile),
		// Port-forward to any port of a simulated pod reaches an echo (cat): what
		// the client sends comes back, which proves the whole path.
		`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterPortForward
metadata:
  name: kubicle-simulated-port-forward
spec:
  forwards:
  - command: ["cat"]
`,
		fmt.Sprintf(`apiVersion: kwok.x-k8s.io/v1alpha1
kind: ClusterExec
metadata:
  name: kubicle-simulated-exec
spec:
  execs:
  - local:
      workDir: %q
`, workDir),
	}
	for i, d := range docs {
		docs[i] = strings.TrimSpace(d)
	}
	return strings.Join(docs, "\n---\n") + "\n"
}

// nodeHeartbeat is the stage that keeps a simulated node's status current: its
// conditions, and its addresses and kubelet port, which the API server needs to
// reach kwok's kubelet API for logs, exec and port-forward. It writes the
// addresses from kwok's --node-ip and the node's name on every beat; kwok's own
// stages write them only when some are missing, and a node whose status lost
// them (see --node-lease-duration-seconds) answered a simulated pod's logs with
// "no preferred addresses found" until the next initialization.
const nodeHeartbeat = `apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata:
  name: kubicle-node-heartbeat
spec:
  resourceRef:
    apiGroup: v1
    kind: Node
  selector:
    matchExpressions:
    - key: '.status.phase'
      operator: 'In'
      values: ['Running']
    - key: '.status.conditions.[] | select( .type == "Ready" ) | .status'
      operator: 'In'
      values: ['True']
  delay:
    durationMilliseconds: 60000
    jitterDurationMilliseconds: 90000
  next:
    statusTemplate: |
      {{ $now := Now }}
      {{ $since := or .metadata.creationTimestamp $now }}
      conditions:
      {{ range NodeConditions }}
      - type: {{ .type | Quote }}
        status: {{ .status | Quote }}
        reason: {{ .reason | Quote }}
        message: {{ .message | Quote }}
        lastHeartbeatTime: {{ $now | Quote }}
        lastTransitionTime: {{ $since | Quote }}
      {{ end }}
      addresses:
      - type: InternalIP
        address: {{ NodeIP | Quote }}
      - type: Hostname
        address: {{ .metadata.name | Quote }}
      {{ with NodePort }}
      daemonEndpoints:
        kubeletEndpoint:
          Port: {{ . }}
      {{ end }}
`

// containerLog is what every simulated container prints, in the CRI log format that
// kwok requires ("unsupported log format" otherwise).
func containerLog(now time.Time) string {
	ts := now.UTC().Format(time.RFC3339Nano)
	lines := []string{
		"kubicle simulated node: this container is simulated by kwok; no process runs",
		"kubicle simulated node: kubectl logs and kubectl exec reach it through the kubelet API",
	}
	var b strings.Builder
	for _, l := range lines {
		fmt.Fprintf(&b, "%s stdout F %s\n", ts, l)
	}
	return b.String()
}

// kwokProcess is a running kwok child process.
type kwokProcess struct {
	cmd  *exec.Cmd
	done chan error
}

// startKwok writes kwok's configuration under dir and starts `kubicle kwok` (exe) as a
// child process that manages the simulated nodes. The child gets SIGTERM when this
// process dies, so a killed host leaves no kwok behind.
func startKwok(exe, dir, kubeconfig, certFile, keyFile string, port int, podCIDR string, logTo *os.File) (*kwokProcess, error) {
	if err := os.MkdirAll(filepath.Join(dir, "exec"), 0o755); err != nil {
		return nil, fmt.Errorf("preparing kwok directory: %w", err)
	}
	logFile := filepath.Join(dir, "container.log")
	if err := os.WriteFile(logFile, []byte(containerLog(time.Now())), 0o644); err != nil {
		return nil, fmt.Errorf("writing simulated container log: %w", err)
	}
	cfgFile := filepath.Join(dir, "kwok.yaml")
	if err := os.WriteFile(cfgFile, []byte(kwokConfig(logFile, filepath.Join(dir, "exec"))), 0o644); err != nil {
		return nil, fmt.Errorf("writing kwok configuration: %w", err)
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	cmd := exec.Command(exe, "kwok",
		"--config="+cfgFile,
		"--kubeconfig="+kubeconfig,
		"--manage-nodes-with-annotation-selector="+kwokAnnotation+"=fake",
		"--node-ip=127.0.0.1",
		// Node Leases, renewed as a kubelet does: without them the controller
		// manager marks every simulated node NotReady 40 s after its last status
		// beat, kwok initializes it again, and that drops its addresses.
		"--node-lease-duration-seconds=40",
		"--node-port="+strconv.Itoa(port),
		"--server-address="+addr,
		"--tls-cert-file="+certFile,
		"--tls-private-key-file="+keyFile,
		"--cidr="+podCIDR,
	)
	cmd.Stdout, cmd.Stderr = logTo, logTo
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting kwok: %w", err)
	}
	p := &kwokProcess{cmd: cmd, done: make(chan error, 1)}
	go func() { p.done <- cmd.Wait() }()
	return p, nil
}

// stop sends SIGTERM and waits, killing the process after a grace period.
func (p *kwokProcess) stop(ctx context.Context) {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	case <-ctx.Done():
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

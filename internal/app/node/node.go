// Package node assembles the command tree of kubicle-node: the upstream kubelet and
// kube-proxy commands, unchanged, one per process. Each upstream command parses its
// own flags, sets up its own logging and installs its own signal handling, so each
// runs alone in its process, as upstream's own main packages run them.
package node

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"          // JSON log format, as upstream's mains register it
	_ "k8s.io/component-base/metrics/prometheus/clientgo" // client metrics, likewise
	_ "k8s.io/component-base/metrics/prometheus/version"  // version metric, likewise
	proxyapp "k8s.io/kubernetes/cmd/kube-proxy/app"
	kubeletapp "k8s.io/kubernetes/cmd/kubelet/app"
)

// Main runs `kubicle-node kubelet FLAGS…` or `kubicle-node kube-proxy FLAGS…` and
// returns the process exit code; the upstream command has printed any error.
// `kubicle-node netpol FLAGS…` runs kube-router's network policy controller.
// `kubicle-node cri-cleanup ENDPOINT` stops and removes every pod sandbox of a
// container runtime, which the embedded host does before it stops a node.
func Main(args []string) (int, error) {
	if len(args) == 0 {
		return 2, fmt.Errorf("usage: kubicle-node kubelet|kube-proxy [flags]")
	}
	var cmd *cobra.Command
	switch args[0] {
	case "netpol":
		if err := runNetpol(args[1:]); err != nil {
			return 1, err
		}
		return 0, nil
	case "cri-cleanup":
		if len(args) != 2 {
			return 2, fmt.Errorf("usage: kubicle-node cri-cleanup ENDPOINT")
		}
		if err := criCleanup(args[1]); err != nil {
			return 1, err
		}
		return 0, nil
	case "kubelet":
		cmd = kubeletapp.NewKubeletCommand(context.Background())
	case "kube-proxy":
		cmd = proxyapp.NewProxyCommand()
	default:
		return 2, fmt.Errorf("unknown agent %q: kubicle-node runs kubelet, kube-proxy, netpol or cri-cleanup", args[0])
	}
	cmd.SetArgs(args[1:])
	return cli.Run(cmd), nil
}

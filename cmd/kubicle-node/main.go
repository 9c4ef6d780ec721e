// Command kubicle-node runs the node agents of the embedded host's real nodes:
// kubelet and kube-proxy 1.37.2, built from the Kubernetes module. It is a binary of
// its own so that the kubicle binary, which every control plane maps, does not grow
// by the node agents' code. `kubicle host up --real-nodes N` starts it; it is not
// meant to be run by hand.
package main

import (
	"fmt"
	"os"

	"kubicle.dev/kubicle/internal/app/node"
)

func main() {
	code, err := node.Main(os.Args[1:])
	if err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
	}
	os.Exit(code)
}

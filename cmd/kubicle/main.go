// Command kubicle is the single binary of kubicle: the lifecycle CLI, the virtual
// control plane, the operator and the embedded host cluster.
package main

import (
	"fmt"
	"os"

	"kubicle.dev/kubicle/internal/app"
	"kubicle.dev/kubicle/internal/app/cli"
)

func main() {
	if err := app.Main(os.Args[1:], cli.Std()); err != nil {
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

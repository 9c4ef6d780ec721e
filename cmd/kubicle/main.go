// Command kubicle is the single binary of kubicle: the lifecycle CLI, the virtual
// control plane, the operator and the embedded host cluster.
package main

import (
	"errors"
	"fmt"
	"os"

	"kubicle.dev/kubicle/internal/app"
	"kubicle.dev/kubicle/internal/app/cli"
	"kubicle.dev/kubicle/internal/lifecycle"
)

func main() {
	if err := app.Main(os.Args[1:], cli.Std()); err != nil {
		// `kubicle connect NAME -- CMD` exits as CMD did, which has said why.
		var exit *lifecycle.ExitError
		if errors.As(err, &exit) {
			os.Exit(exit.Code)
		}
		fmt.Fprintf(os.Stderr, "Error: %v\n", err)
		os.Exit(1)
	}
}

// Package version reports the versions of kubicle and of the Kubernetes it embeds.
// Both are set at link time (see the Makefile's LDFLAGS).
package version

import (
	"runtime"

	kversion "k8s.io/component-base/version"
)

// Version is kubicle's own version, set with -ldflags "-X kubicle.dev/kubicle/internal/version.Version=…".
var Version = "v0.1.0-dev"

// Info is what `kubicle version` prints.
type Info struct {
	// Kubicle is kubicle's version.
	Kubicle string `json:"kubicle"`
	// Kubernetes is the version the embedded control plane reports (kubectl version).
	Kubernetes string `json:"kubernetes"`
	// Go is the Go version kubicle was built with.
	Go string `json:"go"`
	// Platform is GOOS/GOARCH.
	Platform string `json:"platform"`
}

// Get returns the version information of this binary.
func Get() Info {
	return Info{
		Kubicle:    Version,
		Kubernetes: kversion.Get().GitVersion,
		Go:         runtime.Version(),
		Platform:   runtime.GOOS + "/" + runtime.GOARCH,
	}
}

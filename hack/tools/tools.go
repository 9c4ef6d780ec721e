//go:build tools

// Package tools records the programs the Makefile builds from modules (kubectl for the
// tests), so that `go mod tidy` keeps their dependencies in go.sum.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kubectl"
)

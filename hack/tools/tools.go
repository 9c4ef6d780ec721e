//go:build tools

// Package tools records the programs the Makefile builds from modules (kubectl and
// helm for the tests, agnhost for the test image), so that `go mod tidy` keeps their dependencies in go.sum.
package tools

import (
	_ "helm.sh/helm/v4/cmd/helm"
	_ "k8s.io/kubernetes/cmd/kubectl"
	_ "k8s.io/kubernetes/test/images/agnhost"
)

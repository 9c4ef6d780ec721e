# kubicle's build and test entry points. `make help` lists them.
SHELL := /bin/bash
GO ?= go
BIN := bin/kubicle
KUBE_VERSION := v1.37.2
KUBICLE_VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo v0.1.0-dev)
# The embedded Kubernetes reports its version from these link-time variables; without
# them the API server says v0.0.0-master and clients that parse it fail (NOTES.md).
VERSION_PKG := k8s.io/component-base/version
LDFLAGS := -X $(VERSION_PKG).gitVersion=$(KUBE_VERSION) \
	-X $(VERSION_PKG).gitMajor=1 -X $(VERSION_PKG).gitMinor=37 \
	-X $(VERSION_PKG).gitCommit=kubicle-$(KUBICLE_VERSION) \
	-X $(VERSION_PKG).gitTreeState=clean \
	-X $(VERSION_PKG).buildDate=2026-11-26T00:00:00Z \
	-X k8s.io/client-go/pkg/version.gitVersion=$(KUBE_VERSION) \
	-X kubicle.dev/kubicle/internal/version.Version=$(KUBICLE_VERSION)
export KUBICLE_LDFLAGS := $(LDFLAGS)
# kwok's config loader links kustomize, whose Go-plugin loader imports package plugin.
# A binary that links plugin exports every symbol dynamically (42 MB of .dynsym/.dynstr)
# and loses the linker's dead-method elimination (text +8%); kustomize's own tag drops
# the loader. The control plane maps the whole binary, so this is resident memory of
# every control plane (docs/benchmarks.md). internal/testenv and a test in
# test/boundaries use the same tag.
GO_TAGS := kustomize_disable_go_plugin_support
export GOFLAGS := $(strip $(GOFLAGS) -tags=$(GO_TAGS))

.PHONY: help build node kubectl helm test test-unit test-e2e bench verify lint demo clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'

build: ## build bin/kubicle
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/kubicle

node: ## build bin/kubicle-node (kubelet and kube-proxy of real nodes)
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/kubicle-node ./cmd/kubicle-node

kubectl: bin/kubectl ## build kubectl v1.37.2 from the Kubernetes module into bin/
bin/kubectl: go.mod
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/kubectl k8s.io/kubernetes/cmd/kubectl

helm: bin/helm ## build helm (the version in go.mod) into bin/, for the chart tests
bin/helm: go.mod
	$(GO) build -o bin/helm helm.sh/helm/v4/cmd/helm

test: build kubectl helm ## run every test (unit, integration, end to end)
	KUBICLE_BIN=$(CURDIR)/$(BIN) KUBECTL_BIN=$(CURDIR)/bin/kubectl HELM_BIN=$(CURDIR)/bin/helm $(GO) test -count=1 -timeout 45m ./...

test-unit: ## run the tests that start no servers
	$(GO) test -count=1 -short ./...

test-e2e: build kubectl helm ## run the end-to-end tests against the built binary
	KUBICLE_BIN=$(CURDIR)/$(BIN) KUBECTL_BIN=$(CURDIR)/bin/kubectl HELM_BIN=$(CURDIR)/bin/helm $(GO) test -count=1 -timeout 45m ./test/e2e/...

bench: build ## run the benchmarks recorded in docs/benchmarks.md
	KUBICLE_BIN=$(CURDIR)/$(BIN) $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./bench/...

verify: ## gofmt, go vet, generated files (schema, CRD, docs/config.md) up to date
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run ./hack/gen-config
	@git diff --exit-code -- docs/schema docs/config.md charts/kubicle/crds || { echo "generated files were stale: commit the regenerated ones"; exit 1; }

lint: verify ## alias of verify

demo: build kubectl ## start the embedded host and a virtual control plane, use both with kubectl, stop them
	./hack/demo.sh

clean: ## remove build outputs
	rm -rf bin

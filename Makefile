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

.PHONY: help build node kubectl helm image images test test-unit test-e2e bench verify lint demo clean

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

# Container images (docs/images.md): OCI image-layout tarballs that hack/mkimage builds
# without Docker or a registry, for `ctr images import` and `kubicle host load-image`.
IMAGES := bin/images
MKIMAGE := bin/mkimage
# Image binaries are built with -trimpath and without symbol tables, so that the same
# sources and toolchain give the same bytes in any checkout (docs/images.md).
IMAGE_GOFLAGS := -trimpath
IMAGE_LDFLAGS := $(LDFLAGS) -s -w
# The static kubicle links glibc (cgo, for kine's SQLite) into the binary: netgo and
# osusergo keep out glibc's resolver and user lookup, which dlopen NSS modules at run
# time; sqlite_omit_load_extension drops SQLite's extension loader (dlopen), as k3s's
# static build does. Without them glibc warns at link time that the static binary
# still needs its shared libraries at run time.
STATIC_TAGS := $(GO_TAGS),netgo,osusergo,sqlite_omit_load_extension
# Host files the images copy: Debian's ca-certificates and busybox-static packages.
CA_BUNDLE ?= /etc/ssl/certs/ca-certificates.crt
BUSYBOX ?= /bin/busybox
# The Kubernetes module holds pause.c and agnhost (its VERSION file gives the tag).
# Recursive, so only the image recipes pay for `go list`.
KUBE_DIR = $(shell $(GO) list -m -f '{{.Dir}}' k8s.io/kubernetes)
# What a rebuilt binary depends on. go build's cache makes a false alarm cheap; this
# only spares relinking when nothing changed.
GO_SOURCES := $(shell find cmd internal pkg -name '*.go' -not -name '*_test.go') go.mod go.sum
MKIMAGE_SOURCES := $(filter-out %_test.go,$(wildcard hack/mkimage/*.go internal/image/*.go internal/deploy/*.go)) go.mod go.sum

image: $(IMAGES)/kubicle.tar ## build the kubicle image into bin/images/kubicle.tar (docs/images.md)

images: $(IMAGES)/kubicle.tar $(IMAGES)/pause.tar $(IMAGES)/busybox.tar $(IMAGES)/agnhost.tar $(IMAGES)/kubectl.tar ## build the kubicle, pause, busybox, agnhost and kubectl images into bin/images/

$(IMAGES)/kubicle.tar: bin/kubicle-static $(CA_BUNDLE) $(MKIMAGE)
	$(MKIMAGE) kubicle -o $@ -binary bin/kubicle-static -ca-bundle $(CA_BUNDLE) -version $(KUBICLE_VERSION)

$(IMAGES)/pause.tar: bin/pause $(MKIMAGE)
	$(MKIMAGE) pause -o $@ -binary bin/pause

$(IMAGES)/busybox.tar: $(BUSYBOX) $(MKIMAGE)
	$(MKIMAGE) busybox -o $@ -busybox $(BUSYBOX)

$(IMAGES)/agnhost.tar: bin/agnhost $(BUSYBOX) $(MKIMAGE)
	$(MKIMAGE) agnhost -o $@ -binary bin/agnhost -busybox $(BUSYBOX) -source $(KUBE_DIR)/test/images/agnhost

$(IMAGES)/kubectl.tar: bin/kubectl-static $(BUSYBOX) $(MKIMAGE)
	$(MKIMAGE) kubectl -o $@ -binary bin/kubectl-static -busybox $(BUSYBOX) -version $(KUBE_VERSION)

$(MKIMAGE): $(MKIMAGE_SOURCES)
	$(GO) build -o $@ ./hack/mkimage

# The kubicle binary of the image: static, so that the image needs no libc. `make
# build` keeps building the dynamic bin/kubicle that the tests run.
bin/kubicle-static: $(GO_SOURCES)
	CGO_ENABLED=1 $(GO) build $(IMAGE_GOFLAGS) -tags=$(STATIC_TAGS) \
		-ldflags "$(IMAGE_LDFLAGS) -linkmode external -extldflags -static" -o $@ ./cmd/kubicle
	@if ! file $@ | grep -q 'statically linked' || ldd $@ >/dev/null 2>&1; then \
		file $@; rm -f $@; echo "$@ is not statically linked" >&2; exit 1; fi
	./$@ version >/dev/null

# The pause program of Kubernetes' own pause image, compiled as its Makefile does.
bin/pause: go.mod
	mkdir -p bin
	gcc -Os -Wall -Werror -static -DVERSION=v3.10.2-kubicle -o $@ $(KUBE_DIR)/build/pause/linux/pause.c
	strip $@

bin/agnhost: go.mod
	CGO_ENABLED=0 $(GO) build $(IMAGE_GOFLAGS) -ldflags "$(IMAGE_LDFLAGS)" -o $@ k8s.io/kubernetes/test/images/agnhost

# kubectl for the kubectl image, built as agnhost is (static, no cgo), so the two
# share their compiled client packages.
bin/kubectl-static: go.mod
	CGO_ENABLED=0 $(GO) build $(IMAGE_GOFLAGS) -ldflags "$(IMAGE_LDFLAGS)" -o $@ k8s.io/kubernetes/cmd/kubectl

$(CA_BUNDLE):
	@echo "$@ is missing: apt-get install ca-certificates" >&2; exit 1

$(BUSYBOX):
	@echo "$@ is missing: apt-get install busybox-static" >&2; exit 1

test: build node images kubectl helm ## run every test (unit, integration, end to end; real nodes need root, see docs/real-nodes.md)
	KUBICLE_BIN=$(CURDIR)/$(BIN) KUBECTL_BIN=$(CURDIR)/bin/kubectl HELM_BIN=$(CURDIR)/bin/helm $(GO) test -count=1 -timeout 45m ./...

test-unit: ## run the tests that start no servers
	$(GO) test -count=1 -short ./...

test-e2e: build node images kubectl helm ## run the end-to-end tests against the built binary
	KUBICLE_BIN=$(CURDIR)/$(BIN) KUBECTL_BIN=$(CURDIR)/bin/kubectl HELM_BIN=$(CURDIR)/bin/helm $(GO) test -count=1 -timeout 45m ./test/e2e/...

bench: build node images kubectl ## run the benchmarks recorded in docs/benchmarks.md (the real-node one needs root, see docs/real-nodes.md)
	KUBICLE_BIN=$(CURDIR)/$(BIN) KUBECTL_BIN=$(CURDIR)/bin/kubectl $(GO) test -run '^$$' -bench . -benchtime 1x -timeout 60m ./bench/...

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

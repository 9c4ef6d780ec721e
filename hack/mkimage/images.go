package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/internal/image"
)

// Image names. The pause, busybox and agnhost names mirror the upstream
// images (registry.k8s.io/pause, registry.k8s.io/e2e-test-images/...) under
// kubicle.dev, since real nodes of the embedded host reach no registry.
const (
	// kubicleRef is the image pod-driven control planes run by default.
	kubicleRef = deploy.DefaultImage
	// pauseRef must match the sandbox image that real nodes' containerd is
	// configured with (internal/realnode.SandboxImage).
	pauseRef    = "kubicle.dev/pause:3.10"
	busyboxRef  = "kubicle.dev/e2e-test-images/busybox:1.36.1-1"
	agnhostRepo = "kubicle.dev/e2e-test-images/agnhost"
	kubectlRepo = "kubicle.dev/kubectl"
)

// kubicleUID is the user (and group) the kubicle image runs as: non-root, the
// number distroless images give their "nonroot" user.
const kubicleUID = 65532

// defaultPath is the PATH of every image's containers.
const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// kubicle is the image of the one kubicle binary, which plays every role in a
// cluster (operator, pod-driven control planes): the static binary, CA
// certificates for the control planes' clients, and a non-root user with a
// writable home in /var/lib/kubicle.
func kubicle(in inputs) (image.Spec, string, error) {
	if err := in.need("binary", "ca-bundle"); err != nil {
		return image.Spec{}, "", err
	}
	labels := map[string]string{"org.opencontainers.image.title": "kubicle"}
	if in.version != "" {
		labels["org.opencontainers.image.version"] = in.version
	}
	layer := image.Layer{
		{Path: "/usr/local/bin/kubicle", Mode: 0o755, Source: in.binary},
		{Path: "/etc/ssl/certs/ca-certificates.crt", Mode: 0o644, Source: in.caBundle},
		{Path: "/etc/passwd", Mode: 0o644, Content: []byte(
			"root:x:0:0:root:/root:/sbin/nologin\n" +
				"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n" +
				fmt.Sprintf("kubicle:x:%d:%d:kubicle:/var/lib/kubicle:/sbin/nologin\n", kubicleUID, kubicleUID))},
		{Path: "/etc/group", Mode: 0o644, Content: []byte(
			"root:x:0:\nnobody:x:65534:\n" + fmt.Sprintf("kubicle:x:%d:\n", kubicleUID))},
		// Go's resolver reads it for the order of /etc/hosts and DNS.
		{Path: "/etc/nsswitch.conf", Mode: 0o644, Content: []byte("hosts: files dns\n")},
		{Path: "/root", Mode: fs.ModeDir | 0o700},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
		{Path: "/var/lib/kubicle", Mode: fs.ModeDir | 0o755, UID: kubicleUID, GID: kubicleUID},
	}
	return image.Spec{
		Layers: []image.Layer{layer},
		Config: image.Config{
			Entrypoint: []string{"/usr/local/bin/kubicle"},
			User:       fmt.Sprintf("%d:%d", kubicleUID, kubicleUID),
			Env:        []string{defaultPath},
			WorkingDir: "/var/lib/kubicle",
			Labels:     labels,
		},
	}, kubicleRef, nil
}

// pause is Kubernetes' pause image: the static pause program that holds a
// pod's namespaces, as user 65535 like upstream's.
func pause(in inputs) (image.Spec, string, error) {
	if err := in.need("binary"); err != nil {
		return image.Spec{}, "", err
	}
	return image.Spec{
		Layers: []image.Layer{{{Path: "/pause", Mode: 0o755, Source: in.binary}}},
		Config: image.Config{
			Entrypoint: []string{"/pause"},
			User:       "65535:65535",
			Env:        []string{defaultPath},
		},
	}, pauseRef, nil
}

// applets are the busybox commands linked into /bin: those the Kubernetes
// end-to-end tests and everyday debugging run.
var applets = []string{
	"cat", "date", "echo", "env", "false", "grep", "head", "hostname", "id", "ls",
	"mkdir", "nc", "nslookup", "ping", "printf", "ps", "rm", "sed", "sh", "sleep",
	"tail", "test", "touch", "true", "wc", "wget",
}

// busyboxUsers are the busybox image's users and groups.
const (
	busyboxPasswd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/home:/bin/false\n"
	busyboxGroup  = "root:x:0:\nnobody:x:65534:\n"
)

// busyboxLayer is the busybox image's one layer, also the bottom layer of the
// agnhost image, as upstream's agnhost has a shell: the same inputs give the
// same layer, which containerd stores once.
func busyboxLayer(busybox string) image.Layer {
	layer := image.Layer{
		{Path: "/bin/busybox", Mode: 0o755, Source: busybox},
		{Path: "/etc/passwd", Mode: 0o644, Content: []byte(busyboxPasswd)},
		{Path: "/etc/group", Mode: 0o644, Content: []byte(busyboxGroup)},
		{Path: "/root", Mode: fs.ModeDir | 0o700},
		{Path: "/tmp", Mode: fs.ModeDir | fs.ModeSticky | 0o777},
	}
	for _, a := range applets {
		layer = append(layer, image.File{Path: "/bin/" + a, Mode: fs.ModeSymlink | 0o777, Target: "busybox"})
	}
	return layer
}

// busybox is the busybox image of the Kubernetes end-to-end tests: Debian's
// static busybox with its common applets, running sh by default.
func busybox(in inputs) (image.Spec, string, error) {
	if err := in.need("busybox"); err != nil {
		return image.Spec{}, "", err
	}
	return image.Spec{
		Layers: []image.Layer{busyboxLayer(in.busybox)},
		Config: image.Config{Cmd: []string{"sh"}, Env: []string{defaultPath}},
	}, busyboxRef, nil
}

// agnhostVersion matches the VERSION file of agnhost, which upstream's image
// build uses verbatim as the tag (2.66.1).
var agnhostVersion = regexp.MustCompile(`^2\.[0-9]+(\.[0-9]+)?$`)

// agnhost is the end-to-end tests' Swiss-army image: the agnhost binary on
// top of the busybox layer, with what upstream's Dockerfile adds (the
// agnhost-2 link, /uploads, porter's certificate, and the user and group the
// supplemental-groups tests expect in the image).
func agnhost(in inputs) (image.Spec, string, error) {
	if err := in.need("binary", "busybox", "source"); err != nil {
		return image.Spec{}, "", err
	}
	raw, err := os.ReadFile(filepath.Join(in.source, "VERSION"))
	if err != nil {
		return image.Spec{}, "", err
	}
	version := strings.TrimSpace(string(raw))
	if !agnhostVersion.MatchString(version) {
		return image.Spec{}, "", fmt.Errorf("%s: version %q is not 2.N or 2.N.M", filepath.Join(in.source, "VERSION"), version)
	}
	const uid, gid = 1000, 50000
	layer := image.Layer{
		{Path: "/agnhost", Mode: 0o755, Source: in.binary},
		{Path: "/agnhost-2", Mode: fs.ModeSymlink | 0o777, Target: "agnhost"},
		{Path: "/uploads", Mode: fs.ModeDir | 0o755},
		{Path: "/localhost.crt", Mode: 0o644, Source: filepath.Join(in.source, "porter", "localhost.crt")},
		{Path: "/localhost.key", Mode: 0o644, Source: filepath.Join(in.source, "porter", "localhost.key")},
		{Path: "/etc/passwd", Mode: 0o644, Content: []byte(busyboxPasswd +
			fmt.Sprintf("user-defined-in-image:x:%d:%d::/home/user-defined-in-image:/bin/sh\n", uid, uid))},
		{Path: "/etc/group", Mode: 0o644, Content: []byte(busyboxGroup +
			fmt.Sprintf("user-defined-in-image:x:%d:\ngroup-defined-in-image:x:%d:user-defined-in-image\n", uid, gid))},
		{Path: "/home/user-defined-in-image", Mode: fs.ModeDir | 0o755, UID: uid, GID: uid},
	}
	return image.Spec{
		Layers: []image.Layer{busyboxLayer(in.busybox), layer},
		Config: image.Config{
			Entrypoint: []string{"/agnhost"},
			Cmd:        []string{"pause"},
			Env:        []string{defaultPath},
		},
	}, agnhostRepo + ":" + version, nil
}

// kubectlVersion is the form of a kubectl release tag (v1.37.2), which the
// kubectl image uses as its own, like upstream's registry.k8s.io/kubectl.
var kubectlVersion = regexp.MustCompile(`^v1\.[0-9]+\.[0-9]+$`)

// kubectl is the image of a pod that talks to its cluster's API server with
// the in-cluster configuration, as upstream's kubectl image: a static kubectl
// on top of the busybox layer (a shell for `sh -c` scripts), run as the
// unprivileged nobody user. -version is kubectl's version and the image's tag.
func kubectl(in inputs) (image.Spec, string, error) {
	if err := in.need("binary", "busybox", "version"); err != nil {
		return image.Spec{}, "", err
	}
	if !kubectlVersion.MatchString(in.version) {
		return image.Spec{}, "", fmt.Errorf("version %q is not a kubectl release (v1.N.M)", in.version)
	}
	return image.Spec{
		Layers: []image.Layer{busyboxLayer(in.busybox), {{Path: "/bin/kubectl", Mode: 0o755, Source: in.binary}}},
		Config: image.Config{
			Entrypoint: []string{"/bin/kubectl"},
			User:       "65534:65534",
			Env:        []string{defaultPath},
			Labels:     map[string]string{"org.opencontainers.image.title": "kubectl", "org.opencontainers.image.version": in.version},
		},
	}, kubectlRepo + ":" + in.version, nil
}

package realnode

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// CNIBinDir is where Debian's containernetworking-plugins package installs the
// plugins.
const CNIBinDir = "/usr/lib/cni"

// requirement is one thing a real node needs on the machine, with the Debian package
// that provides it.
type requirement struct {
	what    string
	found   func() bool
	pkg     string
	problem string
}

func onPath(name string) func() bool {
	return func() bool { _, err := exec.LookPath(name); return err == nil }
}

func fileExists(path string) func() bool {
	return func() bool { _, err := os.Stat(path); return err == nil }
}

// CheckPrerequisites reports, in one error, everything missing for real nodes on this
// machine: root, the container runtime, the CNI plugins, iptables and the node agents
// binary. nodeBinary is the kubicle-node executable.
func CheckPrerequisites(nodeBinary string) error {
	reqs := []requirement{
		{what: "containerd", found: onPath("containerd"), pkg: "containerd"},
		{what: "ctr", found: onPath("ctr"), pkg: "containerd"},
		{what: "runc", found: onPath("runc"), pkg: "runc"},
		{what: "iptables", found: onPath("iptables"), pkg: "iptables"},
		{what: "ipset", found: onPath("ipset"), pkg: "ipset"},
		{what: "ip", found: onPath("ip"), pkg: "iproute2"},
		{what: "conntrack", found: onPath("conntrack"), pkg: "conntrack"},
	}
	for _, p := range []string{"bridge", "host-local", "loopback", "portmap"} {
		reqs = append(reqs, requirement{what: "CNI plugin " + p, found: fileExists(filepath.Join(CNIBinDir, p)), pkg: "containernetworking-plugins"})
	}
	var missing []string
	pkgs := map[string]bool{}
	var order []string
	for _, r := range reqs {
		if r.found() {
			continue
		}
		missing = append(missing, r.what)
		if !pkgs[r.pkg] {
			pkgs[r.pkg] = true
			order = append(order, r.pkg)
		}
	}
	var errs []error
	if os.Geteuid() != 0 {
		errs = append(errs, errors.New("real nodes run containers, which needs root (mounts, network namespaces, cgroups); run as root, or use simulated nodes (--nodes) without --real-nodes"))
	}
	if len(missing) > 0 {
		errs = append(errs, fmt.Errorf("missing %s; install them with: apt-get install %s",
			strings.Join(missing, ", "), strings.Join(order, " ")))
	}
	if _, err := os.Stat(nodeBinary); err != nil {
		errs = append(errs, fmt.Errorf("the node agents binary %s (kubelet and kube-proxy) is missing; build it with `make node`", nodeBinary))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("real nodes cannot run on this machine:\n%w", err)
	}
	return nil
}

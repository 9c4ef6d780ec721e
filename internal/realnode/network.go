package realnode

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// The addresses of the real nodes' network, all on this machine. 198.18.0.0/15 is set
// aside for testing network equipment (RFC 2544), so it is unlikely to clash with a
// network the machine is on; the addresses live on the loopback interface, and pod
// networks on one bridge per node, so that no packet leaves the machine.
//
// Every real node shares the machine's network namespace, so they share one address,
// NodeIP, as the network sees one host: pods on any of them carry it as their host
// IP, which is how one kube-proxy and one network policy controller serve them all.
// The kubelets tell themselves apart by port (KubeletPort).
const (
	// HostIP is the address of the host API server when real nodes run: pods reach
	// the host API (the `kubernetes` Service's endpoint) there, so it cannot be
	// loopback, which inside a pod is the pod itself.
	HostIP = "198.18.0.1"
	// NodeIP is the address of every real node.
	NodeIP = "198.18.0.10"
	// PodCIDR holds every real node's pod network; node i gets 10.245.i.0/24.
	PodCIDR = "10.245.0.0/16"
	// MaxNodes bounds --real-nodes: one /24 of PodCIDR and one address each.
	MaxNodes = 100
)

// KubeletPort is the port of real node i's kubelet; the API server reaches it there
// (the node's status names it).
func KubeletPort(i int) int { return 10250 + i }

// kubeletHealthzPort is the port of real node i's kubelet health check.
func kubeletHealthzPort(i int) int { return 11250 + i }

// podSubnet is the pod network of real node i.
func podSubnet(i int) string { return fmt.Sprintf("10.245.%d.0/24", i) }

// bridgeName is the Linux bridge of real node i's pods (at most 15 characters).
func bridgeName(i int) string { return fmt.Sprintf("kubicle-cni%d", i) }

// ip runs the ip command and returns its error with its output.
func ip(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// addLoopbackAddress puts addr on the loopback interface, once.
func addLoopbackAddress(addr string) error {
	has, err := hasLoopbackAddress(addr)
	if err != nil || has {
		return err
	}
	return ip("addr", "add", addr+"/32", "dev", "lo")
}

// PrepareHostAddress puts HostIP on the loopback interface, for the host API server
// to listen on before any node starts.
func PrepareHostAddress() error { return addLoopbackAddress(HostIP) }

// removeLoopbackAddress takes addr off the loopback interface, if it is there.
func removeLoopbackAddress(addr string) error {
	has, err := hasLoopbackAddress(addr)
	if err != nil || !has {
		return err
	}
	return ip("addr", "del", addr+"/32", "dev", "lo")
}

func hasLoopbackAddress(addr string) (bool, error) {
	lo, err := net.InterfaceByName("lo")
	if err != nil {
		return false, fmt.Errorf("loopback interface: %w", err)
	}
	addrs, err := lo.Addrs()
	if err != nil {
		return false, fmt.Errorf("addresses of the loopback interface: %w", err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.String() == addr {
			return true, nil
		}
	}
	return false, nil
}

// removeLink deletes a network link (a node's pod bridge), if it exists.
func removeLink(name string) error {
	if _, err := net.InterfaceByName(name); err != nil {
		return nil
	}
	return ip("link", "del", name)
}

// enableForwarding turns on what pod networking needs: IPv4 forwarding between the
// node bridges, and iptables on bridged traffic, so that a pod reaching a Service
// whose endpoint sits on the same bridge gets kube-proxy's translation both ways.
func enableForwarding() error {
	for path, want := range map[string]string{
		"/proc/sys/net/ipv4/ip_forward":                "1",
		"/proc/sys/net/bridge/bridge-nf-call-iptables": "1",
	} {
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			return fmt.Errorf("setting %s to %s: %w", path, want, err)
		}
	}
	return nil
}

// cniConfig is the CNI network of node i: a bridge with host-local addresses from
// the node's subnet and port mappings for hostPort. No masquerading: every pod
// network is reachable from every other and from the host, so packets keep the
// pod's address, which network policies match on.
func cniConfig(i int, ipamDir string) ([]byte, error) {
	conf := map[string]any{
		"cniVersion": "0.4.0",
		"name":       fmt.Sprintf("kubicle-node-%d", i),
		"plugins": []any{
			map[string]any{
				"type":        "bridge",
				"bridge":      bridgeName(i),
				"isGateway":   true,
				"ipMasq":      false,
				"hairpinMode": true,
				"ipam": map[string]any{
					"type":    "host-local",
					"ranges":  []any{[]any{map[string]any{"subnet": podSubnet(i)}}},
					"routes":  []any{map[string]any{"dst": "0.0.0.0/0"}},
					"dataDir": ipamDir,
				},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// mountsUnder returns the mount points at or below dir.
func mountsUnder(dir string) ([]string, error) {
	dir = filepath.Clean(dir)
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	var points []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 5 {
			continue
		}
		p := unescapeMount(fields[4])
		if p == dir || strings.HasPrefix(p, dir+"/") {
			points = append(points, p)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	return points, nil
}

func hasMountsUnder(dir string) (bool, error) {
	points, err := mountsUnder(dir)
	return len(points) > 0, err
}

// unmountUnder unmounts every mount point at or below dir, deepest first, detaching
// busy ones (MNT_DETACH) so that a stuck container cannot keep the state directory.
func unmountUnder(dir string) error {
	points, err := mountsUnder(dir)
	if err != nil {
		return err
	}
	// Deepest first; the same point may be mounted more than once.
	slices.SortFunc(points, func(a, b string) int { return strings.Count(b, "/") - strings.Count(a, "/") })
	var failed []string
	for _, p := range points {
		if err := syscall.Unmount(p, syscall.MNT_DETACH); err != nil && err != syscall.EINVAL && err != syscall.ENOENT {
			failed = append(failed, fmt.Sprintf("%s (%v)", p, err))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("unmounting %s", strings.Join(failed, ", "))
	}
	return nil
}

// kubeletChains are the iptables chains every kubelet creates in the tables named,
// with the rules that jump to them; kube-proxy's cleanup leaves them.
var kubeletChains = []struct{ table, chain string }{
	{"filter", "KUBE-FIREWALL"}, {"filter", "KUBE-KUBELET-CANARY"},
	{"nat", "KUBE-KUBELET-CANARY"}, {"mangle", "KUBE-KUBELET-CANARY"}, {"mangle", "KUBE-IPTABLES-HINT"},
}

// removeKubeletChains deletes the kubelets' chains from iptables and ip6tables. Errors
// for chains that are absent are ignored: only a chain that stays is reported.
func removeKubeletChains() error {
	var failed []string
	for _, tool := range []string{"iptables", "ip6tables"} {
		if _, err := exec.LookPath(tool); err != nil {
			continue
		}
		run := func(args ...string) error { return exec.Command(tool, args...).Run() }
		for _, hook := range []string{"INPUT", "OUTPUT"} {
			for run("-t", "filter", "-D", hook, "-j", "KUBE-FIREWALL") == nil {
			}
		}
		for _, c := range kubeletChains {
			if run("-t", c.table, "-n", "-L", c.chain) != nil {
				continue // absent
			}
			_ = run("-t", c.table, "-F", c.chain)
			if err := run("-t", c.table, "-X", c.chain); err != nil {
				failed = append(failed, fmt.Sprintf("%s %s/%s", tool, c.table, c.chain))
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("removing the kubelets' iptables chains %s", strings.Join(failed, ", "))
	}
	return nil
}

// unescapeMount decodes the octal escapes (\040 for a space) of /proc/self/mountinfo.
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			var v int
			if _, err := fmt.Sscanf(s[i+1:i+4], "%03o", &v); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// netpolChainPrefixes name the iptables chains of kube-router's network policy
// controller, and netpolSetPrefixes its ipsets.
var (
	netpolChainPrefixes = []string{"KUBE-ROUTER-", "KUBE-NWPLCY-", "KUBE-POD-FW-"}
	netpolSetPrefixes   = []string{"KUBE-SRC-", "KUBE-DST-", "KUBE-NSP-", "kube-router-"}
)

// removeNetpolRules deletes the network policy controller's chains (and the rules
// that jump to them) from the filter table, then its ipsets. It reads the rules
// itself instead of asking the controller, which needs the API server and may run
// after a crash without one.
func removeNetpolRules() error {
	var failed []string
	ours := func(chain string) bool {
		for _, p := range netpolChainPrefixes {
			if strings.HasPrefix(chain, p) {
				return true
			}
		}
		return false
	}
	for _, tool := range []string{"iptables", "ip6tables"} {
		out, err := exec.Command(tool+"-save", "-t", "filter").Output()
		if err != nil {
			continue // no such tool, or no filter table
		}
		var chains, from []string
		for _, line := range strings.Split(string(out), "\n") {
			switch {
			case strings.HasPrefix(line, ":"):
				if name := strings.Fields(line[1:])[0]; ours(name) {
					chains = append(chains, name)
				}
			case strings.HasPrefix(line, "-A "):
				f := strings.Fields(line)
				if len(f) >= 2 && !ours(f[1]) && slices.ContainsFunc(f, ours) && !slices.Contains(from, f[1]) {
					from = append(from, f[1])
				}
			}
		}
		// Rules that jump to the controller's chains, deleted by number, last first.
		for _, chain := range from {
			list, err := exec.Command(tool, "-t", "filter", "-L", chain, "-n", "--line-numbers").Output()
			if err != nil {
				continue
			}
			var nums []string
			for _, line := range strings.Split(string(list), "\n") {
				f := strings.Fields(line)
				if len(f) >= 2 && ours(f[1]) {
					nums = append(nums, f[0])
				}
			}
			for i := len(nums) - 1; i >= 0; i-- {
				_ = exec.Command(tool, "-t", "filter", "-D", chain, nums[i]).Run()
			}
		}
		for _, c := range chains {
			_ = exec.Command(tool, "-t", "filter", "-F", c).Run()
		}
		for _, c := range chains {
			if err := exec.Command(tool, "-t", "filter", "-X", c).Run(); err != nil {
				failed = append(failed, tool+" "+c)
			}
		}
	}
	if out, err := exec.Command("ipset", "list", "-n").Output(); err == nil {
		for _, name := range strings.Fields(string(out)) {
			for _, p := range netpolSetPrefixes {
				if strings.HasPrefix(name, p) {
					if err := exec.Command("ipset", "destroy", name).Run(); err != nil {
						failed = append(failed, "ipset "+name)
					}
					break
				}
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("removing the network policy rules %s", strings.Join(failed, ", "))
	}
	return nil
}

package controlplane

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

func TestValidateReportsEveryProblem(t *testing.T) {
	t.Parallel()
	o := NewOptions()
	o.Listen = "nonsense"
	o.Profile = "cloud"
	o.ServiceCIDR = "10.96.0.0"
	o.StoreEndpoint = "postgres"
	o.APIServerArgs = []string{"v=4"}
	o.ControllerManagerArgs = []string{"novalue"}
	o.KubeletListen = "127.0.0.1:0"
	err := o.Validate()
	if err == nil {
		t.Fatal("invalid options accepted")
	}
	want := []string{
		"--data-dir is required",
		`--listen "nonsense": address nonsense: missing port in address`,
		`--profile "cloud": must be "virtual" or "host"`,
		`--service-cidr "10.96.0.0": not a CIDR`,
		"--datastore-endpoint: expected scheme://…, e.g. postgres://user:pass@host/db",
		`--kubelet-listen "127.0.0.1:0": needs a fixed port (leave the flag out for one picked once and kept)`,
		`extra flag "novalue": expected name=value`,
	}
	if got := err.Error(); got != strings.Join(want, "\n") {
		t.Fatalf("got:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
}

func TestCompleteReusesRecordedPort(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	o := NewOptions()
	o.DataDir = dir
	c, err := o.Complete()
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 0 || c.Host != "127.0.0.1" || c.ServiceIP.String() != "10.96.0.1" {
		t.Fatalf("fresh data dir: host %s port %d service IP %s", c.Host, c.Port, c.ServiceIP)
	}
	if err := os.WriteFile(filepath.Join(dir, "listen-address"), []byte("127.0.0.1:40123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if c, _ = o.Complete(); c.Port != 40123 {
		t.Fatalf("recorded port not reused: %d", c.Port)
	}
	o.Listen = "0.0.0.0:0" // another host: the recorded port is for 127.0.0.1 only
	if c, _ = o.Complete(); c.Port != 0 || c.clientHost() != "127.0.0.1" {
		t.Fatalf("wildcard listen: port %d client host %s", c.Port, c.clientHost())
	}
	o.Listen = "127.0.0.1:6443"
	if c, _ = o.Complete(); c.Port != 6443 {
		t.Fatalf("explicit port overridden: %d", c.Port)
	}
}

func TestControllerSets(t *testing.T) {
	t.Parallel()
	o := NewOptions()
	o.DataDir = t.TempDir()
	c, err := o.Complete()
	if err != nil {
		t.Fatal(err)
	}
	flag := func(args []string, name string) string {
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
				return v
			}
		}
		return ""
	}
	virtual := strings.Split(flag(controllerManagerArgs(c, nil2bundle(), "kc"), "controllers"), ",")
	for _, off := range []string{"node-lifecycle-controller", "node-ipam-controller", "persistentvolume-binder-controller", "persistentvolume-attach-detach-controller"} {
		if !slices.Contains(virtual, "-"+off) {
			t.Errorf("virtual profile runs %s, which belongs to the host", off)
		}
	}
	if virtual[0] != "*" {
		t.Errorf("virtual profile should start from every default controller, got %v", virtual)
	}
	c.Profile = ProfileHost
	if got := flag(controllerManagerArgs(c, nil2bundle(), "kc"), "controllers"); got != "*" {
		t.Errorf("host profile controllers = %q, want every default one", got)
	}
	c.APIServerArgs = []string{"--v=3", "audit-log-path=/tmp/a"}
	args := apiServerArgs(c, nil2bundle(), []string{"--etcd-servers=unix:///x.sock"})
	if n := len(args); args[n-2] != "--v=3" || args[n-1] != "--audit-log-path=/tmp/a" {
		t.Errorf("extra API server flags must come last, as given: %v", args[n-2:])
	}
	if flag(args, "etcd-servers") != "unix:///x.sock" || flag(args, "service-cluster-ip-range") != "10.96.0.0/12" {
		t.Errorf("API server flags: %v", args)
	}
}

func TestRedactDSN(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"postgres://kube:s3cret@db:5432/vc?sslmode=disable": "postgres://kube:xxxxx@db:5432/vc",
		"mysql://root@tcp(db:3306)/vc":                      "mysql://root@tcp(db:3306)/vc",
		"mysql://root:s3cret@tcp(db:3306)/vc?tls=true":      "mysql://root:xxxxx@tcp(db:3306)/vc",
		"sqlite:///data/state.db?_journal=WAL":              "sqlite:///data/state.db",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
		if strings.Contains(redactDSN(in), "s3cret") {
			t.Errorf("password leaked for %q", in)
		}
	}
}

func TestSocketPathFitsUnixLimit(t *testing.T) {
	t.Parallel()
	short := "/tmp/x/kine.sock"
	if socketPath(short) != short {
		t.Fatal("short path changed")
	}
	long := "/" + strings.Repeat("deep/", 30) + "kine.sock"
	got := socketPath(long)
	if len(got) >= 100 || got != socketPath(long) {
		t.Fatalf("long socket path %q: not shortened deterministically", got)
	}
}

func TestMergeFlags(t *testing.T) {
	t.Parallel()
	defaults := []string{"--authorization-mode=Node,RBAC", "--secure-port=6443", "--service-account-key-file=a.pub"}
	got := mergeFlags(defaults, []string{"authorization-mode=AlwaysAllow", "--v=2", "service-account-key-file=a.pub", "service-account-key-file=b.pub"})
	want := []string{"--secure-port=6443", "--authorization-mode=AlwaysAllow", "--v=2", "--service-account-key-file=a.pub", "--service-account-key-file=b.pub"}
	if !slices.Equal(got, want) {
		t.Errorf("mergeFlags = %q, want %q", got, want)
	}
	if got := mergeFlags(defaults, nil); !slices.Equal(got, defaults) {
		t.Errorf("no extra flags: %q", got)
	}
}

// TestExtraFlagsKeepCommas checks that --kube-apiserver-arg takes a value with
// commas whole (a list flag of kube-apiserver), instead of splitting it.
func TestExtraFlagsKeepCommas(t *testing.T) {
	t.Parallel()
	o := NewOptions()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	o.AddFlags(fs)
	if err := fs.Parse([]string{"--kube-apiserver-arg=runtime-config=a/v1=true,b/v1=false", "--kube-controller-manager-arg=controllers=*,-ttl-controller"}); err != nil {
		t.Fatal(err)
	}
	if want := []string{"runtime-config=a/v1=true,b/v1=false"}; !slices.Equal(o.APIServerArgs, want) {
		t.Errorf("APIServerArgs = %q, want %q", o.APIServerArgs, want)
	}
	if want := []string{"controllers=*,-ttl-controller"}; !slices.Equal(o.ControllerManagerArgs, want) {
		t.Errorf("ControllerManagerArgs = %q, want %q", o.ControllerManagerArgs, want)
	}
}

// TestLeaderElectFromReplicas: several replicas in the config turn leader election
// on, unless --leader-elect was given; one replica leaves it off (no Lease
// renewals on an idle control plane).
func TestLeaderElectFromReplicas(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		replicas *int32
		flag     *bool
		want     bool
	}{
		{"unset", nil, nil, false},
		{"one replica", new(int32(1)), nil, false},
		{"three replicas", new(int32(3)), nil, true},
		{"three replicas, flag off", new(int32(3)), new(false), false},
		{"one replica, flag on", new(int32(1)), new(true), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := NewOptions()
			if tc.flag != nil {
				o.LeaderElect = *tc.flag
			}
			vc := &v1alpha1.VirtualCluster{}
			vc.Name, vc.Namespace = "vc", "ns"
			vc.Spec.ControlPlane.Replicas = tc.replicas
			o.ApplyConfig(vc, func(flag string) bool { return flag == "leader-elect" && tc.flag != nil })
			if o.LeaderElect != tc.want {
				t.Errorf("LeaderElect = %v, want %v", o.LeaderElect, tc.want)
			}
		})
	}
}

// TestControllerManagerArgsLeaveElectionToKubicle: kube-controller-manager and
// kube-scheduler never elect on their own (upstream, they exit the process when
// they stop leading); kubicle's runElected holds their Leases.
func TestControllerManagerArgsLeaveElectionToKubicle(t *testing.T) {
	t.Parallel()
	o := NewOptions()
	o.DataDir = t.TempDir()
	o.LeaderElect = true
	c, err := o.Complete()
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{controllerManagerArgs(c, nil2bundle(), "kubeconfig"), schedulerArgs("kubeconfig")} {
		if !slices.Contains(args, "--leader-elect=false") {
			t.Errorf("args %q: want --leader-elect=false", args)
		}
	}
}

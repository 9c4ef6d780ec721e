package lifecycle

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

func TestContextName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, ns, host string
		want           string
	}{
		{"a", "vc-a", "kubicle-host", "kubicle_a_vc-a_kubicle-host"},
		{"team-a", "shared", "prod_eu", "kubicle_team-a_shared_prod_eu"},
		{"b", "vc-b", "arn:aws:eks:eu-west-1:123:cluster/prod", "kubicle_b_vc-b_arn:aws:eks:eu-west-1:123:cluster/prod"},
		{"c", "vc-c", "kubicle_x_vc-x_kubicle-host", "kubicle_c_vc-c_kubicle_x_vc-x_kubicle-host"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			got := ContextName(tt.name, tt.ns, tt.host)
			if got != tt.want {
				t.Fatalf("ContextName = %q, want %q", got, tt.want)
			}
			ref, ok := ParseContextName(got)
			if !ok || ref != (ContextRef{Name: tt.name, HostNamespace: tt.ns, HostContext: tt.host}) {
				t.Fatalf("ParseContextName(%q) = %+v, %v; want the parts back", got, ref, ok)
			}
		})
	}
}

func TestParseContextNameRejects(t *testing.T) {
	t.Parallel()
	for _, s := range []string{
		"", "kubicle-host", "kind-kind", "kubicle_", "kubicle_a", "kubicle_a_vc-a", "kubicle_a_vc-a_",
		"kubicle__vc-a_host", "kubicle_a__host", "kubicle_A_vc-a_host", "kubicle_a_Vc_host", "Kubicle_a_vc-a_host",
	} {
		if ref, ok := ParseContextName(s); ok {
			t.Errorf("ParseContextName(%q) = %+v; want not a virtual cluster context", s, ref)
		}
	}
}

func TestPathComponent(t *testing.T) {
	t.Parallel()
	tests := map[string]string{
		"kubicle-host": "kubicle-host",
		"prod_eu.1":    "prod_eu.1",
	}
	for in, want := range tests {
		if got := PathComponent(in); got != want {
			t.Errorf("PathComponent(%q) = %q, want %q", in, got, want)
		}
	}
	seen := map[string]string{}
	for _, in := range []string{"a/b", "a:b", "a_b", "..", ".", "", "arn:aws:eks:eu-west-1:123:cluster/prod"} {
		got := PathComponent(in)
		if got == "" || got == "." || got == ".." || strings.ContainsAny(got, "/:") {
			t.Errorf("PathComponent(%q) = %q: not one safe path component", in, got)
		}
		if prev, dup := seen[got]; dup {
			t.Errorf("PathComponent(%q) = PathComponent(%q) = %q", in, prev, got)
		}
		seen[got] = in
	}
}

func TestStateDir(t *testing.T) {
	t.Setenv("KUBICLE_STATE_DIR", "/state/override")
	t.Setenv("XDG_STATE_HOME", "/xdg")
	t.Setenv("HOME", "/home/u")
	if got := StateDir(); got != "/state/override" {
		t.Errorf("with KUBICLE_STATE_DIR: %q", got)
	}
	t.Setenv("KUBICLE_STATE_DIR", "")
	if got := StateDir(); got != "/xdg/kubicle" {
		t.Errorf("with XDG_STATE_HOME: %q", got)
	}
	t.Setenv("XDG_STATE_HOME", "")
	if got := StateDir(); got != "/home/u/.local/state/kubicle" {
		t.Errorf("default: %q", got)
	}
	p := PathsFor("/s", "arn:x/y", "vc-a", "a")
	if dir := p.Dir(); !strings.HasPrefix(dir, "/s/vclusters/arn_x_y-") || !strings.HasSuffix(dir, "/vc-a/a") {
		t.Errorf("PathsFor: %q", dir)
	}
	if p.AdminKubeconfig() != filepath.Join(p.Dir(), "data", "kubeconfig") {
		t.Errorf("AdminKubeconfig: %q", p.AdminKubeconfig())
	}
}

// writeKubeconfig writes a kubeconfig with one context per entry of servers
// (context name → server URL) and the given current context.
func writeKubeconfig(t *testing.T, path string, servers map[string]string, current string) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	for name, server := range servers {
		cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server}
		cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{Token: "token-" + name}
		cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name}
	}
	cfg.CurrentContext = current
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}

func TestResolveHost(t *testing.T) {
	dir := t.TempDir()
	main := filepath.Join(dir, "config")
	vcCtx := ContextName("a", "vc-a", "kubicle-host")
	servers := map[string]string{
		"kubicle-host":                   "https://127.0.0.1:6443",
		"other":                          "https://10.0.0.1:6443",
		vcCtx:                            "https://127.0.0.1:40000",
		ContextName("z", "vc-z", "gone"): "https://127.0.0.1:40001",
	}
	writeKubeconfig(t, main, servers, "kubicle-host")
	second := filepath.Join(dir, "second")
	writeKubeconfig(t, second, map[string]string{"second": "https://10.0.0.2:6443"}, "")
	empty := filepath.Join(dir, "empty")
	writeKubeconfig(t, empty, map[string]string{"x": "https://10.0.0.3:6443"}, "")

	tests := []struct {
		name       string
		env        string
		opts       HostOptions
		current    string
		wantCtx    string
		wantServer string
		wantVia    string
		wantFile   string
		wantErr    string
	}{
		{name: "current context from $KUBECONFIG", env: main, wantCtx: "kubicle-host", wantServer: "https://127.0.0.1:6443", wantFile: main},
		{name: "--context", env: main, opts: HostOptions{Context: "other"}, wantCtx: "other", wantServer: "https://10.0.0.1:6443", wantFile: main},
		{name: "--kubeconfig wins over $KUBECONFIG", env: second, opts: HostOptions{Kubeconfig: main}, wantCtx: "kubicle-host", wantServer: "https://127.0.0.1:6443", wantFile: main},
		{name: "current context is a virtual cluster's", env: main, current: vcCtx, wantCtx: "kubicle-host", wantServer: "https://127.0.0.1:6443", wantVia: "a", wantFile: main},
		{name: "--context names a virtual cluster's", env: main, opts: HostOptions{Context: vcCtx}, wantCtx: "kubicle-host", wantServer: "https://127.0.0.1:6443", wantVia: "a", wantFile: main},
		{name: "contexts merged from two files; writes go to the first", env: second + ":" + main, opts: HostOptions{Context: "other"}, wantCtx: "other", wantServer: "https://10.0.0.1:6443", wantFile: second},
		{name: "no current context", env: empty, wantErr: "has no current context; pass --context"},
		{name: "unknown context", env: main, opts: HostOptions{Context: "nope"}, wantErr: `context "nope" not found in kubeconfig ` + main},
		{name: "virtual cluster whose host context is gone", env: main, opts: HostOptions{Context: ContextName("z", "vc-z", "gone")}, wantErr: `its host context "gone" is not in kubeconfig`},
		{name: "missing --kubeconfig file", env: main, opts: HostOptions{Kubeconfig: filepath.Join(dir, "missing")}, wantErr: "reading kubeconfig"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			if tt.current != "" {
				cfg, err := clientcmd.LoadFromFile(main)
				if err != nil {
					t.Fatal(err)
				}
				cfg.CurrentContext = tt.current
				if err := clientcmd.WriteToFile(*cfg, main); err != nil {
					t.Fatal(err)
				}
				defer writeKubeconfig(t, main, servers, "kubicle-host")
			}
			h, err := ResolveHost(tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ResolveHost error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ResolveHost: %v", err)
			}
			if h.Context != tt.wantCtx || h.Server != tt.wantServer || h.UserKubeconfig != tt.wantFile {
				t.Errorf("ResolveHost = context %q server %q file %q; want %q %q %q", h.Context, h.Server, h.UserKubeconfig, tt.wantCtx, tt.wantServer, tt.wantFile)
			}
			if via := ""; h.Via != nil {
				via = h.Via.Name
				if via != tt.wantVia {
					t.Errorf("Via = %q, want %q", via, tt.wantVia)
				}
			} else if tt.wantVia != "" {
				t.Errorf("Via = nil, want %q", tt.wantVia)
			}
			if h.Config.BearerToken != "token-"+tt.wantCtx {
				t.Errorf("client config uses token %q, want the host context's", h.Config.BearerToken)
			}
		})
	}
}

// TestCheckUnreachable checks that an unreachable host is an error naming
// the server and the cause.
func TestCheckUnreachable(t *testing.T) {
	// A port that was just free: nothing listens there.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	path := filepath.Join(t.TempDir(), "config")
	writeKubeconfig(t, path, map[string]string{"dead": "https://" + addr}, "dead")
	_, err = ConnectHost(context.Background(), HostOptions{Kubeconfig: path})
	if err == nil {
		t.Fatal("ConnectHost succeeded against a closed port")
	}
	want := `host cluster https://` + addr + ` (context "dead") is unreachable: dial tcp ` + addr + `: connect: connection refused`
	if err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(path), "config.lock")); err == nil {
		t.Errorf("an unreachable host must not touch the kubeconfig")
	}
}

package lifecycle

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"kubicle.dev/kubicle/internal/deploy"
	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

func TestBuildVirtualCluster(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, doc string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	const header = "apiVersion: kubicle.dev/v1alpha1\nkind: VirtualCluster\n"
	named := write("named.yaml", header+"metadata:\n  name: team-a\n  namespace: shared\nspec:\n  isolation:\n    podSecurityStandard: restricted\n")
	unnamed := write("unnamed.yaml", header+"spec:\n  controlPlane:\n    driver: pod\n")
	bad := write("bad.yaml", header+"metadata:\n  name: team-a\nspec:\n  sleep:\n    wake: true\n")

	tests := []struct {
		name    string
		opts    CreateOptions
		wantNS  string
		wantDrv v1alpha1.ControlPlaneDriver
		wantErr string
	}{
		{name: "flags only", opts: CreateOptions{Name: "a", Driver: "process"}, wantNS: "vc-a", wantDrv: v1alpha1.DriverProcess},
		{name: "flags with a namespace", opts: CreateOptions{Name: "a", Namespace: "team", Driver: "pod"}, wantNS: "team", wantDrv: v1alpha1.DriverPod},
		{name: "file gives name and namespace", opts: CreateOptions{File: named, Driver: "process"}, wantNS: "shared", wantDrv: v1alpha1.DriverProcess},
		{name: "matching name and namespace", opts: CreateOptions{Name: "team-a", Namespace: "shared", File: named, Driver: "process"}, wantNS: "shared", wantDrv: v1alpha1.DriverProcess},
		{name: "name fills the file in", opts: CreateOptions{Name: "b", File: unnamed}, wantNS: "vc-b", wantDrv: v1alpha1.DriverPod},
		{name: "--driver wins over the file", opts: CreateOptions{Name: "b", File: unnamed, Driver: "process"}, wantNS: "vc-b", wantDrv: v1alpha1.DriverProcess},
		{name: "name mismatch", opts: CreateOptions{Name: "other", File: named, Driver: "process"}, wantErr: `the name "other" does not match metadata.name "team-a"`},
		{name: "namespace mismatch", opts: CreateOptions{Namespace: "other", File: named, Driver: "process"}, wantErr: `-n "other" does not match metadata.namespace "shared"`},
		{name: "uppercase name", opts: CreateOptions{Name: "Team", Driver: "process"}, wantErr: `metadata.name: Invalid value: "Team"`},
		{name: "reserved name", opts: CreateOptions{Name: "default", Driver: "process"}, wantErr: `metadata.name: Invalid value: "default": is reserved`},
		{name: "bad driver", opts: CreateOptions{Name: "a", Driver: "vm"}, wantErr: `spec.controlPlane.driver: Unsupported value: "vm"`},
		{name: "bad file", opts: CreateOptions{File: bad, Driver: "process"}, wantErr: "loading " + bad + ": invalid VirtualCluster config (1 problem):\n  spec.sleep.wake: unknown field"},
		{name: "missing file", opts: CreateOptions{File: filepath.Join(dir, "nope.yaml"), Driver: "process"}, wantErr: "reading " + filepath.Join(dir, "nope.yaml")},
		{name: "standard input", opts: CreateOptions{File: "-", In: strings.NewReader(header + "metadata: {name: c}\n"), Driver: "pod"}, wantNS: "vc-c", wantDrv: v1alpha1.DriverPod},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// With a driver given, no host is asked which to choose.
			vc, auto, err := buildVirtualCluster(context.Background(), nil, tt.opts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if vc.Namespace != tt.wantNS || vc.Spec.ControlPlane.Driver != tt.wantDrv {
				t.Errorf("namespace %q driver %q, want %q %q", vc.Namespace, vc.Spec.ControlPlane.Driver, tt.wantNS, tt.wantDrv)
			}
			if auto {
				t.Errorf("driver reported as chosen automatically")
			}
		})
	}
}

func TestDatabaseAddress(t *testing.T) {
	t.Parallel()
	tests := []struct {
		dsn    string
		driver v1alpha1.DatabaseDriver
		want   string
	}{
		{"postgres://u:p@db.example.com:6432/x?sslmode=verify-full", v1alpha1.DatabasePostgres, "db.example.com:6432"},
		{"postgres://u:p@db.example.com/x", v1alpha1.DatabasePostgres, "db.example.com:5432"},
		{"postgres://u:p@[::1]/x", v1alpha1.DatabasePostgres, "[::1]:5432"},
		{"mysql://u:p@tcp(db:3307)/x", v1alpha1.DatabaseMySQL, "db:3307"},
		{"mysql://u:p@tcp(db)/x", v1alpha1.DatabaseMySQL, "db:3306"},
		{"mysql://u:p@db.example.com/x", v1alpha1.DatabaseMySQL, "db.example.com:3306"},
	}
	for _, tt := range tests {
		got, err := databaseAddress(tt.dsn, tt.driver)
		if err != nil || got != tt.want {
			t.Errorf("databaseAddress(%q) = %q, %v; want %q", tt.dsn, got, err, tt.want)
		}
	}
	_, err := databaseAddress("host=db password=s3cret", v1alpha1.DatabasePostgres)
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("a DSN that is not a URL: error %v must not quote it", err)
	}
}

func TestDSNSecretsHidden(t *testing.T) {
	t.Parallel()
	dsn := "postgres://kubicle:p%40ss@127.0.0.1:5432/db"
	log := filepath.Join(t.TempDir(), "log")
	content := "connecting to " + dsn + "\nauth failed for password p@ss\n"
	if err := os.WriteFile(log, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	got := tailFile(log, 0, 10, dsnSecrets(dsn)...)
	if strings.Contains(got, "p@ss") || strings.Contains(got, "p%40ss") {
		t.Errorf("log tail shows the password:\n%s", got)
	}
	if got := lastLine(log, 0, dsnSecrets(dsn)...); got != "auth failed for password xxxxx" {
		t.Errorf("lastLine = %q", got)
	}
	if dsnSecrets("") != nil {
		t.Errorf("no DSN, nothing to hide")
	}
}

func TestConfigHash(t *testing.T) {
	t.Parallel()
	base := configHash([]byte("cfg"), []string{"a", "b"}, "")
	for name, h := range map[string]string{
		"config": configHash([]byte("cfg2"), []string{"a", "b"}, ""),
		"args":   configHash([]byte("cfg"), []string{"a", "b", "c"}, ""),
		"split":  configHash([]byte("cfg"), []string{"ab"}, ""),
		"dsn":    configHash([]byte("cfg"), []string{"a", "b"}, "postgres://x"),
	} {
		if h == base {
			t.Errorf("a change of %s does not change the hash", name)
		}
	}
	if configHash([]byte("cfg"), []string{"a", "b"}, "") != base {
		t.Error("the hash is not deterministic")
	}
}

func TestRecordRoundTrip(t *testing.T) {
	t.Parallel()
	vc := &v1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "a"}}
	vc.Spec.ControlPlane.Driver = v1alpha1.DriverProcess
	v1alpha1.Default(vc)
	vc.Status = v1alpha1.VirtualClusterStatus{Phase: v1alpha1.PhaseRunning, Endpoint: "https://127.0.0.1:1234", KubernetesVersion: "v1.37.2"}
	cm, err := recordObject(vc, "laptop", "/state/a")
	if err != nil {
		t.Fatal(err)
	}
	r := deploy.RefOf(vc)
	if cm.Name != "a-virtualcluster" || cm.Namespace != "vc-a" || !belongsTo(cm.Labels, r, true) || !recordSelector("a").Matches(labels.Set(cm.Labels)) {
		t.Fatalf("record %s/%s labels %v", cm.Namespace, cm.Name, cm.Labels)
	}
	if recordSelector("b").Matches(labels.Set(cm.Labels)) {
		t.Error("the record of a matches b's selector")
	}
	rec, err := parseRecord(cm)
	if err != nil {
		t.Fatal(err)
	}
	if rec.VC.Name != "a" || !reflect.DeepEqual(rec.VC.Status, vc.Status) || rec.VC.Spec.ControlPlane.Driver != v1alpha1.DriverProcess ||
		rec.Machine != "laptop" || rec.StateDir != "/state/a" {
		t.Errorf("parsed record: %+v %+v", rec, rec.VC.Status)
	}
	cm.Namespace = "elsewhere"
	if _, err := parseRecord(cm); err == nil {
		t.Error("a record copied into another namespace must not be believed")
	}
}

func TestPrintList(t *testing.T) {
	t.Parallel()
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	infos := []Info{{Name: "a", HostNamespace: "vc-a", Status: StatusRunning, Driver: "process", BackingStore: "sqlite",
		KubernetesVersion: "v1.37.2", Created: created, Context: "kubicle_a_vc-a_h", ManagedBy: ManagedByCLI}}
	var out, errOut bytes.Buffer
	if err := PrintList(&out, &errOut, infos, OutputTable, created.Add(90*time.Minute)); err != nil {
		t.Fatal(err)
	}
	want := "NAME   HOST NAMESPACE   STATUS    DRIVER    BACKING STORE   KUBERNETES VERSION   MANAGED BY   AGE   CREATED\n" +
		"a      vc-a             Running   process   sqlite          v1.37.2              kubicle      90m   2026-01-02T03:04:05Z\n"
	if out.String() != want {
		t.Errorf("table:\n%s\nwant:\n%s", out.String(), want)
	}
	out.Reset()
	if err := PrintList(&out, &errOut, infos, OutputJSON, created); err != nil {
		t.Fatal(err)
	}
	var back []Info
	if err := json.Unmarshal(out.Bytes(), &back); err != nil || len(back) != 1 || back[0] != infos[0] {
		t.Errorf("json round trip: %v %+v\n%s", err, back, out.String())
	}
	out.Reset()
	if err := PrintList(&out, &errOut, nil, OutputTable, created); err != nil || out.Len() != 0 || !strings.Contains(errOut.String(), "No virtual clusters found") {
		t.Errorf("empty table: out %q err %q (%v)", out.String(), errOut.String(), err)
	}
	out.Reset()
	if err := PrintList(&out, &errOut, nil, OutputJSON, created); err != nil || strings.TrimSpace(out.String()) != "[]" {
		t.Errorf("empty json: %q", out.String())
	}
	if err := PrintList(&out, &errOut, nil, "wide", created); err == nil {
		t.Error("unknown format accepted")
	}
}

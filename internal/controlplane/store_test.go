package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	bolt "go.etcd.io/bbolt"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

func TestStoreOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		set   func(o *Options)
		store StoreType
		want  []string
	}{
		{name: "default is sqlite", set: func(*Options) {}, store: StoreSQLite},
		{name: "embedded etcd", set: func(o *Options) { o.Store = StoreEmbeddedEtcd }, store: StoreEmbeddedEtcd},
		{
			name:  "datastore endpoint implies database",
			set:   func(o *Options) { o.StoreEndpoint = "postgres://u:p@db/vc" },
			store: StoreDatabase,
		},
		{
			name: "etcd servers imply external etcd",
			set: func(o *Options) {
				o.EtcdServers = []string{"https://etcd-0:2379", "https://etcd-1:2379"}
				o.EtcdCAFile, o.EtcdCertFile, o.EtcdKeyFile, o.EtcdPrefix = "ca.crt", "c.crt", "c.key", "/kubicle/a"
			},
			store: StoreExternalEtcd,
		},
		{
			name:  "unknown store",
			set:   func(o *Options) { o.Store = "etcd" },
			store: "etcd",
			want:  []string{`--store "etcd": must be one of sqlite, embedded-etcd, external-etcd, database`},
		},
		{
			name:  "database without DSN",
			set:   func(o *Options) { o.Store = StoreDatabase },
			store: StoreDatabase,
			want: []string{"--store database needs --datastore-endpoint, the data source name (e.g. postgres://user:pass@host:5432/db); " +
				"kubicle create reads it from the Secret named by spec.controlPlane.backingStore.database.dsnSecretRef"},
		},
		{
			name: "DSN of another driver than the config's",
			set: func(o *Options) {
				o.StoreEndpoint, o.DatabaseDriver = "mysql://u:p@tcp(db:3306)/vc", "postgres"
			},
			store: StoreDatabase,
			want:  []string{`--datastore-endpoint: a mysql data source name, but the config's database driver is "postgres" (spec.controlPlane.backingStore.database.driver)`},
		},
		{
			name:  "DSN of a kine driver kubicle does not offer",
			set:   func(o *Options) { o.StoreEndpoint = "nats://nats:4222" },
			store: StoreDatabase,
			want:  []string{"--datastore-endpoint: nats:// is not a database kubicle supports; use postgres://… or mysql://…"},
		},
		{
			name:  "postgresql scheme matches the postgres driver",
			set:   func(o *Options) { o.StoreEndpoint, o.DatabaseDriver = "postgresql://db/vc", "postgres" },
			store: StoreDatabase,
		},
		{
			name: "flags of other stores",
			set: func(o *Options) {
				o.Store = StoreSQLite
				o.StoreEndpoint = "postgres://db/vc"
				o.EtcdServers = []string{"https://etcd:2379"}
				o.EtcdCertFile, o.EtcdKeyFile = "c.crt", "c.key"
				o.EtcdPrefix = "/x"
			},
			store: StoreSQLite,
			want: []string{
				"--datastore-endpoint is only used with --store database (the store is sqlite)",
				"--etcd-servers is only used with --store external-etcd (the store is sqlite)",
				"--etcd-certfile is only used with --store external-etcd (the store is sqlite)",
				"--etcd-keyfile is only used with --store external-etcd (the store is sqlite)",
				"--etcd-prefix is only used with --store external-etcd (the store is sqlite)",
			},
		},
		{
			name: "embedded etcd with several replicas",
			set: func(o *Options) {
				o.Store = StoreEmbeddedEtcd
				o.VirtualCluster = &v1alpha1.VirtualCluster{}
				o.VirtualCluster.Spec.ControlPlane.Replicas = new(int32(3))
			},
			store: StoreEmbeddedEtcd,
			want: []string{"spec.controlPlane.replicas is 3: the embedded etcd runs one member per control plane and does not form a cluster across replicas yet; " +
				"use 1 replica, or an external etcd or a database for several"},
		},
		{
			name:  "external etcd without servers",
			set:   func(o *Options) { o.Store = StoreExternalEtcd },
			store: StoreExternalEtcd,
			want:  []string{"--store external-etcd needs --etcd-servers, the etcd client URLs (e.g. https://etcd-0.etcd:2379)"},
		},
		{
			name: "bad external etcd settings",
			set: func(o *Options) {
				o.EtcdServers = []string{"etcd-0:2379", "http://etcd-1:2379", "https://etcd-2:2379/v3"}
				o.EtcdCAFile, o.EtcdCertFile = "ca.crt", "c.crt"
				o.EtcdPrefix = "registry"
			},
			store: StoreExternalEtcd,
			want: []string{
				`--etcd-servers "etcd-0:2379": expected an http or https URL such as https://etcd-0.etcd:2379`,
				`--etcd-servers "http://etcd-1:2379": must be https with --etcd-cafile, --etcd-certfile or --etcd-keyfile`,
				`--etcd-servers "https://etcd-2:2379/v3": expected an http or https URL such as https://etcd-0.etcd:2379`,
				"--etcd-certfile and --etcd-keyfile go together: give both for a client certificate, or neither",
				`--etcd-prefix "registry": must start with "/"`,
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := NewOptions()
			o.DataDir = t.TempDir()
			tc.set(o)
			if got := o.storeType(); got != tc.store {
				t.Errorf("store = %q, want %q", got, tc.store)
			}
			err := o.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				c, err := o.Complete()
				if err != nil {
					t.Fatal(err)
				}
				if c.Store != tc.store {
					t.Fatalf("completed store = %q, want %q", c.Store, tc.store)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want:\n%s", strings.Join(tc.want, "\n"))
			}
			if got, want := err.Error(), strings.Join(tc.want, "\n"); got != want {
				t.Fatalf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func TestApplyConfigBackingStore(t *testing.T) {
	t.Parallel()
	externalEtcd := v1alpha1.BackingStore{
		Type:         v1alpha1.BackingStoreExternalEtcd,
		ExternalEtcd: &v1alpha1.ExternalEtcd{Endpoints: []string{"https://etcd-0:2379"}, Prefix: "/kubicle/ns/vc"},
	}
	database := v1alpha1.BackingStore{
		Type:     v1alpha1.BackingStoreDatabase,
		Database: &v1alpha1.Database{Driver: v1alpha1.DatabasePostgres},
	}
	for _, tc := range []struct {
		name    string
		config  v1alpha1.BackingStore
		flags   map[string]func(o *Options) // flags given on the command line
		want    Options                     // only the store fields are compared
		wantErr string
	}{
		{
			name:   "sqlite",
			config: v1alpha1.BackingStore{Type: v1alpha1.BackingStoreSQLite},
			want:   Options{Store: StoreSQLite},
		},
		{
			name:   "embedded etcd",
			config: v1alpha1.BackingStore{Type: v1alpha1.BackingStoreEmbeddedEtcd},
			want:   Options{Store: StoreEmbeddedEtcd},
		},
		{
			name:   "external etcd: endpoints and prefix from the config, TLS files from flags",
			config: externalEtcd,
			flags: map[string]func(o *Options){
				"etcd-cafile": func(o *Options) { o.EtcdCAFile = "ca.crt" },
			},
			want: Options{Store: StoreExternalEtcd, EtcdServers: []string{"https://etcd-0:2379"}, EtcdPrefix: "/kubicle/ns/vc", EtcdCAFile: "ca.crt"},
		},
		{
			name:   "external etcd: flags win",
			config: externalEtcd,
			flags: map[string]func(o *Options){
				"etcd-servers": func(o *Options) { o.EtcdServers = []string{"https://other:2379"} },
				"etcd-prefix":  func(o *Options) { o.EtcdPrefix = "/mine" },
			},
			// --etcd-servers chooses the store: the config's type is not applied.
			want: Options{EtcdServers: []string{"https://other:2379"}, EtcdPrefix: "/mine"},
		},
		{
			name:   "database: driver from the config, DSN from the flag",
			config: database,
			flags: map[string]func(o *Options){
				"datastore-endpoint": func(o *Options) { o.StoreEndpoint = "postgres://u:p@db/vc" },
			},
			want: Options{Store: "", StoreEndpoint: "postgres://u:p@db/vc", DatabaseDriver: "postgres"},
		},
		{
			name:    "database without the DSN flag",
			config:  database,
			want:    Options{Store: StoreDatabase, DatabaseDriver: "postgres"},
			wantErr: "--store database needs --datastore-endpoint",
		},
		{
			name:    "database with a DSN of another driver",
			config:  database,
			flags:   map[string]func(o *Options){"datastore-endpoint": func(o *Options) { o.StoreEndpoint = "mysql://u@tcp(db)/vc" }},
			want:    Options{StoreEndpoint: "mysql://u@tcp(db)/vc", DatabaseDriver: "postgres"},
			wantErr: `--datastore-endpoint: a mysql data source name, but the config's database driver is "postgres"`,
		},
		{
			name:   "--store overrides the config, which then sets no external etcd fields",
			config: externalEtcd,
			flags:  map[string]func(o *Options){"store": func(o *Options) { o.Store = StoreEmbeddedEtcd }},
			want:   Options{Store: StoreEmbeddedEtcd},
		},
		{
			name:   "--datastore-endpoint overrides a defaulted sqlite type",
			config: v1alpha1.BackingStore{Type: v1alpha1.BackingStoreSQLite},
			flags:  map[string]func(o *Options){"datastore-endpoint": func(o *Options) { o.StoreEndpoint = "postgres://db/vc" }},
			want:   Options{StoreEndpoint: "postgres://db/vc"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			o := NewOptions()
			o.DataDir = t.TempDir()
			for _, set := range tc.flags {
				set(o)
			}
			vc := &v1alpha1.VirtualCluster{}
			vc.Name, vc.Namespace = "vc", "ns"
			vc.Spec.ControlPlane.BackingStore = tc.config
			o.ApplyConfig(vc, func(flag string) bool { _, ok := tc.flags[flag]; return ok })
			got := Options{Store: o.Store, StoreEndpoint: o.StoreEndpoint, DatabaseDriver: o.DatabaseDriver, EtcdServers: o.EtcdServers,
				EtcdCAFile: o.EtcdCAFile, EtcdCertFile: o.EtcdCertFile, EtcdKeyFile: o.EtcdKeyFile, EtcdPrefix: o.EtcdPrefix}
			if !equalStoreOptions(got, tc.want) {
				t.Errorf("store options = %s, want %s", storeOptionsString(got), storeOptionsString(tc.want))
			}
			err := o.Validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.wantErr)):
				t.Errorf("error = %v, want one starting %q", err, tc.wantErr)
			}
		})
	}
}

func equalStoreOptions(a, b Options) bool {
	return a.Store == b.Store && a.StoreEndpoint == b.StoreEndpoint && a.DatabaseDriver == b.DatabaseDriver &&
		strings.Join(a.EtcdServers, ",") == strings.Join(b.EtcdServers, ",") && a.EtcdCAFile == b.EtcdCAFile &&
		a.EtcdCertFile == b.EtcdCertFile && a.EtcdKeyFile == b.EtcdKeyFile && a.EtcdPrefix == b.EtcdPrefix
}

func storeOptionsString(o Options) string {
	return fmt.Sprintf("{Store:%q StoreEndpoint:%q DatabaseDriver:%q EtcdServers:%q EtcdCAFile:%q EtcdCertFile:%q EtcdKeyFile:%q EtcdPrefix:%q}",
		o.Store, o.StoreEndpoint, o.DatabaseDriver, o.EtcdServers, o.EtcdCAFile, o.EtcdCertFile, o.EtcdKeyFile, o.EtcdPrefix)
}

func TestExternalEtcdUnreachable(t *testing.T) {
	t.Parallel()
	// A listener that is not etcd: the TCP check passes, the Status call must not.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // now nothing listens there

	o := NewOptions()
	o.DataDir = t.TempDir()
	o.EtcdServers = []string{"http://" + addr}
	c, err := o.Complete()
	if err != nil {
		t.Fatal(err)
	}
	_, err = startStore(context.Background(), c)
	want := "starting store: external etcd http://" + addr + " does not answer: connection refused"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
}

func TestPingDatabaseRedacts(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	o := NewOptions()
	o.DataDir = t.TempDir()
	o.StoreEndpoint = "postgres://kube:s3cret@" + addr + "/vc?sslmode=disable"
	c, err := o.Complete()
	if err != nil {
		t.Fatal(err)
	}
	_, err = startStore(context.Background(), c)
	want := "starting store (database postgres://kube:xxxxx@" + addr + "/vc): cannot connect: connection refused"
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v, want %q", err, want)
	}
	if got := scrub("failed: password s3cret and s%3Acret", "postgres://u:s3cret@h/db"); got != "failed: password xxxxx and s%3Acret" {
		t.Errorf("scrub: %q", got)
	}
	if got := scrub("mysql said s3:cret", "mysql://u:s3:cret@tcp(h:3306)/db"); got != "mysql said xxxxx" {
		t.Errorf("scrub mysql: %q", got)
	}
}

func TestCheckEtcdBackend(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "good.db")
	db, err := bolt.Open(good, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("key")); return err }); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	empty := filepath.Join(dir, "empty.db")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.db")
	if err := os.WriteFile(bad, []byte(strings.Repeat("not a bolt database\n", 1000)), 0o600); err != nil {
		t.Fatal(err)
	}
	for path, wantErr := range map[string]string{
		good:                          "",
		empty:                         "",
		filepath.Join(dir, "none.db"): "",
		bad:                           "database " + bad + " is damaged: invalid database",
	} {
		err := checkEtcdBackend(path)
		if got := errString(err); got != wantErr {
			t.Errorf("checkEtcdBackend(%s) = %q, want %q", filepath.Base(path), got, wantErr)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestEtcdPeerURLIsKept(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "etcd-peer-url")
	first, err := etcdPeerURL(path)
	if err != nil {
		t.Fatal(err)
	}
	if first.Scheme != "http" || first.Hostname() != "127.0.0.1" || first.Port() == "" {
		t.Fatalf("peer URL %s: want http://127.0.0.1:PORT", first)
	}
	again, err := etcdPeerURL(path)
	if err != nil || again.String() != first.String() {
		t.Fatalf("second start: %v, %v; want %s again", again, err, first)
	}
	ln, err := net.Listen("tcp", first.Host)
	if err != nil {
		t.Skipf("the port was taken in between: %v", err)
	}
	defer ln.Close()
	_, err = etcdPeerURL(path)
	want := "peer address " + first.Host + " is in use by another process (the port was picked on the first start and is kept in " + path +
		"): stop that process, or delete the file to pick a new port"
	if err == nil || err.Error() != want {
		t.Fatalf("port in use: %v\nwant %s", err, want)
	}
	if err := os.WriteFile(path, []byte("127.0.0.1:2380\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := etcdPeerURL(path); err == nil || !strings.HasSuffix(err.Error(), "expected a URL such as http://127.0.0.1:2380; delete the file to pick a new port") {
		t.Fatalf("bad record: %v", err)
	}
}

func TestReason(t *testing.T) {
	t.Parallel()
	_, err := net.Dial("tcp", "127.0.0.1:1")
	if got := reason(err); got != "connection refused" {
		t.Errorf("reason(%v) = %q", err, got)
	}
	if got := reason(errors.New("tls: bad certificate")); got != "tls: bad certificate" {
		t.Errorf("reason = %q", got)
	}
}

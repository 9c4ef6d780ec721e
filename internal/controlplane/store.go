package controlplane

import (
	"context"
	"crypto/tls"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/k3s-io/kine/pkg/drivers"
	"github.com/k3s-io/kine/pkg/drivers/generic"
	bolt "go.etcd.io/bbolt"
	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// StoreType names the backing store that holds the control plane's objects.
type StoreType string

// The backing stores.
const (
	// StoreSQLite is kine on an SQLite file in DATA_DIR/db: one file, no quorum, the
	// smallest footprint; one control plane only.
	StoreSQLite StoreType = "sqlite"
	// StoreEmbeddedEtcd is an etcd member in this process, its data in DATA_DIR/etcd.
	StoreEmbeddedEtcd StoreType = "embedded-etcd"
	// StoreExternalEtcd is an etcd cluster run elsewhere; the API server talks to it
	// directly, without kine.
	StoreExternalEtcd StoreType = "external-etcd"
	// StoreDatabase is kine on a PostgreSQL or MySQL database named by a DSN.
	StoreDatabase StoreType = "database"
)

// storeTypes lists every StoreType, in the order messages name them.
var storeTypes = []StoreType{StoreSQLite, StoreEmbeddedEtcd, StoreExternalEtcd, StoreDatabase}

const (
	// storeCheckTimeout bounds the check that an external etcd or a database answers
	// before the API server starts. Both retry for minutes on their own, which looks
	// like a hang; a store on a reachable network answers in milliseconds, and 5 s
	// leaves room for a slow TLS handshake or DNS.
	storeCheckTimeout = 5 * time.Second

	// etcdReadyTimeout bounds the wait for the embedded etcd member to serve. A single
	// member elects itself within a second or two; replaying a large WAL takes longer.
	etcdReadyTimeout = time.Minute

	// etcdQuotaBytes is the embedded etcd's space quota: etcd's own default, 2 GiB.
	// Past it etcd raises an alarm and refuses writes (reads still work) instead of
	// filling the disk; the default PersistentVolumeClaim (5Gi, DefaultPersistenceSize)
	// is sized for it. The quota counts the database file, whose size is its high-water
	// mark: compaction frees pages for reuse but does not shrink the file.
	etcdQuotaBytes = 2 << 30

	// etcdAutoCompactionRetention turns etcd's own compaction off ("0"). The API
	// server compacts its store every 5 minutes (--etcd-compaction-interval), as it
	// does for the etcd that kubeadm runs; a second compactor would only remove
	// history that watchers may still need.
	etcdAutoCompactionRetention = "0"
)

// storeType is the store the options select: the one named, else the one the other
// store options imply.
func (o *Options) storeType() StoreType {
	switch {
	case o.Store != "":
		return o.Store
	case len(o.EtcdServers) > 0:
		return StoreExternalEtcd
	case o.StoreEndpoint != "":
		return StoreDatabase
	default:
		return StoreSQLite
	}
}

// validateStore returns every problem with the store options.
func (o *Options) validateStore() []error {
	if !slices.Contains(storeTypes, o.storeType()) {
		names := make([]string, len(storeTypes))
		for i, s := range storeTypes {
			names[i] = string(s)
		}
		return []error{fmt.Errorf("--store %q: must be one of %s", o.Store, strings.Join(names, ", "))}
	}
	var errs []error
	st := o.storeType()
	onlyWith := func(flag string, want StoreType) {
		errs = append(errs, fmt.Errorf("%s is only used with --store %s (the store is %s)", flag, want, st))
	}

	switch {
	case o.StoreEndpoint != "" && !strings.Contains(o.StoreEndpoint, "://"):
		errs = append(errs, errors.New("--datastore-endpoint: expected scheme://…, e.g. postgres://user:pass@host/db"))
	case o.StoreEndpoint != "" && !slices.Contains(databaseSchemes, strings.SplitN(o.StoreEndpoint, "://", 2)[0]):
		errs = append(errs, fmt.Errorf("--datastore-endpoint: %s:// is not a database kubicle supports; use postgres://… or mysql://…",
			strings.SplitN(o.StoreEndpoint, "://", 2)[0]))
	case o.StoreEndpoint != "" && st != StoreDatabase:
		onlyWith("--datastore-endpoint", StoreDatabase)
	case o.StoreEndpoint != "" && o.DatabaseDriver != "":
		if scheme, _, _ := strings.Cut(o.StoreEndpoint, "://"); !driverMatches(o.DatabaseDriver, scheme) {
			errs = append(errs, fmt.Errorf("--datastore-endpoint: a %s data source name, but the config's database driver is %q (spec.controlPlane.backingStore.database.driver)",
				scheme, o.DatabaseDriver))
		}
	case o.StoreEndpoint == "" && st == StoreDatabase:
		errs = append(errs, errors.New("--store database needs --datastore-endpoint, the data source name (e.g. postgres://user:pass@host:5432/db); "+
			"kubicle create reads it from the Secret named by spec.controlPlane.backingStore.database.dsnSecretRef"))
	}

	if vc := o.VirtualCluster; st == StoreEmbeddedEtcd && vc != nil && vc.Spec.ControlPlane.Replicas != nil && *vc.Spec.ControlPlane.Replicas > 1 {
		// Each replica would start a one-member cluster of its own: as many separate
		// stores as replicas, each serving different objects.
		errs = append(errs, fmt.Errorf("spec.controlPlane.replicas is %d: the embedded etcd runs one member per control plane and does not form a cluster across replicas yet; "+
			"use 1 replica, or an external etcd or a database for several", *vc.Spec.ControlPlane.Replicas))
	}
	if st != StoreExternalEtcd {
		if len(o.EtcdServers) > 0 {
			onlyWith("--etcd-servers", StoreExternalEtcd)
		}
		for _, f := range o.etcdTLSFlags() {
			onlyWith(f.name, StoreExternalEtcd)
		}
		if o.EtcdPrefix != "" {
			onlyWith("--etcd-prefix", StoreExternalEtcd)
		}
		return errs
	}
	if len(o.EtcdServers) == 0 {
		errs = append(errs, errors.New("--store external-etcd needs --etcd-servers, the etcd client URLs (e.g. https://etcd-0.etcd:2379)"))
	}
	tlsFiles := len(o.etcdTLSFlags()) > 0
	for _, s := range o.EtcdServers {
		u, err := url.Parse(s)
		switch {
		case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/"):
			errs = append(errs, fmt.Errorf("--etcd-servers %q: expected an http or https URL such as https://etcd-0.etcd:2379", s))
		case tlsFiles && u.Scheme != "https":
			errs = append(errs, fmt.Errorf("--etcd-servers %q: must be https with --etcd-cafile, --etcd-certfile or --etcd-keyfile", s))
		}
	}
	if (o.EtcdCertFile == "") != (o.EtcdKeyFile == "") {
		errs = append(errs, errors.New("--etcd-certfile and --etcd-keyfile go together: give both for a client certificate, or neither"))
	}
	if o.EtcdPrefix != "" && !strings.HasPrefix(o.EtcdPrefix, "/") {
		errs = append(errs, fmt.Errorf("--etcd-prefix %q: must start with \"/\"", o.EtcdPrefix))
	}
	return errs
}

type namedFlag struct{ name, value string }

// etcdTLSFlags returns the external etcd TLS files that are set, by flag name.
func (o *Options) etcdTLSFlags() []namedFlag {
	var out []namedFlag
	for _, f := range []namedFlag{{"--etcd-cafile", o.EtcdCAFile}, {"--etcd-certfile", o.EtcdCertFile}, {"--etcd-keyfile", o.EtcdKeyFile}} {
		if f.value != "" {
			out = append(out, f)
		}
	}
	return out
}

// databaseSchemes are the data source name schemes of the database store (kine's
// PostgreSQL and MySQL drivers, linked in kine.go).
var databaseSchemes = []string{"postgres", "postgresql", "mysql"}

// driverMatches reports whether a DSN scheme belongs to a database driver of the
// config ("postgres" or "mysql").
func driverMatches(driver, scheme string) bool {
	switch driver {
	case "postgres":
		return scheme == "postgres" || scheme == "postgresql"
	default:
		return scheme == driver
	}
}

// store is a running (or, for external etcd, checked) backing store.
type store struct {
	// flags point kube-apiserver at the store (--etcd-servers and, for an external
	// etcd, its TLS files and prefix).
	flags []string
	// failed receives an error when the store stops on its own; nil for stores that
	// report nothing (kine, an external etcd).
	failed <-chan error
	// stopped is closed once the store has stopped after its context was cancelled;
	// nil when there is nothing to wait for.
	stopped <-chan struct{}
}

// wait blocks until the store has stopped; call it after cancelling its context.
func (s *store) wait() {
	if s.stopped != nil {
		<-s.stopped
	}
}

// startStore starts or checks the backing store that o selects. The store runs until
// ctx is cancelled, which must happen after the API server has stopped (NOTES.md,
// "Shutdown order").
func startStore(ctx context.Context, o *CompletedOptions) (*store, error) {
	switch o.Store {
	case StoreEmbeddedEtcd:
		return startEmbeddedEtcd(ctx, o)
	case StoreExternalEtcd:
		return checkExternalEtcd(ctx, o)
	default:
		return startKine(ctx, o)
	}
}

// startKine starts kine in-process on a unix socket, on SQLite in the data directory
// or on the database of o.StoreEndpoint.
func startKine(ctx context.Context, o *CompletedOptions) (*store, error) {
	dsn := o.StoreEndpoint
	what := "database " + redactDSN(dsn)
	if o.Store == StoreDatabase {
		if err := pingDatabase(ctx, dsn); err != nil {
			return nil, fmt.Errorf("starting store (%s): %w", what, err)
		}
	} else {
		db := o.path("db", "state.db")
		if err := prepareDataDir(filepath.Dir(db)); err != nil {
			return nil, err
		}
		if err := checkSQLite(db); err != nil {
			return nil, fmt.Errorf("starting store (SQLite database %s): %w", db, err)
		}
		// The parameters kine uses for its own default SQLite database.
		dsn = "sqlite://" + db + "?_journal=WAL&cache=shared&_busy_timeout=30000&_txlock=immediate"
		what = "SQLite database " + db
	}
	wg := &sync.WaitGroup{}
	url, err := serveKine(ctx, wg, kineOptions{
		socket: socketPath(o.path("kine.sock")),
		driver: drivers.Config{
			Endpoint: dsn,
			// kine's own CLI defaults; zero values are refused (NOTES.md).
			CompactInterval:  5 * time.Minute,
			CompactTimeout:   5 * time.Second,
			CompactMinRetain: 1000,
			CompactBatchSize: 1000,
			PollBatchSize:    500,
			PollInterval:     time.Second,
			ConnectionPoolConfig: generic.ConnectionPoolConfig{
				MaxIdle:     20,
				MaxIdleTime: 2 * time.Minute,
			},
		},
		notifyInterval:  5 * time.Second,
		emulatedVersion: "3.6.11",
	})
	if err != nil {
		return nil, fmt.Errorf("starting store (%s): %w", what, err)
	}
	stopped := make(chan struct{})
	go func() {
		<-ctx.Done()
		wg.Wait()
		close(stopped)
	}()
	return &store{flags: []string{"--etcd-servers=" + url}, stopped: stopped}, nil
}

// pingDatabase checks that the database of a PostgreSQL or MySQL DSN accepts a
// connection within storeCheckTimeout; kine itself would retry for five minutes. A
// database that does not exist yet is fine: kine creates it. The error never holds
// the password. Other kine endpoints are left to kine.
func pingDatabase(ctx context.Context, dsn string) error {
	scheme, rest, _ := strings.Cut(dsn, "://")
	var driver, source string
	switch scheme {
	case "postgres", "postgresql":
		// pgx's database/sql driver, registered by kine's PostgreSQL driver.
		driver, source = "pgx", dsn
	case "mysql":
		// go-sql-driver/mysql, registered by kine's MySQL driver; kine strips the scheme.
		driver, source = "mysql", rest
	default:
		return nil
	}
	if !slices.Contains(sql.Drivers(), driver) {
		return nil
	}
	db, err := sql.Open(driver, source)
	if err != nil {
		return errors.New(scrub(fmt.Sprintf("reading the data source name: %v", err), dsn))
	}
	defer db.Close()
	pctx, cancel := context.WithTimeout(ctx, storeCheckTimeout)
	defer cancel()
	err = db.PingContext(pctx)
	switch {
	case err == nil, databaseMissing(err):
		return nil
	case pctx.Err() != nil && ctx.Err() == nil:
		return fmt.Errorf("the database did not answer within %s", storeCheckTimeout)
	}
	return errors.New(scrub("cannot connect: "+reason(err), dsn))
}

// databaseMissing reports whether err says the server answered and the credentials
// were accepted, but the database does not exist yet.
func databaseMissing(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLSTATE 3D000") || // PostgreSQL: invalid_catalog_name
		strings.Contains(msg, "Error 1049") // MySQL: ER_BAD_DB_ERROR
}

// reason returns the most useful part of a connection error: the system error
// ("connection refused") when there is one, else the whole message.
func reason(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return errno.Error()
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return "no such host " + dns.Name
	}
	return err.Error()
}

// scrub removes the password of dsn from msg.
func scrub(msg, dsn string) string {
	if pw := dsnPassword(dsn); pw != "" {
		msg = strings.ReplaceAll(msg, pw, "xxxxx")
		msg = strings.ReplaceAll(msg, url.QueryEscape(pw), "xxxxx")
	}
	return msg
}

// dsnUserinfo finds "scheme://user:password@" in DSNs that net/url cannot parse,
// such as MySQL's "mysql://user:pass@tcp(host:3306)/db".
var dsnUserinfo = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://[^:@/]*):([^@]*)@`)

func dsnPassword(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		pw, _ := u.User.Password()
		return pw
	}
	if m := dsnUserinfo.FindStringSubmatch(dsn); m != nil {
		return m[2]
	}
	return ""
}

// redactDSN hides a database password in messages, as kine does, and drops the query.
func redactDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		dsn = dsnUserinfo.ReplaceAllString(dsn, "${1}:xxxxx@")
		return strings.SplitN(dsn, "?", 2)[0]
	}
	if u.User == nil {
		return strings.SplitN(dsn, "?", 2)[0]
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	u.RawQuery = ""
	return u.String()
}

// checkExternalEtcd checks that at least one endpoint of the external etcd answers a
// Status call within storeCheckTimeout, and returns the API server flags for it.
// Without the check, an unreachable etcd shows up as an API server that is not ready
// for minutes; with it, as one line naming each endpoint and why it failed.
func checkExternalEtcd(ctx context.Context, o *CompletedOptions) (*store, error) {
	what := "external etcd " + strings.Join(o.EtcdServers, ",")
	fail := func(err error) (*store, error) { return nil, fmt.Errorf("starting store (%s): %w", what, err) }
	var tlsConfig *tls.Config
	if slices.ContainsFunc(o.EtcdServers, func(s string) bool { return strings.HasPrefix(s, "https://") }) {
		info := transport.TLSInfo{CertFile: o.EtcdCertFile, KeyFile: o.EtcdKeyFile, TrustedCAFile: o.EtcdCAFile}
		var err error
		if tlsConfig, err = info.ClientConfig(); err != nil {
			return fail(fmt.Errorf("reading the TLS files: %w", err))
		}
	}
	client, err := clientv3.New(clientv3.Config{
		Endpoints:   o.EtcdServers,
		DialTimeout: storeCheckTimeout,
		TLS:         tlsConfig,
		Logger:      zap.NewNop(),
		Context:     ctx,
	})
	if err != nil {
		return fail(err)
	}
	defer client.Close()

	errs := make([]error, len(o.EtcdServers))
	var wg sync.WaitGroup
	for i, ep := range o.EtcdServers {
		wg.Go(func() { errs[i] = checkEtcdEndpoint(ctx, client, tlsConfig, ep) })
	}
	wg.Wait()
	if slices.Contains(errs, nil) {
		flags := []string{"--etcd-servers=" + strings.Join(o.EtcdServers, ",")}
		for _, f := range o.etcdTLSFlags() {
			flags = append(flags, f.name+"="+f.value)
		}
		if o.EtcdPrefix != "" {
			flags = append(flags, "--etcd-prefix="+o.EtcdPrefix)
		}
		return &store{flags: flags}, nil
	}
	if len(errs) == 1 {
		return nil, fmt.Errorf("starting store: external etcd %s does not answer: %w", o.EtcdServers[0], errs[0])
	}
	reasons := make([]string, len(errs))
	for i, err := range errs {
		reasons[i] = o.EtcdServers[i] + ": " + err.Error()
	}
	return nil, fmt.Errorf("starting store: no external etcd endpoint answers: %s", strings.Join(reasons, "; "))
}

// checkEtcdEndpoint connects to one etcd endpoint and, for https, completes a TLS
// handshake (which name a refused connection, an unknown host or an untrusted
// certificate plainly), then asks for its status (which proves the client certificate
// and the protocol).
func checkEtcdEndpoint(ctx context.Context, client *clientv3.Client, tlsConfig *tls.Config, ep string) error {
	u, err := url.Parse(ep)
	if err != nil {
		return err
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "2379")
	}
	cctx, cancel := context.WithTimeout(ctx, storeCheckTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(cctx, "tcp", addr)
	if err != nil {
		if cctx.Err() != nil {
			return fmt.Errorf("no answer within %s", storeCheckTimeout)
		}
		return errors.New(reason(err))
	}
	if u.Scheme == "https" {
		cfg := tlsConfig.Clone()
		if cfg.ServerName == "" {
			cfg.ServerName = u.Hostname()
		}
		tc := tls.Client(conn, cfg)
		err := tc.HandshakeContext(cctx)
		_ = tc.Close()
		if err != nil {
			if cctx.Err() != nil {
				return fmt.Errorf("no TLS handshake within %s", storeCheckTimeout)
			}
			return err
		}
	} else {
		_ = conn.Close()
	}
	if _, err := client.Status(cctx, ep); err != nil {
		if cctx.Err() != nil {
			return fmt.Errorf("no etcd status within %s (is it etcd, and does it accept the client certificate?)", storeCheckTimeout)
		}
		return err
	}
	return nil
}

// startEmbeddedEtcd runs a single etcd member in this process with its data in
// DATA_DIR/etcd. Clients reach it on a unix socket in the data directory (no port to
// collide with, nothing reachable from the network); its peer URL, which a single
// member never dials but etcd requires, is a loopback port picked on the first start
// and kept in DATA_DIR/etcd-peer-url, since etcd records it in its data.
func startEmbeddedEtcd(ctx context.Context, o *CompletedOptions) (*store, error) {
	dir := o.path("etcd")
	fail := func(err error) (*store, error) {
		return nil, fmt.Errorf("starting store (embedded etcd in %s): %w", dir, err)
	}
	if err := prepareDataDir(dir); err != nil {
		return nil, err
	}
	if err := checkEtcdBackend(filepath.Join(dir, "member", "snap", "db")); err != nil {
		return fail(fmt.Errorf("%w; restore %s from a backup (etcdutl snapshot restore), or move it away to start empty", err, dir))
	}
	peer, err := etcdPeerURL(o.path("etcd-peer-url"))
	if err != nil {
		return fail(err)
	}

	log := &etcdLog{}
	cfg := embed.NewConfig()
	cfg.Name = "kubicle"
	cfg.Dir = dir
	client := url.URL{Scheme: "unix", Path: socketPath(o.path("etcd.sock"))}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.InitialClusterToken = "kubicle"
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = etcdAutoCompactionRetention
	cfg.QuotaBackendBytes = etcdQuotaBytes
	// The API server speaks gRPC; the HTTP/JSON gateway would only cost memory.
	cfg.EnableGRPCGateway = false
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(log.logger())

	e, err := startEtcd(cfg, log)
	var errno syscall.Errno
	var opErr *net.OpError
	switch {
	case err == nil:
	case errors.As(err, &errno) && errno == syscall.EADDRINUSE:
		return fail(peerInUse(peer, o.path("etcd-peer-url")))
	case errors.As(err, &opErr):
		return fail(err) // a listener: not the data
	default:
		return fail(fmt.Errorf("etcd cannot start from its data: %w; restore %s from a backup (etcdutl snapshot restore), or move it away to start empty", err, dir))
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return fail(err)
	case <-time.After(etcdReadyTimeout):
		e.Close()
		return fail(fmt.Errorf("not ready after %s", etcdReadyTimeout))
	case <-ctx.Done():
		e.Close()
		return fail(ctx.Err())
	}

	failed := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case err := <-e.Err():
			failed <- fmt.Errorf("embedded etcd: %w", err)
		case <-e.Server.StopNotify():
			failed <- errors.New("embedded etcd stopped")
		case <-ctx.Done():
		}
		// Keep the member until asked to stop: the API server must stop first.
		<-ctx.Done()
		log.closing.Store(true)
		e.Close()
	}()
	return &store{flags: []string{"--etcd-servers=" + client.String()}, failed: failed, stopped: stopped}, nil
}

// startEtcd is embed.StartEtcd with etcd's fatal and panic logs (which it writes for
// some kinds of damage to its WAL or snapshots, and would end the process with)
// turned into an error.
func startEtcd(cfg *embed.Config, log *etcdLog) (e *embed.Etcd, err error) {
	defer func() {
		if r := recover(); r != nil {
			msg := fmt.Sprint(r)
			if last := log.lastFatal.Load(); last != nil {
				msg = *last
			}
			e, err = nil, errors.New(msg)
		}
	}()
	return embed.StartEtcd(cfg)
}

// etcdNoise are warnings etcd writes on every start of a member configured as this
// one is on purpose: one unix socket for gRPC and HTTP, and no etcd authentication
// (only this process can reach the socket).
var etcdNoise = []string{
	"Running http and grpc server on single port. This is not recommended for production.",
	"simple token is not cryptographically signed",
}

// etcdLog routes the embedded etcd's warnings and errors to stderr, minus the noise
// of a normal start and stop.
type etcdLog struct {
	// lastFatal is the last fatal or panic message, with the error it carries.
	lastFatal atomic.Pointer[string]
	// closing silences the errors etcd logs about its closed listeners while it stops.
	closing atomic.Bool
}

// logger returns the zap logger for embed.Config. Fatal logs panic instead of exiting,
// so that startEtcd can return them as an error.
func (l *etcdLog) logger() *zap.Logger {
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewConsoleEncoder(enc), zapcore.Lock(os.Stderr), zapcore.WarnLevel)
	return zap.New(&etcdCore{Core: core, log: l}, zap.WithFatalHook(zapcore.WriteThenPanic)).
		With(zap.String("component", "etcd"))
}

// etcdCore is a zap core that drops etcdNoise and the errors of a stopping member,
// and records the last entry at DPanic level or above.
type etcdCore struct {
	zapcore.Core
	log *etcdLog
}

// With adds fields to the wrapped core.
func (c *etcdCore) With(fields []zapcore.Field) zapcore.Core {
	return &etcdCore{Core: c.Core.With(fields), log: c.log}
}

// Check adds c to ce when the entry is enabled and worth showing.
func (c *etcdCore) Check(ent zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	quiet := ent.Level < zapcore.DPanicLevel && (c.log.closing.Load() || slices.Contains(etcdNoise, ent.Message))
	if c.Enabled(ent.Level) && !quiet {
		return ce.AddCore(ent, c)
	}
	return ce
}

// Write records fatal and panic entries, then writes the entry.
func (c *etcdCore) Write(ent zapcore.Entry, fields []zapcore.Field) error {
	if ent.Level >= zapcore.DPanicLevel {
		msg := ent.Message
		for _, f := range fields {
			if err, ok := f.Interface.(error); ok && f.Type == zapcore.ErrorType {
				msg += ": " + err.Error()
			}
		}
		c.log.lastFatal.Store(&msg)
	}
	return c.Core.Write(ent, fields)
}

// checkEtcdBackend opens etcd's database file read-only and reads its root. etcd
// opens it in a goroutine of its own and panics there when it is damaged, which would
// end the process with a stack trace instead of a message. A missing or empty file
// is fine: etcd creates it.
func checkEtcdBackend(path string) (err error) {
	if info, statErr := os.Stat(path); statErr != nil || info.Size() == 0 {
		return nil
	}
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("database %s is damaged: %v", path, r)
		}
	}()
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true, Timeout: time.Second})
	if err != nil {
		return fmt.Errorf("database %s is damaged: %w", path, err)
	}
	defer db.Close()
	if err := db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func([]byte, *bolt.Bucket) error { return nil })
	}); err != nil {
		return fmt.Errorf("database %s is damaged: %w", path, err)
	}
	return nil
}

// etcdPeerURL returns the peer URL recorded in path, or picks a free loopback port
// and records it. It fails, naming the port and the file, when the port is in use.
func etcdPeerURL(path string) (*url.URL, error) {
	if data, err := os.ReadFile(path); err == nil {
		u, err := url.Parse(strings.TrimSpace(string(data)))
		if err != nil || u.Scheme != "http" || u.Port() == "" {
			return nil, fmt.Errorf("%s: expected a URL such as http://127.0.0.1:2380; delete the file to pick a new port", path)
		}
		ln, err := net.Listen("tcp", u.Host)
		if err != nil {
			return nil, peerInUse(u, path)
		}
		_ = ln.Close()
		return u, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("picking a peer port: %w", rootCause(err))
	}
	u := &url.URL{Scheme: "http", Host: ln.Addr().String()}
	_ = ln.Close()
	if err := os.WriteFile(path, []byte(u.String()+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("recording the peer URL: %w", err)
	}
	return u, nil
}

func peerInUse(u *url.URL, path string) error {
	return fmt.Errorf("peer address %s is in use by another process (the port was picked on the first start and is kept in %s): stop that process, or delete the file to pick a new port",
		u.Host, path)
}

// socketPath keeps a unix socket path under the kernel's 108-byte limit: deep data
// directories (test temp dirs) get a short name in the temp directory instead.
func socketPath(want string) string {
	if len(want) < 100 {
		return want
	}
	return filepath.Join("/tmp", fmt.Sprintf("kubicle-%x.sock", hash32(want)))
}

func hash32(s string) uint32 {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

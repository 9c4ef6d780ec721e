package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Postgres is a real PostgreSQL server started for one test from the binaries of
// Debian's postgresql package: its own cluster in a temporary directory, listening on
// a free 127.0.0.1 port with password-less ("trust") access for the user postgres.
type Postgres struct {
	// Port is the TCP port on 127.0.0.1 (and on Address).
	Port int
	// Address is the other IP the server listens on (StartPostgresOn), or "".
	Address string
	// Dir holds the cluster's data (Dir/data), its unix socket and its log.
	Dir string

	bin  string
	proc *exec.Cmd
	done chan struct{}
}

// StartPostgres starts a PostgreSQL server and stops it on cleanup. Without the
// PostgreSQL binaries it skips the test, unless $CI is set: CI must install them
// (.ci/run does), so there it fails. When the test runs as root the server runs as
// the postgres system user, since postgres refuses to run as root.
func StartPostgres(t testing.TB) *Postgres {
	t.Helper()
	return StartPostgresOn(t, "")
}

// StartPostgresOn is StartPostgres with the server also listening on address (an
// IP of this machine), where it trusts clients from any address: pods of the
// embedded host's real nodes reach it on the host's address, not on 127.0.0.1.
func StartPostgresOn(t testing.TB, address string) *Postgres {
	t.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		if inCI() {
			t.Fatalf("%v; CI must install Debian's postgresql package (.ci/run does)", err)
		}
		t.Skipf("%v; install Debian's postgresql package to run this test", err)
	}
	var runAs *user.User
	if os.Geteuid() == 0 {
		if runAs, err = user.Lookup("postgres"); err != nil {
			t.Fatalf("running as root, and postgres refuses root: need the postgres system user (Debian's postgresql package creates it): %v", err)
		}
	}

	// Not t.TempDir: its parent directories are private to root, and the server may
	// run as another user.
	dir, err := os.MkdirTemp("", "kubicle-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	if runAs != nil {
		uid, _ := strconv.Atoi(runAs.Uid)
		gid, _ := strconv.Atoi(runAs.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	p := &Postgres{Dir: dir, Address: address, bin: bin, done: make(chan struct{})}
	asServer := func(name string, args ...string) *exec.Cmd {
		if runAs != nil {
			args = append([]string{"--reuid=" + runAs.Uid, "--regid=" + runAs.Gid, "--clear-groups", "--", filepath.Join(bin, name)}, args...)
			name = "setpriv"
		} else {
			name = filepath.Join(bin, name)
		}
		cmd := exec.Command(name, args...)
		cmd.Dir = dir // the server user may not be allowed into the test's directory
		cmd.Env = append(os.Environ(), "LC_ALL=C")
		return cmd
	}

	data := filepath.Join(dir, "data")
	if out, err := asServer("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}

	listen := "127.0.0.1"
	if address != "" {
		listen += "," + address
		hba, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = fmt.Fprintln(hba, "host all all 0.0.0.0/0 trust")
		if cerr := hba.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	logPath := filepath.Join(t.TempDir(), "postgres.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// The port is free when picked; another process may take it before postgres
	// binds, so try a few.
	for attempt := 0; ; attempt++ {
		_, portStr, _ := strings.Cut(freeAddr(t), ":")
		p.Port, _ = strconv.Atoi(portStr)
		cmd := asServer("postgres", "-D", data, "-p", portStr, "-k", dir,
			"-c", "listen_addresses="+listen,
			// A test's database need not survive a power cut.
			"-c", "fsync=off", "-c", "full_page_writes=off")
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting postgres: %v", err)
		}
		p.proc, p.done = cmd, make(chan struct{})
		go func(done chan struct{}) { _ = cmd.Wait(); close(done) }(p.done)
		if p.waitReady(30 * time.Second) {
			break
		}
		p.stop()
		if attempt == 2 {
			_ = logFile.Close()
			log, _ := os.ReadFile(logPath)
			t.Fatalf("postgres did not start:\n%s", log)
		}
	}
	t.Cleanup(func() {
		p.stop()
		_ = logFile.Close()
		if t.Failed() {
			log, _ := os.ReadFile(logPath)
			t.Logf("postgres log:\n%s", log)
		}
	})
	return p
}

// postgresBinDir finds the directory of initdb and postgres: the newest
// /usr/lib/postgresql/VERSION/bin (Debian's layout), else the one holding initdb on
// $PATH.
func postgresBinDir() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	if initdb, err := exec.LookPath("initdb"); err == nil {
		dirs = append(dirs, filepath.Dir(initdb))
	}
	for _, d := range dirs {
		if isExecutable(filepath.Join(d, "initdb")) && isExecutable(filepath.Join(d, "postgres")) && isExecutable(filepath.Join(d, "psql")) {
			return d, nil
		}
	}
	return "", fmt.Errorf("no PostgreSQL binaries (initdb, postgres, psql in /usr/lib/postgresql/*/bin or on $PATH)")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func isExecutable(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.Mode().IsRegular() && info.Mode()&0o111 != 0
}

// inCI reports whether $CI says the tests run in CI.
func inCI() bool {
	v := os.Getenv("CI")
	if v == "" {
		return false
	}
	b, err := strconv.ParseBool(v)
	return err != nil || b
}

// waitReady polls with pg_isready until the server accepts connections, it exits,
// or timeout passes.
func (p *Postgres) waitReady(timeout time.Duration) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			return false
		default:
		}
		if exec.Command(filepath.Join(p.bin, "pg_isready"), "-q", "-h", "127.0.0.1", "-p", strconv.Itoa(p.Port)).Run() == nil {
			return true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return false
}

// stop asks for a fast shutdown (SIGINT: disconnect clients, then exit) and kills
// the server after 10 s.
func (p *Postgres) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.proc.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.proc.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// DSN returns the data source name of database db for kubicle's
// --datastore-endpoint.
func (p *Postgres) DSN(db string) string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", p.Port, db)
}

// DSNOn is DSN through Address, for clients elsewhere than this machine's
// loopback, such as pods.
func (p *Postgres) DSNOn(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", net.JoinHostPort(p.Address, strconv.Itoa(p.Port)), db)
}

// CreateDatabase creates database name.
func (p *Postgres) CreateDatabase(t testing.TB, name string) {
	t.Helper()
	p.psql(t, "postgres", fmt.Sprintf(`CREATE DATABASE "%s"`, name))
}

// Query runs one SQL statement in database db and returns its rows, one per line,
// columns separated by "|".
func (p *Postgres) Query(t testing.TB, db, sql string) string {
	t.Helper()
	return p.psql(t, db, sql)
}

func (p *Postgres) psql(t testing.TB, db, sql string) string {
	t.Helper()
	cmd := exec.Command(filepath.Join(p.bin, "psql"), "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
		"-h", "127.0.0.1", "-p", strconv.Itoa(p.Port), "-U", "postgres", "-d", db, "-c", sql)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("psql %q on %s: %v\n%s", sql, db, err, stderr.String())
	}
	return strings.TrimSpace(stdout.String())
}

package lifecycle

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// databaseDialTimeout bounds the check that a database answers at all.
const databaseDialTimeout = 5 * time.Second

// readDSN returns the data source name of a virtual cluster whose backing
// store is a database, read from its Secret on the host, after checking that
// the database's address accepts connections. It returns "" for other
// stores. Only the process driver calls it: a pod-driven control plane reads
// the Secret itself. The DSN never appears in an error.
func readDSN(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster) (string, error) {
	dsn, err := secretDSN(ctx, h, vc)
	if dsn == "" || err != nil {
		return "", err
	}
	bs := &vc.Spec.ControlPlane.BackingStore
	ref := bs.Database.DSNSecretRef
	addr, err := databaseAddress(dsn, bs.Database.Driver)
	if err != nil {
		return "", fmt.Errorf("%s: the DSN in Secret %s/%s: %w", dsnField, vc.Namespace, ref.Name, err)
	}
	d := net.Dialer{Timeout: databaseDialTimeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return "", fmt.Errorf("database %s (%s, DSN from Secret %s/%s) is unreachable: %w", addr, bs.Database.Driver, vc.Namespace, ref.Name, cause(err))
	}
	_ = conn.Close()
	return dsn, nil
}

// dsnField is the config field that names the DSN's Secret.
const dsnField = "spec.controlPlane.backingStore.database.dsnSecretRef"

// secretDSN reads the DSN of a virtual cluster with a database store from
// its Secret, without contacting the database; "" for other stores.
func secretDSN(ctx context.Context, h *Host, vc *v1alpha1.VirtualCluster) (string, error) {
	bs := &vc.Spec.ControlPlane.BackingStore
	if bs.Type != v1alpha1.BackingStoreDatabase || bs.Database == nil || bs.Database.DSNSecretRef == nil {
		return "", nil
	}
	ref := bs.Database.DSNSecretRef
	s, err := h.Client.CoreV1().Secrets(vc.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return "", fmt.Errorf("%s: Secret %s/%s not found on the host; create it first (kubectl -n %s create secret generic %s --from-literal=%s=DSN)",
			dsnField, vc.Namespace, ref.Name, vc.Namespace, ref.Name, ref.Key)
	}
	if err != nil {
		return "", fmt.Errorf("%s: reading Secret %s/%s: %w", dsnField, vc.Namespace, ref.Name, err)
	}
	dsn := strings.TrimSpace(string(s.Data[ref.Key]))
	if dsn == "" {
		return "", fmt.Errorf("%s: Secret %s/%s has no key %q", dsnField, vc.Namespace, ref.Name, ref.Key)
	}
	return dsn, nil
}

// mysqlAddress finds the address in a Go MySQL DSN: user:pass@tcp(host:port)/db.
var mysqlAddress = regexp.MustCompile(`@tcp\(([^)]*)\)`)

// databaseAddress returns the host:port a DSN connects to, with the
// driver's default port when none is given.
func databaseAddress(dsn string, driver v1alpha1.DatabaseDriver) (string, error) {
	port := "5432"
	if driver == v1alpha1.DatabaseMySQL {
		port = "3306"
		if m := mysqlAddress.FindStringSubmatch(dsn); m != nil {
			return withPort(m[1], port), nil
		}
	}
	u, err := url.Parse(dsn)
	if err != nil || u.Host == "" {
		// url.Parse's error quotes the DSN, password and all.
		return "", fmt.Errorf("expected a URL such as %s://user:password@host:port/database", driver)
	}
	return withPort(u.Host, port), nil
}

func withPort(hostport, port string) string {
	if _, _, err := net.SplitHostPort(hostport); err == nil {
		return hostport
	}
	return net.JoinHostPort(strings.Trim(hostport, "[]"), port)
}

// dsnSecrets returns the parts of a DSN to hide in logs shown to the user:
// the password, and the DSN itself.
func dsnSecrets(dsn string) []string {
	if dsn == "" {
		return nil
	}
	out := []string{dsn}
	if u, err := url.Parse(dsn); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			out = append(out, pw, url.QueryEscape(pw))
		}
	}
	return out
}

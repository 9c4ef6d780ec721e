package pki

import (
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEnsureBundleCreatesAndReuses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b, err := EnsureBundle(dir, BundleOptions{Hosts: []string{"vc.example.com", "10.1.2.3"}, ServiceIP: net.ParseIP("10.96.0.1")})
	if err != nil {
		t.Fatal(err)
	}
	serving := readCert(t, b.Serving.CertFile)
	for _, name := range append([]string{"vc.example.com"}, DefaultDNSNames...) {
		if err := serving.VerifyHostname(name); err != nil {
			t.Errorf("serving certificate does not cover %s: %v", name, err)
		}
	}
	for _, ip := range []string{"127.0.0.1", "::1", "10.1.2.3", "10.96.0.1"} {
		if err := serving.VerifyHostname(ip); err != nil {
			t.Errorf("serving certificate does not cover %s: %v", ip, err)
		}
	}
	pool := x509.NewCertPool()
	pool.AddCert(b.CA.Cert)
	if _, err := serving.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"}); err != nil {
		t.Fatalf("serving certificate does not chain to the CA: %v", err)
	}
	admin := readCert(t, b.Admin.CertFile)
	if admin.Subject.CommonName != "kubicle-admin" || strings.Join(admin.Subject.Organization, ",") != "system:masters" {
		t.Fatalf("admin subject = %v", admin.Subject)
	}
	if _, err := admin.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Fatalf("admin certificate is not a client certificate of the CA: %v", err)
	}
	if _, err := os.Stat(b.ServiceAccount.CertFile); err != nil {
		t.Fatal("no service-account public key")
	}
	if info, _ := os.Stat(b.CA.KeyFile); info.Mode().Perm() != 0o600 {
		t.Fatalf("CA key mode %v, want 0600", info.Mode().Perm())
	}

	before := snapshot(t, dir)
	if _, err := EnsureBundle(dir, BundleOptions{Hosts: []string{"vc.example.com", "10.1.2.3"}, ServiceIP: net.ParseIP("10.96.0.1")}); err != nil {
		t.Fatal(err)
	}
	if after := snapshot(t, dir); !equalMaps(before, after) {
		t.Fatal("a second start with the same options rewrote credentials")
	}
}

func TestEnsureReissuesServingCertForNewNames(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b1, err := EnsureBundle(dir, BundleOptions{})
	if err != nil {
		t.Fatal(err)
	}
	caBefore := readFile(t, b1.CA.CertFile)
	adminBefore := readFile(t, b1.Admin.CertFile)
	b2, err := EnsureBundle(dir, BundleOptions{Hosts: []string{"new.example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := readCert(t, b2.Serving.CertFile).VerifyHostname("new.example.com"); err != nil {
		t.Fatalf("serving certificate was not re-issued for the new name: %v", err)
	}
	if readFile(t, b2.CA.CertFile) != caBefore || readFile(t, b2.Admin.CertFile) != adminBefore {
		t.Fatal("the CA or the admin certificate changed; only the serving certificate should")
	}
}

func TestEnsureCARefusesPartialOrMismatched(t *testing.T) {
	t.Parallel()
	cases := map[string]func(dir string){
		"key missing": func(dir string) { os.Remove(filepath.Join(dir, "ca.key")) },
		"garbage certificate": func(dir string) {
			os.WriteFile(filepath.Join(dir, "ca.crt"), []byte("not pem"), 0o644)
		},
		"key of another CA": func(dir string) {
			other := t.TempDir()
			if _, err := EnsureCA(other, "ca", "other"); err != nil {
				t.Fatal(err)
			}
			data, _ := os.ReadFile(filepath.Join(other, "ca.key"))
			os.WriteFile(filepath.Join(dir, "ca.key"), data, 0o600)
		},
	}
	for name, breakIt := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if _, err := EnsureCA(dir, "ca", "kubicle-ca"); err != nil {
				t.Fatal(err)
			}
			breakIt(dir)
			before := snapshot(t, dir)
			if _, err := EnsureCA(dir, "ca", "kubicle-ca"); err == nil {
				t.Fatal("a broken CA was accepted")
			}
			if after := snapshot(t, dir); !equalMaps(before, after) {
				t.Fatal("a broken CA was replaced; it must be left for the user to repair")
			}
		})
	}
}

func TestEnsureKeyReused(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p1, err := EnsureKey(dir, "sa")
	if err != nil {
		t.Fatal(err)
	}
	key := readFile(t, p1.KeyFile)
	os.Remove(p1.CertFile) // the public key is derived again from the private one
	p2, err := EnsureKey(dir, "sa")
	if err != nil {
		t.Fatal(err)
	}
	if readFile(t, p2.KeyFile) != key {
		t.Fatal("the signing key changed; every issued token would become invalid")
	}
	if _, err := os.Stat(p2.CertFile); err != nil {
		t.Fatal("public key not written again")
	}
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	c, err := parseCert([]byte(readFile(t, path)))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		out[e.Name()] = readFile(t, filepath.Join(dir, e.Name()))
	}
	return out
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

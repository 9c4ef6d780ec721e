// Package pki creates and reuses the certificates and keys a control plane needs: a
// cluster CA, a front-proxy CA, serving certificates, client certificates and the
// service-account signing key. Everything lives as PEM files in one directory; files
// that exist and are still good are reused, so a restart keeps every credential that
// clients already hold.
package pki

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"
)

const (
	// caValidity is how long a generated CA is valid. Ten years, like kubeadm's CA:
	// a CA that expires breaks every client at once, so it outlives any test or tenant.
	caValidity = 10 * 365 * 24 * time.Hour
	// leafValidity is how long serving and client certificates are valid. One year,
	// like kubeadm's; they are re-issued on the next start once renewBefore is reached.
	leafValidity = 365 * 24 * time.Hour
	// renewBefore re-issues a leaf certificate at start when it expires sooner than this.
	renewBefore = 30 * 24 * time.Hour
)

// CA is a certificate authority held in memory, loaded from or written to Dir.
type CA struct {
	// Cert is the CA's certificate.
	Cert *x509.Certificate
	// Key is the CA's private key.
	Key crypto.Signer
	// CertFile and KeyFile are the PEM files the CA was read from or written to.
	CertFile, KeyFile string
}

// CertPEM returns the CA certificate PEM-encoded.
func (ca *CA) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.Cert.Raw})
}

// Pair names the files of one certificate and its key.
type Pair struct {
	// CertFile is the PEM certificate's path.
	CertFile string
	// KeyFile is the PEM private key's path.
	KeyFile string
}

// Read returns both files' contents.
func (p Pair) Read() (cert, key []byte, err error) {
	if cert, err = os.ReadFile(p.CertFile); err != nil {
		return nil, nil, err
	}
	if key, err = os.ReadFile(p.KeyFile); err != nil {
		return nil, nil, err
	}
	return cert, key, nil
}

// EnsureCA loads the CA named name from dir, or creates it when neither of its files
// exists. A CA that exists only in part, or does not parse, is an error: it is never
// replaced, because every certificate and kubeconfig issued so far depends on it.
func EnsureCA(dir, name, commonName string) (*CA, error) {
	ca := &CA{CertFile: filepath.Join(dir, name+".crt"), KeyFile: filepath.Join(dir, name+".key")}
	certPEM, certErr := os.ReadFile(ca.CertFile)
	keyPEM, keyErr := os.ReadFile(ca.KeyFile)
	switch {
	case certErr == nil && keyErr == nil:
		cert, err := parseCert(certPEM)
		if err != nil {
			return nil, fmt.Errorf("reading CA certificate %s: %w", ca.CertFile, err)
		}
		key, err := parseKey(keyPEM)
		if err != nil {
			return nil, fmt.Errorf("reading CA key %s: %w", ca.KeyFile, err)
		}
		if !cert.IsCA {
			return nil, fmt.Errorf("reading CA certificate %s: not a CA certificate", ca.CertFile)
		}
		if !publicKeysEqual(cert.PublicKey, key.Public()) {
			return nil, fmt.Errorf("CA certificate %s does not match key %s", ca.CertFile, ca.KeyFile)
		}
		ca.Cert, ca.Key = cert, key
		return ca, nil
	case errors.Is(certErr, os.ErrNotExist) && errors.Is(keyErr, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("CA %s in %s is incomplete or unreadable (certificate: %v, key: %v); refusing to replace it", name, dir, errString(certErr), errString(keyErr))
	}

	key, err := newKey()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          newSerial(),
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("creating CA %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if err := writePair(Pair{ca.CertFile, ca.KeyFile}, der, key); err != nil {
		return nil, err
	}
	ca.Cert, ca.Key = cert, key
	return ca, nil
}

// Leaf describes a certificate the CA issues.
type Leaf struct {
	// Name is the base name of the files: NAME.crt and NAME.key.
	Name string
	// CommonName is the subject CN; for client certificates, the Kubernetes user name.
	CommonName string
	// Organizations are the subject O values; for client certificates, the groups.
	Organizations []string
	// DNSNames and IPs are the subject alternative names of a serving certificate.
	DNSNames []string
	// IPs are the IP subject alternative names of a serving certificate.
	IPs []net.IP
	// Server marks a serving certificate; otherwise it is a client certificate.
	Server bool
}

// Ensure returns the files of leaf in dir, issuing a new certificate when none exists,
// when the existing one was not signed by ca, expires within 30 days, or lacks a name,
// address, CN or group that leaf asks for. The key is kept when it is still usable.
func (ca *CA) Ensure(dir string, leaf Leaf) (Pair, error) {
	p := Pair{CertFile: filepath.Join(dir, leaf.Name+".crt"), KeyFile: filepath.Join(dir, leaf.Name+".key")}
	certPEM, certErr := os.ReadFile(p.CertFile)
	keyPEM, keyErr := os.ReadFile(p.KeyFile)
	var key crypto.Signer
	if keyErr == nil {
		if k, err := parseKey(keyPEM); err == nil {
			key = k
		}
	}
	if certErr == nil && key != nil {
		if cert, err := parseCert(certPEM); err == nil && ca.covers(cert, key, leaf) {
			return p, nil
		}
	}
	if key == nil {
		var err error
		if key, err = newKey(); err != nil {
			return Pair{}, err
		}
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: newSerial(),
		Subject:      pkix.Name{CommonName: leaf.CommonName, Organization: leaf.Organizations},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(leafValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		DNSNames:     leaf.DNSNames,
		IPAddresses:  leaf.IPs,
	}
	if leaf.Server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, key.Public(), ca.Key)
	if err != nil {
		return Pair{}, fmt.Errorf("issuing certificate %s: %w", leaf.Name, err)
	}
	if err := writePair(p, der, key); err != nil {
		return Pair{}, err
	}
	return p, nil
}

// covers reports whether cert, issued by ca for key, still serves leaf.
func (ca *CA) covers(cert *x509.Certificate, key crypto.Signer, leaf Leaf) bool {
	if cert.CheckSignatureFrom(ca.Cert) != nil || !publicKeysEqual(cert.PublicKey, key.Public()) {
		return false
	}
	if time.Until(cert.NotAfter) < renewBefore {
		return false
	}
	if cert.Subject.CommonName != leaf.CommonName || !sameSet(cert.Subject.Organization, leaf.Organizations) {
		return false
	}
	for _, n := range leaf.DNSNames {
		if !slices.Contains(cert.DNSNames, n) {
			return false
		}
	}
	for _, ip := range leaf.IPs {
		if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

// EnsureKey returns the path of a private key named NAME.key in dir and of its public
// key NAME.pub, creating both when absent. Used for the service-account signing key.
func EnsureKey(dir, name string) (Pair, error) {
	p := Pair{CertFile: filepath.Join(dir, name+".pub"), KeyFile: filepath.Join(dir, name+".key")}
	if keyPEM, err := os.ReadFile(p.KeyFile); err == nil {
		key, err := parseKey(keyPEM)
		if err != nil {
			return Pair{}, fmt.Errorf("reading key %s: %w", p.KeyFile, err)
		}
		if _, err := os.Stat(p.CertFile); err == nil {
			return p, nil
		}
		return p, writePublic(p.CertFile, key)
	} else if !errors.Is(err, os.ErrNotExist) {
		return Pair{}, fmt.Errorf("reading key %s: %w", p.KeyFile, err)
	}
	key, err := newKey()
	if err != nil {
		return Pair{}, err
	}
	if err := writeKey(p.KeyFile, key); err != nil {
		return Pair{}, err
	}
	return p, writePublic(p.CertFile, key)
}

func writePublic(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return err
	}
	return writeFile(path, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)
}

func writePair(p Pair, certDER []byte, key crypto.Signer) error {
	if err := writeKey(p.KeyFile, key); err != nil {
		return err
	}
	return writeFile(p.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: certDER}), 0o644)
}

func writeKey(path string, key crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return err
	}
	return writeFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// writeFile writes atomically: a crash never leaves half a key behind.
func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

func newKey() (crypto.Signer, error) {
	// ECDSA P-256: what kubeadm offers as its fast option; RSA 2048 costs ~100 ms a
	// key on these machines and a control plane makes eight keys on first start.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating key: %w", err)
	}
	return key, nil
}

func newSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	if err != nil {
		// crypto/rand does not fail on supported platforms; fall back to the clock.
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

func parseCert(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate found")
	}
	return x509.ParseCertificate(block.Bytes)
}

func parseKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM key found")
	}
	var key any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		return nil, fmt.Errorf("unsupported PEM block %q", block.Type)
	}
	if err != nil {
		return nil, err
	}
	signer, ok := key.(crypto.Signer)
	if !ok {
		return nil, errors.New("key cannot sign")
	}
	return signer, nil
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ad, err1 := x509.MarshalPKIXPublicKey(a)
	bd, err2 := x509.MarshalPKIXPublicKey(b)
	return err1 == nil && err2 == nil && bytes.Equal(ad, bd)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	sort.Strings(a)
	sort.Strings(b)
	return slices.Equal(a, b)
}

func errString(err error) string {
	if err == nil {
		return "present"
	}
	return err.Error()
}

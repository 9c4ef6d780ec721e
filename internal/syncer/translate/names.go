package translate

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/binary"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Format is the syntax a host name must satisfy. The zero value is
// [DNSSubdomain], the rule for most kinds.
type Format int

const (
	// DNSSubdomain is an RFC 1123 subdomain of at most 253 characters: the
	// name rule of Pods, ConfigMaps, Secrets, PersistentVolumeClaims,
	// PriorityClasses, ResourceClaims and most other kinds.
	DNSSubdomain Format = iota
	// DNSLabel is an RFC 1035 label of at most 63 characters (lower-case
	// alphanumerics and '-', starting with a letter, ending with an
	// alphanumeric): the name rule of Services, and also a valid RFC 1123
	// label, so it fits pod subdomains and anything else that needs a label.
	DNSLabel
)

// MaxLength is the longest name the format allows.
func (f Format) MaxLength() int {
	if f == DNSLabel {
		return validation.DNS1035LabelMaxLength
	}
	return validation.DNS1123SubdomainMaxLength
}

// String returns the format's name.
func (f Format) String() string {
	if f == DNSLabel {
		return "DNSLabel"
	}
	return "DNSSubdomain"
}

// valid reports whether s is a valid name of the format.
func (f Format) valid(s string) bool {
	if f == DNSLabel {
		return len(validation.IsDNS1035Label(s)) == 0
	}
	return len(validation.IsDNS1123Subdomain(s)) == 0
}

const (
	// separator joins the parts of a readable host name.
	separator = "-x-"
	// hashMarker separates the readable prefix of a hashed host name from
	// its digest. Readable names never contain it.
	hashMarker = "--"
	// digestLen is the number of base32 characters of a name digest:
	// 16 characters carry the first 80 bits of a SHA-256 sum.
	digestLen = 16
	// fallbackPrefix starts a hashed name whose readable prefix would
	// otherwise be empty.
	fallbackPrefix = "kubicle"
)

// Hash domains keep the digests of different kinds of identity apart.
const (
	domainNamespaced = "kubicle.dev/name/v1/namespaced"
	domainCluster    = "kubicle.dev/name/v1/cluster"
	domainPodToken   = "kubicle.dev/name/v1/pod-token"
)

// base32Lower is RFC 4648 base32 in lower case without padding; its
// alphabet (a-z, 2-7) is valid in DNS names.
var base32Lower = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// HostName returns the name of the host object for the virtual object
// namespace/name of virtual cluster vc. Pass namespace "" for a
// cluster-scoped virtual object (a PriorityClass, say). The result is a
// valid name of format f for any input, and the same input always gives the
// same result.
//
// The readable form is "name-x-namespace-x-vc" ("name-x-vc" when
// cluster-scoped). It is used only when every part is "plain" and the whole
// fits the format. A part is plain when it is non-empty, consists of
// lower-case alphanumerics, '-' and '.', starts and ends with an
// alphanumeric, contains no "--", and "-"+part+"-" contains no "-x-" (so the
// part neither contains the separator nor starts with "x-", ends with "-x" or
// equals "x"). Otherwise the hashed form is used:
//
//	<readable prefix>--<16 base32 characters of SHA-256 of the identity>
//
// where the prefix is the readable form lower-cased, reduced to [a-z0-9-],
// trimmed to start with a letter (or alphanumeric for DNSSubdomain) and cut
// to fit. The digest covers a domain tag (namespaced or cluster-scoped) and
// the length-prefixed vc, namespace and name, so the encoding is unambiguous.
//
// Injectivity. Let two identities map to the same host name s.
//
//   - Both readable. Every occurrence of "-x-" in a readable name is one of
//     its separators. Take an occurrence that is not: its 'x' is not a
//     separator's 'x' (that one is flanked by its own separator's dashes,
//     so the occurrence would be the separator) nor a dash, so it is a
//     character of some part p, and each of its neighbours is a character
//     of p or, at p's edge, the dash of the adjacent separator. Then
//     "-"+p+"-" contains "-x-", which plain parts exclude. So splitting s
//     at "-x-" gives back the number of parts (3 namespaced, 2
//     cluster-scoped) and the parts themselves: the identities are equal.
//   - One readable, one hashed. A hashed name contains "--"; a readable
//     one cannot, because its parts contain no "--" and begin and end with
//     an alphanumeric, while the separator is "-x-". So this case is
//     impossible, whatever the names look like (a name that is itself a
//     host name, contains "-x-" or ends in "--<digest>" is simply hashed).
//   - Both hashed. The digest is the fixed-length suffix of s, so equal
//     names have equal digests: an 80-bit SHA-256 prefix collision between
//     two distinct unambiguous encodings. Accidental collisions need about
//     2^40 hashed names in one host namespace; reaching a chosen other
//     object's name is a second preimage, about 2^80 work.
//
// Names of [PodTokenSecretName] are always hashed, under a digest domain of
// their own, so they never equal a readable HostName and equal a hashed one
// only through a digest collision.
func HostName(vc, namespace, name string, f Format) string {
	if namespace == "" {
		if s, ok := readableName(f, name, vc); ok {
			return s
		}
		return hashedName(name+separator+vc, f, digest(domainCluster, vc, name))
	}
	if s, ok := readableName(f, name, namespace, vc); ok {
		return s
	}
	return hashedName(name+separator+namespace+separator+vc, f, digest(domainNamespaced, vc, namespace, name))
}

// PodTokenSecretName returns the name of the host Secret that holds the
// service account tokens of the virtual pod namespace/pod of virtual cluster
// vc (see [PodTokens] and [PodTokenSecret]). It is always in hashed form with
// a domain of its own, so no tenant object name, however crafted, maps to it.
func PodTokenSecretName(vc, namespace, pod string) string {
	return hashedName(pod+"-token", DNSSubdomain, digest(domainPodToken, vc, namespace, pod))
}

// HostNodeName returns the host node that a virtual node name stands for.
// Virtual nodes mirror host nodes under the same name, so it is the identity;
// the function exists so that callers say which direction they mean.
func HostNodeName(virtual string) string { return virtual }

// VirtualNodeName returns the name of the virtual node that mirrors a host
// node: the same name (see [HostNodeName]).
func VirtualNodeName(host string) string { return host }

// PseudoNodeName returns the made-up name under which virtual cluster vc shows
// host node host in pseudo mode: "node-" and ten hex digits of a digest of both.
// It is stable while both exist, and differs between virtual clusters, so that a
// tenant can neither read the host's node names nor tell whether it shares a
// node with another tenant.
func PseudoNodeName(vc, host string) string {
	sum := sha256.Sum256([]byte("kubicle-pseudo-node\x00" + vc + "\x00" + host))
	return "node-" + hex.EncodeToString(sum[:5])
}

// readableName joins parts with the separator when every part is plain and
// the result is a valid name of the format.
func readableName(f Format, parts ...string) (string, bool) {
	for _, p := range parts {
		if !plainPart(p) {
			return "", false
		}
	}
	s := strings.Join(parts, separator)
	if len(s) > f.MaxLength() || !f.valid(s) {
		return "", false
	}
	return s, true
}

// plainPart reports whether p may appear verbatim in a readable host name;
// see HostName for why each rule is needed.
func plainPart(p string) bool {
	if p == "" || !isAlnum(p[0]) || !isAlnum(p[len(p)-1]) {
		return false
	}
	for i := 0; i < len(p); i++ {
		if c := p[i]; !isAlnum(c) && c != '-' && c != '.' {
			return false
		}
	}
	return !strings.Contains(p, hashMarker) && !strings.Contains("-"+p+"-", separator)
}

// hashedName builds "<prefix>--<digest>" with a readable prefix derived from
// readable and cut so the whole fits the format.
func hashedName(readable string, f Format, sum string) string {
	limit := f.MaxLength() - len(hashMarker) - len(sum)
	var b strings.Builder
	for i := 0; i < len(readable) && b.Len() < limit; i++ {
		c := readable[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if !isAlnum(c) {
			c = '-'
		}
		if b.Len() == 0 && !(isLetter(c) || (f == DNSSubdomain && isAlnum(c))) {
			continue // a name starts with a letter (or digit for subdomains)
		}
		b.WriteByte(c)
	}
	prefix := b.String()
	if prefix == "" {
		// Cannot happen while readable holds a separator (it has an 'x');
		// kept so the result is valid whatever the caller passes.
		prefix = fallbackPrefix
	}
	return prefix + hashMarker + sum
}

// digest returns the name digest of the fields under a domain: base32 of
// the first 80 bits of SHA-256 over the domain and the length-prefixed
// fields.
func digest(domain string, fields ...string) string {
	h := sha256.New()
	var n [binary.MaxVarintLen64]byte
	for _, s := range append([]string{domain}, fields...) {
		h.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		h.Write([]byte(s))
	}
	return base32Lower.EncodeToString(h.Sum(nil)[:digestLen*5/8])
}

func isAlnum(c byte) bool  { return isLetter(c) || ('0' <= c && c <= '9') }
func isLetter(c byte) bool { return 'a' <= c && c <= 'z' }

package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// Reserved keys. Tenants may use them in the virtual cluster, but on the host
// they belong to kubicle or to the host's own systems, so [EscapeKey] renames
// them.
var (
	// reservedDomains are key prefixes reserved with all their subdomains:
	// kubicle's own markers, and Kueue, whose queue name, priority and
	// management labels the host decides.
	reservedDomains = []string{"kubicle.dev", "kueue.x-k8s.io"}
	// reservedKeys are single reserved keys.
	reservedKeys = map[string]bool{LabelManagedBy: true}
)

const (
	// escapedSuffix is appended to the prefix of an escaped key:
	// "kueue.x-k8s.io/queue-name" becomes
	// "kueue.x-k8s.io.tenant.kubicle.dev/queue-name".
	escapedSuffix = ".tenant.kubicle.dev"
	// hashedSuffix ends the prefix of an escaped key whose prefix would be
	// too long to keep; such keys cannot be unescaped.
	hashedSuffix = ".hashed.kubicle.dev"
)

// droppedAnnotations are virtual annotations never copied to the host: they
// are large or only meaningful to the virtual control plane.
var droppedAnnotations = map[string]bool{
	"kubectl.kubernetes.io/last-applied-configuration": true,
	// A host kubelet treats a pod carrying it as the mirror of a static pod.
	"kubernetes.io/config.mirror": true,
}

// IsReservedKey reports whether a label or annotation key is reserved on the
// host: any key whose prefix is kubicle.dev or kueue.x-k8s.io or a subdomain
// of them, and app.kubernetes.io/managed-by.
func IsReservedKey(key string) bool {
	if reservedKeys[key] {
		return true
	}
	prefix, _, ok := strings.Cut(key, "/")
	if !ok {
		return false
	}
	prefix = strings.ToLower(prefix)
	for _, d := range reservedDomains {
		if prefix == d || strings.HasSuffix(prefix, "."+d) {
			return true
		}
	}
	return false
}

// EscapeKey returns the host key for a tenant's label or annotation key.
// Keys that are not reserved ([IsReservedKey]) are returned unchanged, so
// host tooling sees the tenant's labels. A reserved key prefix/name becomes
// prefix.tenant.kubicle.dev/name, a key under kubicle.dev that only
// [UnescapeKey] gives back, and that no tenant can write directly (it is
// reserved itself, so it would be escaped again). When that prefix would
// exceed the 253 characters a key prefix may have, the prefix is replaced by
// a hash: h<hex>.hashed.kubicle.dev/name, which cannot be unescaped.
//
// EscapeKey is injective: unreserved keys map to themselves and never end in
// a kubicle.dev prefix, while escaped keys always do, and each escaped form
// is reversible or a 160-bit hash of the whole key. Hence a tenant can never
// produce a marker key, app.kubernetes.io/managed-by or a Kueue key on the
// host, nor two tenant keys the same host key. Kubicle escapes rather than
// drops, so nothing the tenant wrote is lost and selectors on reserved keys
// keep matching the tenant's own pods.
func EscapeKey(key string) string {
	if !IsReservedKey(key) {
		return key
	}
	prefix, name, _ := strings.Cut(key, "/")
	if len(prefix)+len(escapedSuffix) <= validation.DNS1123SubdomainMaxLength {
		return prefix + escapedSuffix + "/" + name
	}
	sum := sha256.Sum256([]byte(key))
	return "h" + hex.EncodeToString(sum[:20]) + hashedSuffix + "/" + name
}

// UnescapeKey reverses [EscapeKey] for a key read from a host object. It
// returns the tenant's key and true for an escaped key or an unreserved key,
// and false for keys a tenant cannot have written: kubicle's markers,
// reserved keys the host set itself (such as Kueue's), and hashed escapes.
func UnescapeKey(key string) (string, bool) {
	if !IsReservedKey(key) {
		return key, true
	}
	prefix, name, _ := strings.Cut(key, "/")
	// Only reserved keys are escaped, so only they are unescaped.
	if p, ok := strings.CutSuffix(prefix, escapedSuffix); ok && IsReservedKey(p+"/"+name) {
		return p + "/" + name, true
	}
	return "", false
}

// HostLabels returns the labels of the host object for a virtual object
// with the given identity and labels: the tenant's labels with keys passed
// through [EscapeKey], plus the [Markers].
func HostLabels(id Identity, virtual map[string]string) map[string]string {
	l, _ := Markers(id)
	return merge(escapeKeys(virtual, nil), l)
}

// HostAnnotations returns the annotations of the host object for a virtual
// object with the given identity and annotations: the tenant's annotations
// with keys passed through [EscapeKey] (kubectl's last-applied-configuration
// and kubernetes.io/config.mirror dropped), plus the marker annotations.
func HostAnnotations(id Identity, virtual map[string]string) map[string]string {
	_, a := Markers(id)
	return merge(escapeKeys(virtual, droppedAnnotations), a)
}

// VirtualLabels returns the tenant's view of a host object's labels: escaped
// keys unescaped, and markers, hashed escapes and reserved keys set by the
// host removed (see [UnescapeKey]). Labels that host controllers added under
// unreserved keys are kept. It returns nil for an empty result.
func VirtualLabels(host map[string]string) map[string]string {
	var out map[string]string
	for k, v := range host {
		if vk, ok := UnescapeKey(k); ok {
			if out == nil {
				out = make(map[string]string, len(host))
			}
			out[vk] = v
		}
	}
	return out
}

// VirtualAnnotations is [VirtualLabels] for annotations.
func VirtualAnnotations(host map[string]string) map[string]string {
	return VirtualLabels(host)
}

// escapeKeys copies m with every key escaped, leaving out keys in drop.
func escapeKeys(m map[string]string, drop map[string]bool) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		if !drop[k] {
			out[EscapeKey(k)] = v
		}
	}
	return out
}

// escapeKeyList escapes every key of a list, keeping nil as nil.
func escapeKeyList(keys []string) []string {
	if keys == nil {
		return nil
	}
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = EscapeKey(k)
	}
	return out
}

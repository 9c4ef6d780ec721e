package translate

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TokenRequest is one service account token that the syncer must request
// from the virtual API server (TokenRequest API, bound to the virtual pod)
// and store in the pod's host token Secret under Key.
type TokenRequest struct {
	// Key is the Secret key the host pod reads the token from: "token" for
	// the API server audience, "token-<hash of the audience>" otherwise.
	Key string
	// Audience is the token's audience; "" means the virtual API server's.
	Audience string
	// ExpirationSeconds is the shortest lifetime any source asked for
	// (3600 when unset); refresh the Secret well before it passes.
	ExpirationSeconds int64
}

// PodTokens lists the tokens the virtual pod's projected
// serviceAccountToken sources need, one per audience, sorted by key. [Pod]
// mounts them from [PodTokenSecretName] under the same keys.
func PodTokens(virtual *corev1.Pod) []TokenRequest {
	if virtual == nil {
		return nil
	}
	byKey := map[string]TokenRequest{}
	for _, v := range virtual.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, src := range v.Projected.Sources {
			tok := src.ServiceAccountToken
			if tok == nil {
				continue
			}
			exp := int64(DefaultTokenExpirationSeconds)
			if tok.ExpirationSeconds != nil {
				exp = *tok.ExpirationSeconds
			}
			key := tokenKey(tok.Audience)
			if have, ok := byKey[key]; ok && have.ExpirationSeconds <= exp {
				continue
			}
			byKey[key] = TokenRequest{Key: key, Audience: tok.Audience, ExpirationSeconds: exp}
		}
	}
	out := make([]TokenRequest, 0, len(byKey))
	for _, k := range slices.Sorted(maps.Keys(byKey)) {
		out = append(out, byKey[k])
	}
	return out
}

// PodTokenSecret returns the host Secret holding the tokens of a virtual
// pod, keyed by [TokenRequest.Key]. It is named [PodTokenSecretName], of
// type Opaque, and carries the pod's markers plus [KeyPodToken] so the
// Secret syncer can tell it from a tenant Secret ([IsPodTokenSecret]).
func PodTokenSecret(virtual *corev1.Pod, t Target, tokens map[string][]byte) (*corev1.Secret, error) {
	if virtual == nil {
		return nil, errors.New("translating pod token secret: nil pod")
	}
	if err := t.check("pod token secret", virtual); err != nil {
		return nil, err
	}
	id := IdentityOf(t.VCluster, virtual)
	l, a := Markers(id)
	l[KeyPodToken] = "true"
	s := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        PodTokenSecretName(t.VCluster, virtual.Namespace, virtual.Name),
			Namespace:   t.HostNamespace,
			Labels:      l,
			Annotations: a,
		},
		Type: corev1.SecretTypeOpaque,
	}
	if len(tokens) > 0 {
		s.Data = make(map[string][]byte, len(tokens))
		for k, v := range tokens {
			s.Data[k] = slices.Clone(v)
		}
	}
	return s, nil
}

// IsPodTokenSecret reports whether a host object is a pod token Secret
// made by [PodTokenSecret].
func IsPodTokenSecret(host metav1.Object) bool {
	return !isNil(host) && host.GetLabels()[KeyPodToken] == "true" && host.GetLabels()[LabelManagedBy] == ManagedBy
}

// tokenKey is the Secret key of the token for an audience.
func tokenKey(audience string) string {
	if audience == "" {
		return "token"
	}
	sum := sha256.Sum256([]byte(audience))
	return "token-" + hex.EncodeToString(sum[:8])
}

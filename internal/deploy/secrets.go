package deploy

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// configDocument is the config file of the control plane: the defaulted
// VirtualCluster with only the metadata a config file has, so that it loads
// with internal/config's strict loader and stays the same however often the
// object it came from is updated on the host.
type configDocument struct {
	metav1.TypeMeta `json:",inline"`
	Metadata        configMetadata              `json:"metadata"`
	Spec            v1alpha1.VirtualClusterSpec `json:"spec,omitzero"`
}

type configMetadata struct {
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

// ConfigFile returns the config file that the control plane reads with
// --config: vc as YAML, with apiVersion, kind, metadata.name,
// metadata.namespace and spec. vc should be defaulted, so that the control
// plane and the host objects agree on every default.
func ConfigFile(vc *v1alpha1.VirtualCluster) ([]byte, error) {
	doc := configDocument{
		TypeMeta: metav1.TypeMeta{APIVersion: v1alpha1.SchemeGroupVersion.String(), Kind: v1alpha1.VirtualClusterKind},
		Metadata: configMetadata{Name: vc.Name, Namespace: vc.Namespace},
		Spec:     vc.Spec,
	}
	data, err := yaml.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encoding config of %s/%s: %w", vc.Namespace, vc.Name, err)
	}
	return data, nil
}

// configSecret returns the Secret holding the control plane's config file.
// A Secret rather than a ConfigMap: the config names the Secrets that hold
// credentials, and may one day carry more that is not for every reader.
func configSecret(r Ref, config []byte) *corev1.Secret {
	return &corev1.Secret{
		TypeMeta:   typeMeta(kindSecret),
		ObjectMeta: objectMeta(r, r.ConfigSecretName(), ComponentConfig),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{ConfigKey: config},
	}
}

// pkiSecret returns the Secret holding the shared PKI, or nil without one.
func pkiSecret(r Ref, pki map[string][]byte) *corev1.Secret {
	if pki == nil {
		return nil
	}
	data := make(map[string][]byte, len(pki))
	for k, v := range pki {
		data[k] = slices.Clone(v)
	}
	return &corev1.Secret{
		TypeMeta:   typeMeta(kindSecret),
		ObjectMeta: objectMeta(r, r.PKISecretName(), ComponentConfig),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// configHash returns a digest of the config file and the PKI, for the pod
// template annotation that rolls the control plane when either changes. It
// covers the PKI's file names and contents, length-prefixed so that no two
// different inputs hash alike; a SHA-256 of key material reveals nothing
// usable about it.
func configHash(config []byte, pki map[string][]byte) string {
	h := sha256.New()
	write := func(b []byte) {
		var n [8]byte
		binary.BigEndian.PutUint64(n[:], uint64(len(b)))
		h.Write(n[:])
		h.Write(b)
	}
	write(config)
	for _, k := range sortedKeys(pki) {
		write([]byte(k))
		write(pki[k])
	}
	return "sha256-" + hex.EncodeToString(h.Sum(nil))
}

// KubeConfigSecret returns the Secret that spec.exportKubeConfig asks for,
// holding kubeconfig under [v1alpha1.KubeConfigSecretKey], or nil when the
// export is off. [Render] does not return it: only the control plane (or,
// for driver "process", the CLI) knows the content, once the PKI and the
// server address exist. Whoever writes it uses this function, so that the
// Secret carries the labels that `kubicle delete` selects on.
func KubeConfigSecret(vc *v1alpha1.VirtualCluster, kubeconfig []byte) *corev1.Secret {
	e := &vc.Spec.ExportKubeConfig
	if !isTrue(e.Enabled) || e.SecretName == "" {
		return nil
	}
	r := RefOf(vc)
	return &corev1.Secret{
		TypeMeta:   typeMeta(kindSecret),
		ObjectMeta: objectMeta(r, e.SecretName, ComponentKubeConfig),
		Type:       corev1.SecretTypeOpaque,
		Data:       map[string][]byte{v1alpha1.KubeConfigSecretKey: slices.Clone(kubeconfig)},
	}
}

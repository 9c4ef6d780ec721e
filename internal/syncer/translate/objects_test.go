package translate

import (
	"maps"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

var testTarget = Target{VCluster: "vc1", HostNamespace: "host"}

func TestTargetValidate(t *testing.T) {
	t.Parallel()
	if err := testTarget.Validate(); err != nil {
		t.Error(err)
	}
	err := Target{}.Validate()
	if err == nil || !strings.Contains(err.Error(), "vCluster: required") || !strings.Contains(err.Error(), "hostNamespace: required") {
		t.Errorf("Validate(zero) = %v", err)
	}
}

func TestService(t *testing.T) {
	t.Parallel()
	base := func(mutate func(*corev1.Service)) *corev1.Service {
		s := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "team", UID: "u", Labels: map[string]string{"app": "web"},
				Annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
			Spec: corev1.ServiceSpec{
				Type:       corev1.ServiceTypeClusterIP,
				Selector:   map[string]string{"app": "web"},
				ClusterIP:  "10.96.0.20",
				ClusterIPs: []string{"10.96.0.20"},
				Ports:      []corev1.ServicePort{{Name: "http", Port: 80, TargetPort: intstr.FromString("http"), Protocol: corev1.ProtocolTCP}},
			},
		}
		if mutate != nil {
			mutate(s)
		}
		return s
	}
	for _, tc := range []struct {
		name    string
		virtual *corev1.Service
		check   func(t *testing.T, h *corev1.Service)
	}{
		{"cluster IP", base(nil), func(t *testing.T, h *corev1.Service) {
			want := metav1.ObjectMeta{
				Name: "web-x-team-x-vc1", Namespace: "host",
				Labels:      map[string]string{"app": "web", LabelManagedBy: ManagedBy, KeyVCluster: "vc1", KeyNamespace: "team", KeyName: "web", KeyUID: "u"},
				Annotations: map[string]string{KeyVCluster: "vc1", KeyNamespace: "team", KeyName: "web", KeyUID: "u"},
			}
			if !reflect.DeepEqual(h.ObjectMeta, want) {
				t.Errorf("metadata = %+v", h.ObjectMeta)
			}
			if h.Spec.ClusterIP != "" || h.Spec.ClusterIPs != nil {
				t.Errorf("clusterIP %q clusterIPs %v not cleared", h.Spec.ClusterIP, h.Spec.ClusterIPs)
			}
			if !maps.Equal(h.Spec.Selector, map[string]string{"app": "web", KeyVCluster: "vc1", KeyNamespace: "team"}) {
				t.Errorf("selector = %v", h.Spec.Selector)
			}
			if !reflect.DeepEqual(h.Spec.Ports, base(nil).Spec.Ports) || h.Spec.Type != corev1.ServiceTypeClusterIP {
				t.Errorf("ports %v type %v", h.Spec.Ports, h.Spec.Type)
			}
			if h.Kind != "Service" || h.APIVersion != "v1" {
				t.Errorf("type meta = %v", h.TypeMeta)
			}
		}},
		{"headless", base(func(s *corev1.Service) { s.Spec.ClusterIP = "None"; s.Spec.ClusterIPs = nil }), func(t *testing.T, h *corev1.Service) {
			if h.Spec.ClusterIP != "None" || !reflect.DeepEqual(h.Spec.ClusterIPs, []string{"None"}) {
				t.Errorf("clusterIP %q clusterIPs %v", h.Spec.ClusterIP, h.Spec.ClusterIPs)
			}
		}},
		{"load balancer", base(func(s *corev1.Service) {
			s.Spec.Type = corev1.ServiceTypeLoadBalancer
			s.Spec.Ports[0].NodePort = 30080
			s.Spec.HealthCheckNodePort = 31000
			s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
			s.Spec.ExternalIPs = []string{"8.8.8.8"}
			s.Spec.LoadBalancerSourceRanges = []string{"10.0.0.0/8"}
		}), func(t *testing.T, h *corev1.Service) {
			if h.Spec.Ports[0].NodePort != 0 || h.Spec.HealthCheckNodePort != 0 || h.Spec.ExternalIPs != nil {
				t.Errorf("nodePort %d healthCheckNodePort %d externalIPs %v", h.Spec.Ports[0].NodePort, h.Spec.HealthCheckNodePort, h.Spec.ExternalIPs)
			}
			if h.Spec.Type != corev1.ServiceTypeLoadBalancer || h.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal ||
				!reflect.DeepEqual(h.Spec.LoadBalancerSourceRanges, []string{"10.0.0.0/8"}) {
				t.Errorf("spec = %+v", h.Spec)
			}
		}},
		{"no selector", base(func(s *corev1.Service) { s.Spec.Selector = nil }), func(t *testing.T, h *corev1.Service) {
			if h.Spec.Selector != nil {
				t.Errorf("selector = %v, want none", h.Spec.Selector)
			}
		}},
		{"external name", base(func(s *corev1.Service) {
			s.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}
		}), func(t *testing.T, h *corev1.Service) {
			if h.Spec.Type != corev1.ServiceTypeExternalName || h.Spec.ExternalName != "db.example.com" {
				t.Errorf("spec = %+v", h.Spec)
			}
		}},
		{"long name is a label", base(func(s *corev1.Service) { s.Name = strings.Repeat("s", 60) }), func(t *testing.T, h *corev1.Service) {
			assertValid(t, h.Name, DNSLabel)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			before := tc.virtual.DeepCopy()
			h, err := Service(tc.virtual, testTarget)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.virtual, before) {
				t.Fatal("Service modified its input")
			}
			tc.check(t, h)
		})
	}
}

func TestConfigMapAndSecret(t *testing.T) {
	t.Parallel()
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-root-ca.crt", Namespace: "team", Labels: map[string]string{KeyVCluster: "forged"}},
		Data:       map[string]string{"ca.crt": "PEM"},
		BinaryData: map[string][]byte{"b": {1}},
		Immutable:  ptr(true),
	}
	h, err := ConfigMap(cm, testTarget)
	if err != nil {
		t.Fatal(err)
	}
	if h.Name != "kube-root-ca.crt-x-team-x-vc1" || h.Namespace != "host" || h.Labels[KeyVCluster] != "vc1" ||
		!maps.Equal(h.Data, cm.Data) || h.BinaryData["b"][0] != 1 || !*h.Immutable || h.Kind != "ConfigMap" {
		t.Errorf("ConfigMap = %+v", h)
	}
	h.Data["ca.crt"] = "changed"
	if cm.Data["ca.crt"] != "PEM" {
		t.Error("ConfigMap aliases its input")
	}

	for _, tc := range []struct {
		name     string
		in       corev1.SecretType
		want     corev1.SecretType
		data     map[string][]byte
		str      map[string]string
		wantData map[string]string
	}{
		{"opaque", corev1.SecretTypeOpaque, corev1.SecretTypeOpaque, map[string][]byte{"a": []byte("1")}, nil, map[string]string{"a": "1"}},
		{"tls kept", corev1.SecretTypeTLS, corev1.SecretTypeTLS, map[string][]byte{"tls.crt": []byte("c"), "tls.key": []byte("k")}, nil,
			map[string]string{"tls.crt": "c", "tls.key": "k"}},
		{"service account token becomes opaque", corev1.SecretTypeServiceAccountToken, corev1.SecretTypeOpaque,
			map[string][]byte{"token": []byte("jwt")}, nil, map[string]string{"token": "jwt"}},
		{"stringData folded in", "", "", map[string][]byte{"a": []byte("1"), "b": []byte("old")}, map[string]string{"b": "new", "c": "3"},
			map[string]string{"a": "1", "b": "new", "c": "3"}},
		{"stringData only", "", "", nil, map[string]string{"c": "3"}, map[string]string{"c": "3"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "team"}, Type: tc.in, Data: tc.data, StringData: tc.str}
			before := s.DeepCopy()
			h, err := Secret(s, testTarget)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(s, before) {
				t.Fatal("Secret modified its input")
			}
			got := map[string]string{}
			for k, v := range h.Data {
				got[k] = string(v)
			}
			if h.Type != tc.want || !maps.Equal(got, tc.wantData) || h.StringData != nil || h.Name != "creds-x-team-x-vc1" {
				t.Errorf("Secret = type %q data %v stringData %v name %q", h.Type, got, h.StringData, h.Name)
			}
		})
	}
}

func TestPersistentVolumeClaim(t *testing.T) {
	t.Parallel()
	base := func(mutate func(*corev1.PersistentVolumeClaim)) *corev1.PersistentVolumeClaim {
		c := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Name: "data", Namespace: "team", Annotations: map[string]string{
				"pv.kubernetes.io/bind-completed":               "yes",
				"pv.kubernetes.io/bound-by-controller":          "yes",
				"volume.kubernetes.io/storage-provisioner":      "ebs.csi.aws.com",
				"volume.beta.kubernetes.io/storage-provisioner": "ebs.csi.aws.com",
				"volume.kubernetes.io/selected-node":            "node-1",
				"team":                                          "ml",
			}},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes:      []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				Resources:        corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("10Gi")}},
				StorageClassName: ptr("fast"),
				VolumeName:       "pvc-of-another-tenant",
				Selector:         &metav1.LabelSelector{MatchLabels: map[string]string{"tenant": "other"}},
			},
		}
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	hostClass := func(n string) string { return "host-" + n }
	for _, tc := range []struct {
		name    string
		virtual *corev1.PersistentVolumeClaim
		class   func(string) string
		check   func(t *testing.T, h *corev1.PersistentVolumeClaim)
		wantErr string
	}{
		{name: "basics", virtual: base(nil), check: func(t *testing.T, h *corev1.PersistentVolumeClaim) {
			if h.Name != "data-x-team-x-vc1" || h.Namespace != "host" || h.Kind != "PersistentVolumeClaim" {
				t.Errorf("name %q namespace %q kind %q", h.Name, h.Namespace, h.Kind)
			}
			if h.Spec.VolumeName != "" || h.Spec.Selector != nil {
				t.Errorf("volumeName %q selector %v not dropped", h.Spec.VolumeName, h.Spec.Selector)
			}
			if *h.Spec.StorageClassName != "fast" {
				t.Errorf("storageClassName = %q", *h.Spec.StorageClassName)
			}
			for k := range h.Annotations {
				if strings.HasPrefix(k, "pv.kubernetes.io/") || strings.HasSuffix(k, "storage-provisioner") {
					t.Errorf("annotation %s kept", k)
				}
			}
			if h.Annotations["volume.kubernetes.io/selected-node"] != "node-1" || h.Annotations["team"] != "ml" || h.Annotations[KeyName] != "data" {
				t.Errorf("annotations = %v", h.Annotations)
			}
			if h.Spec.Resources.Requests.Storage().String() != "10Gi" {
				t.Errorf("resources = %v", h.Spec.Resources)
			}
		}},
		{name: "storage class mapped", virtual: base(func(c *corev1.PersistentVolumeClaim) {
			c.Annotations[legacyStorageClassAnnotation] = "slow"
		}), class: hostClass, check: func(t *testing.T, h *corev1.PersistentVolumeClaim) {
			if *h.Spec.StorageClassName != "host-fast" || h.Annotations[legacyStorageClassAnnotation] != "host-slow" {
				t.Errorf("storageClassName %q annotation %q", *h.Spec.StorageClassName, h.Annotations[legacyStorageClassAnnotation])
			}
		}},
		{name: "unset class stays unset", virtual: base(func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = nil }), class: hostClass,
			check: func(t *testing.T, h *corev1.PersistentVolumeClaim) {
				if h.Spec.StorageClassName != nil {
					t.Errorf("storageClassName = %q", *h.Spec.StorageClassName)
				}
			}},
		{name: "empty class stays empty", virtual: base(func(c *corev1.PersistentVolumeClaim) { c.Spec.StorageClassName = ptr("") }), class: hostClass,
			check: func(t *testing.T, h *corev1.PersistentVolumeClaim) {
				if *h.Spec.StorageClassName != "" {
					t.Errorf("storageClassName = %q", *h.Spec.StorageClassName)
				}
			}},
		{name: "data sources", virtual: base(func(c *corev1.PersistentVolumeClaim) {
			c.Spec.DataSource = &corev1.TypedLocalObjectReference{Kind: "PersistentVolumeClaim", Name: "golden"}
			c.Spec.DataSourceRef = &corev1.TypedObjectReference{APIGroup: ptr("snapshot.storage.k8s.io"), Kind: "VolumeSnapshot", Name: "snap", Namespace: ptr("team")}
		}), check: func(t *testing.T, h *corev1.PersistentVolumeClaim) {
			if h.Spec.DataSource.Name != "golden-x-team-x-vc1" || h.Spec.DataSourceRef.Name != "snap-x-team-x-vc1" || h.Spec.DataSourceRef.Namespace != nil {
				t.Errorf("dataSource %+v dataSourceRef %+v", h.Spec.DataSource, h.Spec.DataSourceRef)
			}
		}},
		{name: "cross-namespace data source refused", virtual: base(func(c *corev1.PersistentVolumeClaim) {
			c.Spec.DataSourceRef = &corev1.TypedObjectReference{Kind: "PersistentVolumeClaim", Name: "x", Namespace: ptr("other")}
		}), wantErr: "spec.dataSourceRef.namespace"},
		{name: "nil", virtual: nil, wantErr: "nil claim"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var before *corev1.PersistentVolumeClaim
			if tc.virtual != nil {
				before = tc.virtual.DeepCopy()
			}
			h, err := PersistentVolumeClaim(tc.virtual, PersistentVolumeClaimOptions{Target: testTarget, StorageClassName: tc.class})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(tc.virtual, before) {
				t.Fatal("PersistentVolumeClaim modified its input")
			}
			tc.check(t, h)
		})
	}
}

func TestObjectErrors(t *testing.T) {
	t.Parallel()
	meta := metav1.ObjectMeta{Name: "n", Namespace: "ns"}
	for _, tc := range []struct {
		name string
		call func() error
		want string
	}{
		{"nil service", func() error { _, err := Service(nil, testTarget); return err }, "nil service"},
		{"nil configmap", func() error { _, err := ConfigMap(nil, testTarget); return err }, "nil configmap"},
		{"nil secret", func() error { _, err := Secret(nil, testTarget); return err }, "nil secret"},
		{"service without target", func() error { _, err := Service(&corev1.Service{ObjectMeta: meta}, Target{}); return err }, "vCluster: required"},
		{"configmap without namespace", func() error {
			_, err := ConfigMap(&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "n"}}, testTarget)
			return err
		}, "name and namespace are required"},
		{"secret without name", func() error {
			_, err := Secret(&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "ns"}}, testTarget)
			return err
		}, "name and namespace are required"},
		{"claim without target", func() error {
			_, err := PersistentVolumeClaim(&corev1.PersistentVolumeClaim{ObjectMeta: meta}, PersistentVolumeClaimOptions{})
			return err
		}, "hostNamespace: required"},
	} {
		if err := tc.call(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want %q", tc.name, err, tc.want)
		}
	}
}

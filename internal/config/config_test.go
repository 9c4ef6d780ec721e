package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

// header starts a valid document; cases append their spec to it.
const header = "apiVersion: kubicle.dev/v1alpha1\nkind: VirtualCluster\nmetadata:\n  name: demo\n"

func TestLoadInvalid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		want string // the whole error text
	}{{
		name: "unknown field close to a known one",
		doc:  header + "spec:\n  sync:\n    toHost:\n      pods:\n        enabeld: true\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.sync.toHost.pods.enabeld: unknown field; did you mean "enabled"?`,
	}, {
		name: "unknown field in another case",
		doc:  header + "spec:\n  controlplane: {}\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.controlplane: unknown field; did you mean "controlPlane"?`,
	}, {
		name: "unknown field far from any known one",
		doc:  header + "spec:\n  tenancy: {}\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.tenancy: unknown field; known fields are controlPlane, exportKubeConfig, isolation, sleep, sync`,
	}, {
		name: "unknown field in metadata",
		doc:  "apiVersion: kubicle.dev/v1alpha1\nkind: VirtualCluster\nmetadata:\n  name: demo\n  nmespace: team-a\n",
		want: `invalid VirtualCluster config (1 problem):
  metadata.nmespace: unknown field; did you mean "namespace"?`,
	}, {
		name: "wrong type: bool",
		doc:  header + "spec:\n  sync:\n    toHost:\n      pods:\n        enabled: \"yes\"\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.sync.toHost.pods.enabled: expected bool, got string "yes"`,
	}, {
		name: "wrong type: object",
		doc:  header + "spec:\n  controlPlane: big\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.controlPlane: expected object, got string "big"`,
	}, {
		name: "wrong type: list",
		doc:  header + "spec:\n  controlPlane:\n    expose:\n      extraSANs: api.example.com\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.controlPlane.expose.extraSANs: expected list, got string "api.example.com"`,
	}, {
		name: "wrong type: list item",
		doc:  header + "spec:\n  isolation:\n    mode: dedicated\n    nodeSelector: {pool: a}\n    tolerations: [gpu]\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.isolation.tolerations[0]: expected object, got string "gpu"`,
	}, {
		name: "wrong type: integer as string",
		doc:  header + "spec:\n  controlPlane:\n    replicas: \"3\"\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.controlPlane.replicas: expected integer, got string "3"`,
	}, {
		name: "wrong type: fraction for an integer",
		doc:  header + "spec:\n  controlPlane:\n    replicas: 1.5\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.controlPlane.replicas: expected integer, got number 1.5`,
	}, {
		name: "integer out of range",
		doc:  header + "spec:\n  controlPlane:\n    replicas: 3000000000\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.controlPlane.replicas: expected integer between -2147483648 and 2147483647, got number 3000000000`,
	}, {
		name: "bad quantities",
		doc:  header + "spec:\n  isolation:\n    resourceQuota:\n      requests.memory: 4GB\n      requests.cpu: 0.5\n      pods: true\n",
		want: `invalid VirtualCluster config (3 problems):
  spec.isolation.resourceQuota[pods]: expected quantity such as 2, "500m" or "4Gi", got bool true
  spec.isolation.resourceQuota[requests.cpu]: expected quantity such as 2, "500m" or "4Gi", got number 0.5 (quote fractions: "0.5")
  spec.isolation.resourceQuota[requests.memory]: expected quantity such as 2, "500m" or "4Gi", got string "4GB"`,
	}, {
		name: "bad duration",
		doc:  header + "spec:\n  sleep:\n    afterInactivity: 5 minutes\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.sleep.afterInactivity: expected duration such as "90s", "30m" or "1h30m", got string "5 minutes"`,
	}, {
		name: "duration without a unit",
		doc:  header + "spec:\n  sleep:\n    afterInactivity: 300\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.sleep.afterInactivity: expected duration such as "90s", "30m" or "1h30m", got number 300`,
	}, {
		name: "duration too short",
		doc:  header + "spec:\n  sleep:\n    afterInactivity: 10s\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.sleep.afterInactivity: Invalid value: "10s": must be at least 1m0s`,
	}, {
		name: "bad enum",
		doc:  header + "spec:\n  controlPlane:\n    backingStore:\n      type: mongodb\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.controlPlane.backingStore.type: Unsupported value: "mongodb": supported values: "sqlite", "embeddedEtcd", "externalEtcd", "database"`,
	}, {
		name: "invalid name",
		doc:  "apiVersion: kubicle.dev/v1alpha1\nkind: VirtualCluster\nmetadata:\n  name: Team_A\n",
		want: `invalid VirtualCluster config (1 problem):
  metadata.name: Invalid value: "Team_A": a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')`,
	}, {
		name: "name too long",
		doc:  "apiVersion: kubicle.dev/v1alpha1\nkind: VirtualCluster\nmetadata:\n  name: " + strings.Repeat("x", 53) + "\n",
		want: `invalid VirtualCluster config (1 problem):
  metadata.name: Invalid value: "` + strings.Repeat("x", 53) + `": must be no more than 52 characters, so that the host objects named after it fit in 63`,
	}, {
		name: "name missing",
		doc:  "apiVersion: kubicle.dev/v1alpha1\nkind: VirtualCluster\n",
		want: `invalid VirtualCluster config (1 problem):
  metadata.name: Required value: names the virtual cluster`,
	}, {
		name: "reserved name",
		doc:  "apiVersion: kubicle.dev/v1alpha1\nkind: VirtualCluster\nmetadata:\n  name: kube-ml\n",
		want: `invalid VirtualCluster config (1 problem):
  metadata.name: Invalid value: "kube-ml": is reserved: names starting with "kube-" are reserved for Kubernetes`,
	}, {
		name: "reserved namespace",
		doc:  header + "  namespace: kube-system\n",
		want: `invalid VirtualCluster config (1 problem):
  metadata.namespace: Invalid value: "kube-system": is a Kubernetes system namespace; a virtual cluster needs a namespace of its own, since kubicle puts quotas, limit ranges, network policies and Pod Security labels on it`,
	}, {
		name: "replicas with sqlite",
		doc:  header + "spec:\n  controlPlane:\n    replicas: 3\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.controlPlane.replicas: Invalid value: 3: must be 1 with backingStore.type "sqlite": an SQLite file serves one replica; use externalEtcd or database for a highly available control plane`,
	}, {
		name: "database without a secret ref",
		doc:  header + "spec:\n  controlPlane:\n    backingStore:\n      type: database\n      database:\n        driver: postgres\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.controlPlane.backingStore.database.dsnSecretRef: Required value: the data source name carries credentials, so it is read from a Secret in the host namespace`,
	}, {
		name: "a value that fails to decode is not also reported missing",
		doc:  header + "spec:\n  controlPlane:\n    backingStore:\n      type: database\n      database:\n        driver: postgres\n        dsnSecretRef: team-a-db\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.controlPlane.backingStore.database.dsnSecretRef: expected object, got string "team-a-db"`,
	}, {
		name: "node selector without dedicated mode",
		doc:  header + "spec:\n  isolation:\n    nodeSelector:\n      pool: gpu\n",
		want: `invalid VirtualCluster config (1 problem):
  spec.isolation.nodeSelector: Forbidden: only used with mode "dedicated"`,
	}, {
		name: "apiVersion missing, the rest still checked",
		doc:  "kind: VirtualCluster\nmetadata:\n  name: demo\nspec:\n  controlPlane:\n    driver: vm\n",
		want: `invalid VirtualCluster config (2 problems):
  apiVersion: Required value: must be "kubicle.dev/v1alpha1"
  spec.controlPlane.driver: Unsupported value: "vm": supported values: "pod", "process"`,
	}, {
		name: "another version",
		doc:  "apiVersion: kubicle.dev/v1\nkind: VirtualCluster\nmetadata:\n  name: demo\n",
		want: `invalid VirtualCluster config (1 problem):
  apiVersion: Unsupported value: "kubicle.dev/v1": supported values: "kubicle.dev/v1alpha1"`,
	}, {
		name: "another kind stops at the kind",
		doc:  "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n",
		want: `invalid VirtualCluster config (2 problems):
  apiVersion: Unsupported value: "apps/v1": supported values: "kubicle.dev/v1alpha1"
  kind: Unsupported value: "Deployment": supported values: "VirtualCluster"`,
	}, {
		name: "apiVersion of the wrong type",
		doc:  "apiVersion: 1\nkind: VirtualCluster\nmetadata:\n  name: demo\n",
		want: `invalid VirtualCluster config (1 problem):
  apiVersion: expected string, got number 1`,
	}, {
		name: "duplicate key",
		doc:  header + "spec:\n  sleep:\n    wakeOnRequest: true\n    wakeOnRequest: false\n",
		want: `invalid VirtualCluster config (1 problem):
  YAML: line 8: key "wakeOnRequest" already set in map`,
	}, {
		name: "YAML syntax",
		doc:  header + "spec:\n  sleep: [\n",
		want: `invalid VirtualCluster config (1 problem):
  YAML: line 6: did not find expected node content`,
	}, {
		name: "empty",
		doc:  "# nothing here\n---\n",
		want: `invalid VirtualCluster config (1 problem):
  the config is empty; it must hold one VirtualCluster document`,
	}, {
		name: "two documents",
		doc:  header + "---\n" + header,
		want: `invalid VirtualCluster config (1 problem):
  the config holds 2 YAML documents; it must hold one VirtualCluster document`,
	}, {
		name: "not an object",
		doc:  "- demo\n",
		want: `invalid VirtualCluster config (1 problem):
  expected a VirtualCluster object, got list`,
	}, {
		name: "every problem at once, sorted by field",
		doc: "apiVersion: kubicle.dev/v1alpha1\nkind: VirtualCluster\nmetadata:\n  name: kubicle\nspec:\n" +
			"  controlPlane:\n    replicas: 2\n    driver: process\n    image: example.com/kubicle:v1\n" +
			"  sync:\n    toHost:\n      pods:\n        enabled: \"no\"\n      ingress: {enabled: true}\n" +
			"  isolation:\n    mode: dedicated\n    resourceQuota:\n      requests.cpu: \"-8\"\n" +
			"  sleep:\n    schedule:\n      sleepAt: \"0 22 * *\"\n",
		want: `invalid VirtualCluster config (8 problems):
  metadata.name: Invalid value: "kubicle": is reserved: it names kubicle's own host objects (operator, chart)
  spec.controlPlane.image: Forbidden: only used with driver "pod"
  spec.controlPlane.replicas: Invalid value: 2: must be 1 with driver "process": a process runs on one machine
  spec.isolation.nodeSelector: Required value: mode "dedicated" needs a selector for the nodes of its pool
  spec.isolation.resourceQuota[requests.cpu]: Invalid value: "-8": must be greater than or equal to 0
  spec.sleep.schedule.sleepAt: Invalid value: "0 22 * *": must be a cron expression: must have 5 fields (minute hour day-of-month month day-of-week), not 4
  spec.sync.toHost.ingress: unknown field; did you mean "ingresses"?
  spec.sync.toHost.pods.enabled: expected bool, got string "no"`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			vc, err := Load([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Load succeeded: %+v", vc)
			}
			if vc != nil {
				t.Errorf("Load returned a VirtualCluster with its error")
			}
			if err.Error() != tt.want {
				t.Errorf("Load error:\n%s\nwant:\n%s", err, tt.want)
			}
			var cerr *Error
			if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
				t.Errorf("error %T does not carry the problems", err)
			}
		})
	}
}

func TestLoadValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		doc  string
		// spec is the spec the document means, before defaults.
		spec func(*v1alpha1.VirtualClusterSpec)
	}{{
		name: "minimal YAML",
		doc:  header,
	}, {
		name: "JSON",
		doc:  `{"apiVersion": "kubicle.dev/v1alpha1", "kind": "VirtualCluster", "metadata": {"name": "demo"}}`,
	}, {
		name: "nulls mean unset; document markers and comments are fine",
		doc:  "---\n# a comment\n" + header + "spec:\n  sleep: null\n  controlPlane:\n    replicas:\n",
	}, {
		name: "status is accepted and left alone",
		doc:  header + "status:\n  phase: Running\n  observedGeneration: 2\n",
	}, {
		name: "quantities as integers and padded strings, YAML 1.1 booleans",
		doc: header + "spec:\n  isolation:\n    resourceQuota:\n      pods: 100\n      requests.cpu: \" 8 \"\n" +
			"  sync:\n    toHost:\n      ingresses:\n        enabled: yes\n",
		spec: func(s *v1alpha1.VirtualClusterSpec) {
			s.Isolation.ResourceQuota = corev1.ResourceList{"pods": resource.MustParse("100"), "requests.cpu": resource.MustParse("8")}
			s.Sync.ToHost.Ingresses.Enabled = ptr(true)
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Load([]byte(tt.doc))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := &v1alpha1.VirtualCluster{ObjectMeta: metav1.ObjectMeta{Name: "demo"}}
			want.APIVersion, want.Kind = v1alpha1.SchemeGroupVersion.String(), v1alpha1.VirtualClusterKind
			if tt.spec != nil {
				tt.spec(&want.Spec)
			}
			if strings.Contains(tt.doc, "status:") {
				want.Status = v1alpha1.VirtualClusterStatus{Phase: v1alpha1.PhaseRunning, ObservedGeneration: 2}
			}
			v1alpha1.Default(want)
			if !equality.Semantic.DeepEqual(got, want) {
				t.Errorf("Load:\n%+v\nwant:\n%+v", got, want)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func TestLoadFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()

	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, []byte(header), 0o600); err != nil {
		t.Fatal(err)
	}
	vc, err := LoadFile(good)
	if err != nil {
		t.Fatalf("LoadFile: %v", err)
	}
	if vc.Namespace != "vc-demo" {
		t.Errorf("LoadFile did not default: namespace %q", vc.Namespace)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte(header+"spec:\n  sleep:\n    wake: true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = LoadFile(bad)
	want := "loading config " + bad + `: invalid VirtualCluster config (1 problem):
  spec.sleep.wake: unknown field; known fields are afterInactivity, schedule, wakeOnRequest`
	if err == nil || err.Error() != want {
		t.Errorf("LoadFile error:\n%v\nwant:\n%s", err, want)
	}
	var cerr *Error
	if !errors.As(err, &cerr) {
		t.Errorf("LoadFile error does not wrap *Error")
	}

	_, err = LoadFile(filepath.Join(dir, "missing.yaml"))
	if err == nil || !strings.HasPrefix(err.Error(), "loading config: open "+dir) || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("LoadFile of a missing file: %v", err)
	}
}

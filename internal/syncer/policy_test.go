package syncer

import (
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"kubicle.dev/kubicle/pkg/apis/kubicle/v1alpha1"
)

func TestCheckService(t *testing.T) {
	vc := &v1alpha1.VirtualCluster{}
	v1alpha1.Default(vc) // allowedServiceTypes: [ClusterIP]
	s := &Syncer{vc: vc}
	for _, tc := range []struct {
		name string
		spec corev1.ServiceSpec
		want string
	}{
		{"type unset", corev1.ServiceSpec{}, ""},
		{"ClusterIP", corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP}, ""},
		{"ExternalName", corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "db.example.com"}, ""},
		{"NodePort", corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort},
			"spec.type: NodePort is not allowed in this virtual cluster; spec.isolation.allowedServiceTypes allows ClusterIP"},
		{"external IPs", corev1.ServiceSpec{ExternalIPs: []string{"203.0.113.9", "203.0.113.10"}},
			"spec.externalIPs (203.0.113.9, 203.0.113.10): a Service of a virtual cluster cannot claim addresses on the host's nodes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.checkService(&corev1.Service{Spec: tc.spec})
			var pe *PolicyError
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (!errors.As(err, &pe) || !strings.HasPrefix(err.Error(), tc.want)):
				t.Fatalf("got %v, want a PolicyError starting %q", err, tc.want)
			}
		})
	}
	s.vc.Spec.Isolation.AllowedServiceTypes = nil
	if err := s.checkService(&corev1.Service{}); err == nil || !strings.Contains(err.Error(), "allows none set") {
		t.Fatalf("with no type allowed: %v", err)
	}
}

func TestPodSecurityViolation(t *testing.T) {
	yes := true
	hostile := &corev1.Pod{Spec: corev1.PodSpec{
		HostPID:    true,
		Containers: []corev1.Container{{Name: "c", Image: "x", SecurityContext: &corev1.SecurityContext{Privileged: &yes}}},
	}}
	plain := &corev1.Pod{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "x"}}}}
	for _, tc := range []struct {
		name     string
		standard v1alpha1.PodSecurityStandard
		pod      *corev1.Pod
		want     string
	}{
		{"privileged allows all", v1alpha1.PodSecurityPrivileged, hostile, ""},
		{"baseline refuses", v1alpha1.PodSecurityBaseline, hostile,
			`violates PodSecurity "baseline" (spec.isolation.podSecurityStandard): host namespaces (hostPID=true), privileged (container "c" must not set securityContext.privileged=true)`},
		{"baseline allows plain", v1alpha1.PodSecurityBaseline, plain, ""},
		{"restricted refuses plain", v1alpha1.PodSecurityRestricted, plain, `violates PodSecurity "restricted" (spec.isolation.podSecurityStandard): allowPrivilegeEscalation != false`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PodSecurityViolation(tc.standard, tc.pod)
			if err != nil {
				t.Fatal(err)
			}
			if (tc.want == "") != (got == "") || !strings.HasPrefix(got, tc.want) {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if _, err := PodSecurityViolation("lenient", plain); err == nil {
		t.Fatal("an unknown standard was accepted")
	}
}

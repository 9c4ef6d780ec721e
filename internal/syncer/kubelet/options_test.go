package kubelet

import (
	"net/url"
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestStreamOptions checks the translation of the kubelet's query parameters (what
// the virtual API server sends) into the host API server's subresource options.
func TestStreamOptions(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		kind    subresource
		query   string
		want    runtime.Object
		wantErr bool
	}{
		{name: "exec", kind: exec, query: "command=sh&command=-c&command=echo+hi&output=1&error=1",
			want: &corev1.PodExecOptions{Stdout: true, Stderr: true, Container: "app", Command: []string{"sh", "-c", "echo hi"}}},
		{name: "exec tty drops stderr", kind: exec, query: "command=sh&input=1&output=1&error=1&tty=1",
			want: &corev1.PodExecOptions{Stdin: true, Stdout: true, TTY: true, Container: "app", Command: []string{"sh"}}},
		{name: "exec API-style names are not the kubelet's", kind: exec, query: "command=sh&stdout=true", wantErr: true},
		{name: "exec without command", kind: exec, query: "output=1", wantErr: true},
		{name: "attach", kind: attach, query: "input=1&output=1",
			want: &corev1.PodAttachOptions{Stdin: true, Stdout: true, Container: "app"}},
		{name: "port-forward over SPDY", kind: portForward, query: "", want: &corev1.PodPortForwardOptions{}},
		{name: "port-forward ports", kind: portForward, query: "port=80,8080&port=9090",
			want: &corev1.PodPortForwardOptions{Ports: []int32{80, 8080, 9090}}},
		{name: "port-forward bad port", kind: portForward, query: "port=0", wantErr: true},
		{name: "port-forward port out of range", kind: portForward, query: "port=70000", wantErr: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			got, err := streamOptions(tc.kind, q, "app")
			if (err != nil) != tc.wantErr {
				t.Fatalf("error %v, want error %v", err, tc.wantErr)
			}
			if !tc.wantErr && !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %#v, want %#v", got, tc.want)
			}
		})
	}
}

package syncer

import "testing"

func TestReplaceName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ text, old, want string }{
		{"Successfully assigned shop/web to node-1", "node-1", "Successfully assigned shop/web to vnode-a"},
		{"assigned to node-1.", "node-1", "assigned to vnode-a."},
		{"node-1, node-10 and mynode-1 and node-1.example.com", "node-1", "vnode-a, node-10 and mynode-1 and node-1.example.com"},
		{"0/3 nodes are available: node-1: Insufficient cpu", "node-1", "0/3 nodes are available: vnode-a: Insufficient cpu"},
		{"node-1node-1", "node-1", "node-1node-1"},
		{"a", "a", "vnode-a"},
		{"back-off pulling image on w", "w", "back-off pulling image on vnode-a"},
		{"", "node-1", ""},
		{"text", "", "text"},
	} {
		if got := replaceName(tc.text, tc.old, "vnode-a"); got != tc.want {
			t.Errorf("replaceName(%q, %q) = %q, want %q", tc.text, tc.old, got, tc.want)
		}
	}
}

package e2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"kubicle.dev/kubicle/internal/testenv"
)

// TestControlPlaneIdleMemoryTrim runs a control plane until it is idle: it must say on
// /metrics that it trimmed and set a soft memory limit, lift the limit as soon as a
// client keeps it busy, and with --idle-memory-trim=false do none of it.
func TestControlPlaneIdleMemoryTrim(t *testing.T) {
	if testing.Short() {
		t.Skip("starts control planes")
	}
	addr, offAddr := freeAddr(t), freeAddr(t)
	cp := testenv.StartControlPlane(t, "", "--metrics-listen", addr)
	testenv.StartControlPlane(t, "", "--metrics-listen", offAddr, "--idle-memory-trim=false")

	// The metrics listener opens right after the API server is ready.
	for _, a := range []string{addr, offAddr} {
		testenv.Eventually(t, 30*time.Second, 200*time.Millisecond, func() (bool, string) {
			resp, err := http.Get("http://" + a + "/metrics")
			if err != nil {
				return false, err.Error()
			}
			resp.Body.Close()
			return true, ""
		})
	}
	if series := scrape(t, offAddr); strings.Contains(series, "kubicle_memory_") {
		t.Errorf("--idle-memory-trim=false still reports kubicle_memory_ series")
	}

	// Idle after 20 s of quiet: one trim, a limit. Each scrape of /metrics allocates
	// ~5 MB in the control plane, so it is polled every 5 s, as a Prometheus would.
	var limit float64
	testenv.Eventually(t, 90*time.Second, 5*time.Second, func() (bool, string) {
		m := memorySeries(t, addr)
		limit = m["kubicle_memory_soft_limit_bytes"]
		return m["kubicle_memory_idle"] == 1 && m["kubicle_memory_trims_total"] == 1 && limit > 0,
			fmt.Sprintf("idle=%v trims=%v limit=%v", m["kubicle_memory_idle"], m["kubicle_memory_trims_total"], limit)
	})
	if limit > 1<<30 {
		t.Errorf("idle soft limit %.0f MiB: expected it near what the process keeps (a few hundred MiB)", limit/(1<<20))
	}

	// A client creating objects as fast as it can makes the process busy again.
	client := testenv.Client(t, cp.Kubeconfig)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for i := 0; ctx.Err() == nil; i++ {
			cm := &corev1.ConfigMap{
				ObjectMeta: metav1.ObjectMeta{Name: "load-" + strconv.Itoa(i)},
				Data:       map[string]string{"payload": strings.Repeat("x", 32<<10)},
			}
			_, _ = client.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{})
		}
	}()
	testenv.Eventually(t, 60*time.Second, 2*time.Second, func() (bool, string) {
		m := memorySeries(t, addr)
		return m["kubicle_memory_idle"] == 0 && m["kubicle_memory_soft_limit_bytes"] == 0,
			fmt.Sprintf("idle=%v limit=%v", m["kubicle_memory_idle"], m["kubicle_memory_soft_limit_bytes"])
	})
	cancel()

	// Quiet again: a second trim.
	testenv.Eventually(t, 90*time.Second, 5*time.Second, func() (bool, string) {
		m := memorySeries(t, addr)
		return m["kubicle_memory_trims_total"] == 2, fmt.Sprintf("trims=%v", m["kubicle_memory_trims_total"])
	})
}

func scrape(t *testing.T, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// memorySeries returns the kubicle_memory_ series of the control plane at addr.
func memorySeries(t *testing.T, addr string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, line := range strings.Split(scrape(t, addr), "\n") {
		name, value, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(name, "kubicle_memory_") {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			out[name] = v
		}
	}
	return out
}

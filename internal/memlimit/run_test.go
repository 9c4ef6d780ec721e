package memlimit

import (
	"context"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// sink keeps allocations from being optimised away.
var sink []byte

// TestRunAgainstTheRuntime drives the real Go runtime of this test process: quiet →
// idle, limit near the live heap, free memory returned; a burst of allocation → the
// limit lifted within an interval; cancellation → the ceiling restored.
func TestRunAgainstTheRuntime(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	opts := Options{Interval: 20 * time.Millisecond, IdleAfter: 200 * time.Millisecond, IdleRate: 8 << 20}
	go func() { Run(ctx, opts, m); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	// Garbage for the trim to give back.
	for i := 0; i < 64; i++ {
		sink = make([]byte, 1<<20)
	}
	sink = nil

	eventually(t, func() (bool, string) {
		idle, trims := gauge(t, reg, "kubicle_memory_idle"), gauge(t, reg, "kubicle_memory_trims_total")
		return idle == 1 && trims == 1, fmt.Sprintf("idle=%v trims=%v", idle, trims)
	})
	limit := debug.SetMemoryLimit(-1)
	s := ReadSample()
	if limit == math.MaxInt64 || uint64(limit) < s.Retained {
		t.Fatalf("idle limit %d MiB: want a limit above what the process retains (%d MiB)", limit>>20, s.Retained>>20)
	}
	if got := gauge(t, reg, "kubicle_memory_soft_limit_bytes"); int64(got) != limit {
		t.Errorf("kubicle_memory_soft_limit_bytes = %v, runtime limit %d", got, limit)
	}
	// The limit must not make the collector run without pause.
	before := ReadSample()
	time.Sleep(time.Second)
	if after := ReadSample(); after.GCCycles-before.GCCycles > 1 {
		t.Errorf("idle: %d collections in one second under the %d MiB limit", after.GCCycles-before.GCCycles, limit>>20)
	}

	// Allocate ~100 MiB/s until the policy sees it.
	stop := time.Now().Add(10 * time.Second)
	for time.Now().Before(stop) && gauge(t, reg, "kubicle_memory_idle") == 1 {
		for i := 0; i < 10; i++ {
			sink = make([]byte, 1<<20)
		}
		time.Sleep(100 * time.Millisecond)
	}
	sink = nil
	if got := gauge(t, reg, "kubicle_memory_idle"); got != 0 {
		t.Fatalf("still idle after allocating for 10 s")
	}
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("busy: runtime limit %d MiB, want none", l>>20)
	}

	// Quiet again: idle again, a second trim.
	eventually(t, func() (bool, string) {
		trims := gauge(t, reg, "kubicle_memory_trims_total")
		return trims == 2, fmt.Sprintf("trims=%v", trims)
	})
	cancel()
	<-done
	if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
		t.Errorf("after Run returned the runtime limit is %d MiB, want none again", l>>20)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, metric := range f.GetMetric() {
			return value(metric)
		}
	}
	return -1
}

func value(m *dto.Metric) float64 {
	if g := m.GetGauge(); g != nil {
		return g.GetValue()
	}
	return m.GetCounter().GetValue()
}

func eventually(t *testing.T, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, why := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", why)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestCgroupLimit(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		proc  string
		files map[string]string
		want  uint64
	}{
		{"v2 container: its own root", "0::/\n", map[string]string{"memory.max": "536870912\n"}, 512 << 20},
		{"v2 no limit", "0::/\n", map[string]string{"memory.max": "max\n"}, 0},
		{"v2 nested: the smallest on the path", "0::/kubepods/pod1/c1\n", map[string]string{
			"kubepods/memory.max":         "max\n",
			"kubepods/pod1/memory.max":    "268435456\n",
			"kubepods/pod1/c1/memory.max": "1073741824\n",
		}, 256 << 20},
		{"v2 no files", "0::/user.slice\n", nil, 0},
		{"v1 memory controller", "12:pids:/x\n4:cpu,cpuacct:/x\n3:memory:/docker/abc\n", map[string]string{
			"memory/docker/abc/memory.limit_in_bytes": "1073741824\n",
		}, 1 << 30},
		{"v1 unlimited", "3:memory:/\n", map[string]string{"memory/memory.limit_in_bytes": "9223372036854771712\n"}, 0},
		{"garbage", "0::/\n", map[string]string{"memory.max": "lots\n"}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			for name, content := range tc.files {
				p := filepath.Join(root, "fs", name)
				if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			proc := filepath.Join(root, "cgroup")
			if err := os.WriteFile(proc, []byte(tc.proc), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := CgroupLimit(filepath.Join(root, "fs"), proc); got != tc.want {
				t.Errorf("CgroupLimit = %d, want %d", got, tc.want)
			}
		})
	}
	if got := CgroupLimit(t.TempDir(), "/nonexistent/cgroup"); got != 0 {
		t.Errorf("unreadable /proc/self/cgroup: %d, want 0", got)
	}
}

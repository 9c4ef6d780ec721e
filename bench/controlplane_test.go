package bench

import (
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"kubicle.dev/kubicle/internal/testenv"
)

// runs is how many control planes each start figure is the median of.
const runs = 5

// BenchmarkControlPlaneReady measures process start → /readyz ok, on a fresh data
// directory (PKI and schema created) and on a restart from existing data, and reports
// the medians of `runs` starts.
func BenchmarkControlPlaneReady(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var fresh, restart []float64
		for r := 0; r < runs; r++ {
			dir := b.TempDir()
			cp, took := startTimed(b, dir)
			fresh = append(fresh, took)
			cp.Stop(30 * time.Second)
			cp, took = startTimed(b, dir)
			restart = append(restart, took)
			cp.Stop(30 * time.Second)
		}
		b.ReportMetric(median(fresh), "ms-ready-fresh")
		b.ReportMetric(median(restart), "ms-ready-restart")
		b.Logf("fresh data dir: %v ms; restart: %v ms", fresh, restart)
	}
}

func startTimed(b *testing.B, dir string) (*testenv.ControlPlane, float64) {
	start := time.Now()
	cp := testenv.StartControlPlane(b, dir)
	return cp, float64(time.Since(start).Microseconds()) / 1000
}

// BenchmarkControlPlaneIdleMemory starts `runs` control planes side by side, waits
// 60 s after each is ready, and reports the median RSS, PSS and anonymous memory of
// one process. RSS counts the binary's pages that every kubicle process shares; PSS
// divides them among the processes, and anonymous memory is what each additional
// control plane really costs.
func BenchmarkControlPlaneIdleMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var cps []*testenv.ControlPlane
		for r := 0; r < runs; r++ {
			cps = append(cps, testenv.StartControlPlane(b, ""))
		}
		time.Sleep(60 * time.Second)
		var rss, pss, anon []float64
		for _, cp := range cps {
			m := smaps(b, cp.Pid())
			rss, pss, anon = append(rss, m["Rss"]), append(pss, m["Pss"]), append(anon, m["Anonymous"])
		}
		b.ReportMetric(median(rss), "MB-rss")
		b.ReportMetric(median(pss), "MB-pss")
		b.ReportMetric(median(anon), "MB-anon")
		b.Logf("RSS %v MB, PSS %v MB, anonymous %v MB", rss, pss, anon)
		var wg sync.WaitGroup
		for _, cp := range cps {
			wg.Add(1)
			go func() { defer wg.Done(); cp.Stop(30 * time.Second) }()
		}
		wg.Wait()
	}
}

// smaps reads /proc/PID/smaps_rollup in MB.
func smaps(b *testing.B, pid int) map[string]float64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "smaps_rollup"))
	if err != nil {
		b.Fatal(err)
	}
	out := map[string]float64{}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 3 && f[2] == "kB" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			out[strings.TrimSuffix(f[0], ":")] = kb / 1024
		}
	}
	return out
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func percentile(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s) == 0 {
		return 0
	}
	i := int(float64(len(s)-1) * p)
	return s[i]
}

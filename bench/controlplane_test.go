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
// 60 s after each is ready, and reports the median RSS, PSS, anonymous and file-backed
// memory of one process and the CPU time it used in that idle minute. RSS counts the
// binary's pages that every kubicle process shares; PSS divides them among the
// processes, and anonymous memory is what each additional control plane really costs.
//
// The file-backed part depends on how the binary came into the page cache, so there
// are four cases: "from-disk" runs a copy of $KUBICLE_BIN that is read from disk
// (testenv.ColdCopy), as a binary is after a reboot or on a node that unpacked an
// image; "installed" runs a copy made as cp(1) makes it and still in the page cache
// (testenv.InstalledCopy); "as-built" runs $KUBICLE_BIN itself, which right after
// `make build` is still in the page cache as the Go linker wrote it, in large folios
// that each process maps whole; "no-idle-trim" is from-disk with
// --idle-memory-trim=false, to show what internal/memlimit saves.
func BenchmarkControlPlaneIdleMemory(b *testing.B) {
	asBuilt := testenv.Kubicle(b)
	cases := []struct {
		name, bin string
		args      []string
	}{
		{"from-disk", testenv.ColdCopy(b, asBuilt), nil},
		{"installed", testenv.InstalledCopy(b, asBuilt), nil},
		{"as-built", asBuilt, nil},
		{"no-idle-trim", testenv.ColdCopy(b, asBuilt), []string{"--idle-memory-trim=false"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				idleMemory(b, c.bin, c.args)
			}
		})
	}
}

func idleMemory(b *testing.B, bin string, args []string) {
	var cps []*testenv.ControlPlane
	var cpuStart []float64
	for r := 0; r < runs; r++ {
		cp := testenv.StartControlPlaneOf(b, bin, "", args...)
		cps = append(cps, cp)
		cpuStart = append(cpuStart, cpuSeconds(b, cp.Pid()))
	}
	// Each process is measured 60 s after it was ready.
	var rss, pss, anon, file, cpu []float64
	for r, cp := range cps {
		time.Sleep(time.Until(cp.Ready.Add(60 * time.Second)))
		m := smaps(b, cp.Pid())
		rss, pss, anon = append(rss, m["Rss"]), append(pss, m["Pss"]), append(anon, m["Anonymous"])
		file = append(file, m["Rss"]-m["Anonymous"])
		cpu = append(cpu, cpuSeconds(b, cp.Pid())-cpuStart[r])
	}
	b.ReportMetric(median(rss), "MB-rss")
	b.ReportMetric(median(pss), "MB-pss")
	b.ReportMetric(median(anon), "MB-anon")
	b.ReportMetric(median(file), "MB-file")
	b.ReportMetric(median(cpu), "s-cpu/idle-min")
	b.Logf("RSS %v MB, PSS %v MB, anonymous %v MB, file-backed %v MB, CPU in the idle minute %v s", rss, pss, anon, file, cpu)
	var wg sync.WaitGroup
	for _, cp := range cps {
		wg.Add(1)
		go func() { defer wg.Done(); cp.Stop(30 * time.Second) }()
	}
	wg.Wait()
}

// cpuSeconds is the user and system CPU time process pid has used, from
// /proc/PID/stat (fields 14 and 15, in clock ticks of 1/100 s on Linux).
func cpuSeconds(b *testing.B, pid int) float64 {
	data, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "stat"))
	if err != nil {
		b.Fatal(err)
	}
	// The command name (field 2) may hold spaces; fields after it follow ") ".
	rest := string(data[strings.LastIndexByte(string(data), ')')+2:])
	f := strings.Fields(rest)
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100
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

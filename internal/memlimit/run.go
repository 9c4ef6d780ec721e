package memlimit

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"runtime/metrics"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The runtime/metrics names a Sample is made of.
const (
	metricAllocs   = "/gc/heap/allocs:bytes"
	metricTotal    = "/memory/classes/total:bytes"
	metricReleased = "/memory/classes/heap/released:bytes"
	metricCycles   = "/gc/cycles/total:gc-cycles"
)

// ReadSample reads the runtime's memory statistics now.
func ReadSample() Sample {
	v := readMetrics(metricAllocs, metricTotal, metricReleased, metricCycles)
	var retained uint64
	if v[metricTotal] > v[metricReleased] {
		retained = v[metricTotal] - v[metricReleased]
	}
	return Sample{At: time.Now(), Allocated: v[metricAllocs], Retained: retained, GCCycles: v[metricCycles]}
}

// readMetrics reads the named uint64 runtime metrics.
func readMetrics(names ...string) map[string]uint64 {
	s := make([]metrics.Sample, len(names))
	for i, n := range names {
		s[i].Name = n
	}
	metrics.Read(s)
	v := make(map[string]uint64, len(s))
	for _, m := range s {
		if m.Value.Kind() == metrics.KindUint64 {
			v[m.Name] = m.Value.Uint64()
		}
	}
	return v
}

// Metrics are the series Run keeps up to date.
type Metrics struct {
	limit prometheus.Gauge
	idle  prometheus.Gauge
	trims prometheus.Counter
}

// NewMetrics returns the series, registered with reg when reg is not nil.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		limit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kubicle_memory_soft_limit_bytes",
			Help: "The Go runtime's soft memory limit that kubicle set; 0 while there is none.",
		}),
		idle: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "kubicle_memory_idle",
			Help: "1 while the process counts as idle and its heap is held near the live heap.",
		}),
		trims: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "kubicle_memory_trims_total",
			Help: "Times the process became idle and returned its free memory to the operating system.",
		}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.limit, m.idle, m.trims} {
			_ = reg.Register(c) // a second Run in one process reuses the first's series
		}
	}
	return m
}

// Run samples the runtime every opts.Interval and applies the policy's decisions until
// ctx is done; then it puts back the ceiling. m may be nil.
func Run(ctx context.Context, opts Options, m *Metrics) {
	opts = opts.withDefaults()
	p := NewPolicy(opts)
	tick := time.NewTicker(opts.Interval)
	defer tick.Stop()
	applied := int64(-1)
	for {
		d := p.Observe(ReadSample())
		if d.Trim {
			debug.FreeOSMemory()
			d.Limit = p.AfterTrim(ReadSample())
		}
		// Small moves of the live heap are not worth a call into the runtime.
		if applied < 0 || math.Abs(float64(d.Limit-applied)) >= 1<<20 {
			debug.SetMemoryLimit(d.Limit)
			applied = d.Limit
		}
		if m != nil {
			m.record(d, applied)
		}
		select {
		case <-ctx.Done():
			debug.SetMemoryLimit(opts.Ceiling)
			return
		case <-tick.C:
		}
	}
}

func (m *Metrics) record(d Decision, limit int64) {
	if limit == math.MaxInt64 {
		limit = 0
	}
	m.limit.Set(float64(limit))
	if d.Idle {
		m.idle.Set(1)
	} else {
		m.idle.Set(0)
	}
	if d.Trim {
		m.trims.Inc()
	}
}

// ceilingShare is the part of a container's memory limit the Go runtime may use: the
// rest is for memory it does not manage (SQLite's cache through cgo, the binary's
// pages) so that the kernel does not kill the process before the collector works
// harder.
const ceilingShare = 0.9

// DefaultCeiling returns the ceiling for this process: the GOMEMLIMIT the user set, or
// 90% of the memory limit of the cgroup the process runs in, or 0 (none).
func DefaultCeiling() int64 {
	if os.Getenv("GOMEMLIMIT") != "" {
		if l := debug.SetMemoryLimit(-1); l != math.MaxInt64 {
			return l
		}
		return 0
	}
	if l := CgroupLimit("/sys/fs/cgroup", "/proc/self/cgroup"); l > 0 {
		return int64(float64(l) * ceilingShare)
	}
	return 0
}

// CgroupLimit returns the memory limit in bytes that applies to this process: the
// smallest limit of its cgroup and the cgroup's ancestors, under the cgroup file
// system mounted at root, for the cgroup that /proc/self/cgroup (procFile) names; 0
// when there is none or it cannot be read. Both cgroup v2 (memory.max) and v1
// (memory/memory.limit_in_bytes) are understood.
func CgroupLimit(root, procFile string) uint64 {
	data, err := os.ReadFile(procFile)
	if err != nil {
		return 0
	}
	var limit uint64
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		// hierarchy-ID:controllers:path
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "":
			limit = smaller(limit, lowestLimit(root, parts[2], "memory.max"))
		case hasController(parts[1], "memory"):
			limit = smaller(limit, lowestLimit(filepath.Join(root, "memory"), parts[2], "memory.limit_in_bytes"))
		}
	}
	return limit
}

// lowestLimit is the smallest limit in file along the cgroup path from the cgroup up
// to the mount root; 0 when none is set.
func lowestLimit(mount, cgroup, file string) uint64 {
	var limit uint64
	dir := filepath.Clean("/" + cgroup)
	for {
		limit = smaller(limit, readLimit(filepath.Join(mount, dir, file)))
		if dir == "/" {
			return limit
		}
		dir = filepath.Dir(dir)
	}
}

// smaller returns the smaller of two limits where 0 means none.
func smaller(a, b uint64) uint64 {
	if a == 0 || (b != 0 && b < a) {
		return b
	}
	return a
}

func hasController(list, name string) bool {
	for _, c := range strings.Split(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// unlimitedV1 is the smallest value cgroup v1 reports for "no limit" (page-rounded
// MaxInt64); anything at or above it means none.
const unlimitedV1 = 1 << 62

func readLimit(path string) uint64 {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	s := strings.TrimSpace(string(data))
	if s == "max" {
		return 0
	}
	v, err := strconv.ParseUint(s, 10, 64)
	if err != nil || v >= unlimitedV1 {
		return 0
	}
	return v
}

// GCPercentControlPlane is the GOGC a virtual control plane runs with unless the user
// set one: the API server's live heap is ~100 MB idle, and with Go's default of 100 a
// busy process sits at twice that; 50 trades a little collector CPU for a third less
// heap, which is what many control planes on one host need.
const GCPercentControlPlane = 50

// Tune sets up this process's memory management for a long-running control plane:
// GOGC=gcPercent unless GOGC is set (0 leaves Go's default), the ceiling
// DefaultCeiling finds, and, when idleTrim is true, Run in the background until ctx is
// done with its series registered with reg (nil: none). A non-nil from delays
// gcPercent until it is closed: a control plane starts with Go's default, because
// its start-up allocates ~370 MB in two seconds, and at GOGC=50 the collector takes
// ~1.1 s of CPU of it against ~0.7 s at the default (docs/benchmarks.md).
func Tune(ctx context.Context, gcPercent int, from <-chan struct{}, idleTrim bool, reg prometheus.Registerer) {
	if gcPercent > 0 && os.Getenv("GOGC") == "" {
		if from == nil {
			debug.SetGCPercent(gcPercent)
		} else {
			go func() {
				select {
				case <-from:
					debug.SetGCPercent(gcPercent)
				case <-ctx.Done():
				}
			}()
		}
	}
	ceiling := DefaultCeiling()
	if ceiling > 0 {
		debug.SetMemoryLimit(ceiling)
	}
	if idleTrim {
		go Run(ctx, Options{Ceiling: ceiling}, NewMetrics(reg))
	}
}

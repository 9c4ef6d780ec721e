// Package memlimit keeps a long-running Go process small while it is idle and out of
// the way while it is busy, by moving the Go runtime's soft memory limit.
//
// A control plane spends most of its life idle: a virtual cluster whose team is not
// deploying, a host on a laptop. The Go garbage collector lets the heap grow to
// GOGC percent above the live heap before it collects, and returns freed pages to the
// operating system only slowly, so an idle process holds tens of megabytes it does not
// use. A fixed GOMEMLIMIT would take them back but makes the collector run far more
// often under load, when the live heap grows past the limit. This package does both:
// while the process allocates quickly it sets no limit of its own (the ceiling only, if
// any), and once the allocation rate has stayed low for a while it collects, returns
// the free memory to the operating system and holds the limit a little above what the
// process kept, until allocation picks up again.
//
// The decisions are made by Policy, a pure function of runtime samples; Run feeds it
// from runtime/metrics and applies what it decides.
package memlimit

import (
	"math"
	"time"
)

// Options tune the policy. The zero value of a field means its default.
type Options struct {
	// Interval is how often the runtime is sampled. Default 2 s: a process that starts
	// working hard (BusyRate) is released from the idle limit within one interval.
	Interval time.Duration
	// IdleAfter is the window over which the allocation rate is averaged: the process
	// becomes idle once the average over the last IdleAfter is below IdleRate. Default
	// 20 s, so a pause between two kubectl commands does not trim.
	IdleAfter time.Duration
	// IdleRate is the average heap allocation rate, in bytes per second, below which
	// the process is quiet. Default 4 MiB/s: an idle control plane allocates under
	// 1 MiB/s, a Prometheus scrape of its /metrics about 5 MB (measured,
	// docs/benchmarks.md); one syncing pods allocates tens of MiB/s.
	IdleRate float64
	// BusyRate is the allocation rate over one Interval that ends idleness at once.
	// Default 16 MiB/s: well above a scrape's burst, well below real work.
	BusyRate float64
	// Headroom is how far above what the process retained right after the trim the
	// idle limit sits, as a fraction of it. Default 0.1.
	Headroom float64
	// MinHeadroom is the least headroom in bytes. Default 16 MiB: at idle allocation
	// rates the collector then runs about once every twenty seconds.
	MinHeadroom uint64
	// MinGCInterval is the shortest average time between collections that the idle
	// limit may cause; when the collector runs more often, the limit moves up to what
	// the process holds now plus headroom. Default 10 s. The heap a collection cannot
	// give back (live objects, the free space between them in partly used spans,
	// stacks) is not known in advance; this keeps a limit below it from making the
	// collector run without pause.
	MinGCInterval time.Duration
	// Ceiling bounds the limit at all times: a GOMEMLIMIT the user set, or a share of
	// the container's memory limit. 0 means none.
	Ceiling int64
}

func (o Options) withDefaults() Options {
	if o.Interval <= 0 {
		o.Interval = 2 * time.Second
	}
	if o.IdleAfter <= 0 {
		o.IdleAfter = 20 * time.Second
	}
	if o.IdleRate <= 0 {
		o.IdleRate = 4 << 20
	}
	if o.BusyRate <= 0 {
		o.BusyRate = 16 << 20
	}
	if o.Headroom <= 0 {
		o.Headroom = 0.1
	}
	if o.MinHeadroom == 0 {
		o.MinHeadroom = 16 << 20
	}
	if o.MinGCInterval <= 0 {
		o.MinGCInterval = 10 * time.Second
	}
	if o.Ceiling <= 0 {
		o.Ceiling = math.MaxInt64
	}
	return o
}

// Sample is one reading of the runtime's memory statistics.
type Sample struct {
	// At is when it was taken.
	At time.Time
	// Allocated is the cumulative number of bytes allocated on the heap.
	Allocated uint64
	// Retained is the memory the soft limit counts: everything the runtime has mapped
	// except the heap pages it returned to the operating system.
	Retained uint64
	// GCCycles is the cumulative number of completed collections.
	GCCycles uint64
}

// Decision is what the policy wants after one sample.
type Decision struct {
	// Limit is the soft memory limit to set (math.MaxInt64: none).
	Limit int64
	// Idle reports whether the process counts as idle.
	Idle bool
	// Trim asks for a collection and the return of all free memory to the operating
	// system now, followed by a call to AfterTrim; it is set once, when the process
	// becomes idle.
	Trim bool
}

// Policy turns samples into decisions. Feed it every sample, in order.
type Policy struct {
	opts Options
	// window holds the samples of the last IdleAfter, oldest first, and one before
	// them; it restarts whenever the process leaves idleness.
	window []Sample
	idle   bool
	limit  int64
}

// NewPolicy returns a policy that starts out busy.
func NewPolicy(opts Options) *Policy {
	opts = opts.withDefaults()
	return &Policy{opts: opts, limit: opts.Ceiling}
}

// rate is the allocation rate in bytes per second between two samples; 0 when they
// are at the same instant.
func rate(from, to Sample) float64 {
	elapsed := to.At.Sub(from.At).Seconds()
	if elapsed <= 0 || to.Allocated < from.Allocated {
		return 0
	}
	return float64(to.Allocated-from.Allocated) / elapsed
}

// Observe takes the next sample and returns what to do.
func (p *Policy) Observe(s Sample) Decision {
	if len(p.window) == 0 {
		p.window = []Sample{s}
		return Decision{Limit: p.opts.Ceiling}
	}
	prev := p.window[len(p.window)-1]
	p.window = append(p.window, s)
	// Keep one sample at or before the start of the window, so that it spans IdleAfter.
	for len(p.window) > 2 && s.At.Sub(p.window[1].At) >= p.opts.IdleAfter {
		p.window = p.window[1:]
	}
	first := p.window[0]
	average := rate(first, s)

	if !p.idle {
		if s.At.Sub(first.At) < p.opts.IdleAfter || average >= p.opts.IdleRate {
			return Decision{Limit: p.opts.Ceiling}
		}
		p.idle = true
		// The limit is set by AfterTrim, once the trim has shown what the process
		// cannot give back; until then the ceiling stays.
		return Decision{Limit: p.opts.Ceiling, Idle: true, Trim: true}
	}
	if rate(prev, s) >= p.opts.BusyRate || average >= p.opts.IdleRate {
		// Working again: no limit of ours, and idleness needs a whole quiet window anew.
		p.idle, p.limit, p.window = false, p.opts.Ceiling, []Sample{s}
		return Decision{Limit: p.limit}
	}
	if cycles := s.GCCycles - prev.GCCycles; s.GCCycles > prev.GCCycles && s.At.Sub(prev.At) < time.Duration(cycles)*p.opts.MinGCInterval {
		// Collections come too often: the process needs more than the limit allows.
		p.limit = p.above(s.Retained)
	}
	return Decision{Limit: p.limit, Idle: true}
}

// AfterTrim takes a sample taken right after the trim that Observe asked for and
// returns the idle limit: what the process retained then plus headroom. Unlike
// Observe it does not count the sample as a step in time.
func (p *Policy) AfterTrim(s Sample) int64 {
	p.limit = p.above(s.Retained)
	// The trim's own collection is not the limit's doing.
	p.window[len(p.window)-1].GCCycles = s.GCCycles
	return p.limit
}

// above returns retained plus headroom, never above the ceiling.
func (p *Policy) above(retained uint64) int64 {
	headroom := uint64(float64(retained) * p.opts.Headroom)
	if headroom < p.opts.MinHeadroom {
		headroom = p.opts.MinHeadroom
	}
	if limit := retained + headroom; limit < uint64(p.opts.Ceiling) {
		return int64(limit)
	}
	return p.opts.Ceiling
}

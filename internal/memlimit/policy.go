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
	// working is released from the idle limit within one interval.
	Interval time.Duration
	// IdleAfter is how long the allocation rate must stay below IdleRate before the
	// process counts as idle. Default 20 s, so a pause between two kubectl commands
	// does not trim.
	IdleAfter time.Duration
	// IdleRate is the heap allocation rate, in bytes per second, below which the
	// process is quiet. Default 4 MiB/s: an idle control plane allocates under 1 MiB/s
	// (measured, docs/benchmarks.md); one syncing pods allocates tens of MiB/s.
	IdleRate float64
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
	opts       Options
	prev       Sample
	started    bool
	quietSince time.Time
	idle       bool
	limit      int64
}

// NewPolicy returns a policy that starts out busy.
func NewPolicy(opts Options) *Policy {
	opts = opts.withDefaults()
	return &Policy{opts: opts, limit: opts.Ceiling}
}

// Observe takes the next sample and returns what to do.
func (p *Policy) Observe(s Sample) Decision {
	if !p.started {
		p.started, p.prev, p.quietSince = true, s, s.At
		return Decision{Limit: p.opts.Ceiling}
	}
	prev := p.prev
	p.prev = s
	elapsed := s.At.Sub(prev.At)
	var rate float64
	if elapsed > 0 && s.Allocated >= prev.Allocated {
		rate = float64(s.Allocated-prev.Allocated) / elapsed.Seconds()
	}
	if rate >= p.opts.IdleRate {
		p.quietSince, p.idle, p.limit = s.At, false, p.opts.Ceiling
		return Decision{Limit: p.limit}
	}
	if !p.idle {
		if s.At.Sub(p.quietSince) < p.opts.IdleAfter {
			return Decision{Limit: p.opts.Ceiling}
		}
		p.idle = true
		// The limit is set by AfterTrim, once the trim has shown what the process
		// cannot give back; until then the ceiling stays.
		return Decision{Limit: p.opts.Ceiling, Idle: true, Trim: true}
	}
	if cycles := s.GCCycles - prev.GCCycles; s.GCCycles > prev.GCCycles && elapsed < time.Duration(cycles)*p.opts.MinGCInterval {
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
	p.prev.GCCycles = s.GCCycles // the trim's own collection is not the limit's doing
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

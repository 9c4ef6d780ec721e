package memlimit

import (
	"math"
	"testing"
	"time"
)

const mib = 1 << 20

// step is one sample fed to the policy.
type step struct {
	at          float64 // seconds since the start
	allocMiB    uint64  // allocated since the previous step
	retainedMiB uint64
	gcs         uint64  // collections since the previous step
	trimMiB     uint64  // when a trim is expected: what the process retains after it
	wantMiB     float64 // the limit; -1: the ceiling
	wantIdle    bool
	wantTrim    bool
	why         string
}

func TestPolicy(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name    string
		opts    Options
		ceiling int64
		steps   []step
	}{
		{
			name: "busy at start, idle once the 20 s average is low, trimmed once",
			steps: []step{
				{at: 0, retainedMiB: 180, wantMiB: -1, why: "first sample: nothing to compare"},
				{at: 2, allocMiB: 200, retainedMiB: 180, gcs: 1, wantMiB: -1, why: "100 MiB/s: busy"},
				{at: 12, allocMiB: 5, retainedMiB: 180, wantMiB: -1, why: "a window of 12 s only"},
				{at: 22, allocMiB: 5, retainedMiB: 180, trimMiB: 160, wantMiB: 176, wantIdle: true, wantTrim: true, why: "0.5 MiB/s over 20 s; 160 retained + 16 MiB"},
				{at: 24, allocMiB: 1, retainedMiB: 165, wantMiB: 176, wantIdle: true, why: "no second trim"},
				{at: 44, allocMiB: 10, retainedMiB: 174, gcs: 1, wantMiB: 176, wantIdle: true, why: "one collection in 20 s is fine"},
			},
		},
		{
			name: "collections too often: the limit moves up to what the process holds",
			steps: []step{
				{at: 0, retainedMiB: 180, wantMiB: -1},
				{at: 20, retainedMiB: 180, trimMiB: 170, wantMiB: 187, wantIdle: true, wantTrim: true, why: "170 + 17"},
				{at: 22, allocMiB: 2, retainedMiB: 186, gcs: 1, wantMiB: 186 + 18.6, wantIdle: true, why: "a collection within 2 s"},
				{at: 24, allocMiB: 2, retainedMiB: 190, wantMiB: 186 + 18.6, wantIdle: true, why: "none since"},
			},
		},
		{
			name: "a scrape-sized burst keeps idleness; a large burst ends it and needs a new quiet window",
			steps: []step{
				{at: 0, retainedMiB: 180, wantMiB: -1},
				{at: 20, allocMiB: 10, retainedMiB: 180, trimMiB: 160, wantMiB: 176, wantIdle: true, wantTrim: true},
				{at: 22, allocMiB: 10, retainedMiB: 176, wantMiB: 176, wantIdle: true, why: "5 MiB/s for 2 s, 0.9 MiB/s on average"},
				{at: 24, allocMiB: 40, retainedMiB: 176, gcs: 3, wantMiB: -1, why: "20 MiB/s is above the busy rate"},
				{at: 30, allocMiB: 1, retainedMiB: 200, wantMiB: -1, why: "quiet for 6 s only"},
				{at: 44, allocMiB: 1, retainedMiB: 200, trimMiB: 170, wantMiB: 187, wantIdle: true, wantTrim: true, why: "a whole quiet window after the burst"},
			},
		},
		{
			name: "steady moderate work ends idleness through the average",
			steps: []step{
				{at: 0, retainedMiB: 180, wantMiB: -1},
				{at: 20, retainedMiB: 180, trimMiB: 160, wantMiB: 176, wantIdle: true, wantTrim: true},
				{at: 22, allocMiB: 20, retainedMiB: 170, wantMiB: 176, wantIdle: true, why: "10 MiB/s: below the busy rate"},
				{at: 24, allocMiB: 20, retainedMiB: 170, wantMiB: 176, wantIdle: true},
				{at: 26, allocMiB: 20, retainedMiB: 170, wantMiB: 176, wantIdle: true},
				{at: 28, allocMiB: 20, retainedMiB: 170, wantMiB: 176, wantIdle: true},
				{at: 30, allocMiB: 20, retainedMiB: 170, wantMiB: 176, wantIdle: true},
				{at: 32, allocMiB: 20, retainedMiB: 170, wantMiB: 176, wantIdle: true, why: "3.75 MiB/s on average"},
				{at: 34, allocMiB: 20, retainedMiB: 170, wantMiB: -1, why: "4.1 MiB/s on average"},
			},
		},
		{
			name: "a small process gets the minimum headroom",
			steps: []step{
				{at: 0, retainedMiB: 40, wantMiB: -1},
				{at: 30, retainedMiB: 40, trimMiB: 30, wantMiB: 46, wantIdle: true, wantTrim: true},
			},
		},
		{
			name:    "the ceiling bounds every limit",
			ceiling: 150 * mib,
			steps: []step{
				{at: 0, retainedMiB: 140, wantMiB: 150},
				{at: 30, retainedMiB: 140, trimMiB: 140, wantMiB: 150, wantIdle: true, wantTrim: true},
				{at: 31, retainedMiB: 149, gcs: 5, wantMiB: 150, wantIdle: true},
			},
		},
		{
			name: "options: shorter idle period, lower idle rate, more headroom",
			opts: Options{IdleAfter: 5 * time.Second, IdleRate: mib, BusyRate: 2 * mib, Headroom: 0.5, MinHeadroom: mib, MinGCInterval: time.Second},
			steps: []step{
				{at: 0, retainedMiB: 60, wantMiB: -1},
				{at: 2, allocMiB: 3, retainedMiB: 60, wantMiB: -1, why: "a window of 2 s only"},
				{at: 7, allocMiB: 1, retainedMiB: 60, trimMiB: 50, wantMiB: 75, wantIdle: true, wantTrim: true, why: "0.2 MiB/s over the last 5 s"},
				{at: 9, retainedMiB: 74, gcs: 1, wantMiB: 75, wantIdle: true, why: "one collection in 2 s is within a 1 s minimum"},
				{at: 10, allocMiB: 3, retainedMiB: 74, wantMiB: -1, why: "3 MiB/s is busy here"},
			},
		},
		{
			name: "samples at the same instant count as quiet",
			steps: []step{
				{at: 0, retainedMiB: 180, wantMiB: -1},
				{at: 0, allocMiB: 100, retainedMiB: 180, wantMiB: -1},
				{at: 25, retainedMiB: 180, trimMiB: 160, wantMiB: 176, wantIdle: true, wantTrim: true},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			opts := tc.opts
			opts.Ceiling = tc.ceiling
			p := NewPolicy(opts)
			ceiling := tc.ceiling
			if ceiling == 0 {
				ceiling = math.MaxInt64
			}
			var allocated, cycles uint64
			for i, s := range tc.steps {
				allocated += s.allocMiB * mib
				cycles += s.gcs
				at := base.Add(time.Duration(s.at * float64(time.Second)))
				d := p.Observe(Sample{At: at, Allocated: allocated, Retained: s.retainedMiB * mib, GCCycles: cycles})
				if d.Trim {
					cycles++ // the trim's collection
					d.Limit = p.AfterTrim(Sample{At: at, Allocated: allocated, Retained: s.trimMiB * mib, GCCycles: cycles})
				}
				want := Decision{Limit: ceiling, Idle: s.wantIdle, Trim: s.wantTrim}
				if s.wantMiB >= 0 {
					want.Limit = int64(s.wantMiB * mib)
				}
				if d != want {
					t.Errorf("step %d (t=%gs, %s): got %v, want %v", i, s.at, s.why, show(d), show(want))
				}
			}
		})
	}
}

// show prints a decision with the limit in MiB.
func show(d Decision) map[string]any {
	limit := any("none")
	if d.Limit != math.MaxInt64 {
		limit = float64(d.Limit) / mib
	}
	return map[string]any{"limitMiB": limit, "idle": d.Idle, "trim": d.Trim}
}

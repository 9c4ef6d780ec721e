package lifecycle

import (
	"fmt"
	"io"
	"time"
)

// progress writes what a command is doing to the user's stderr, one line per
// step, as kind does.
type progress struct {
	w io.Writer
}

func newProgress(w io.Writer) *progress {
	if w == nil {
		w = io.Discard
	}
	return &progress{w: w}
}

// step announces a step.
func (p *progress) step(format string, args ...any) {
	fmt.Fprintf(p.w, " • "+format+"\n", args...)
}

// done reports a finished step.
func (p *progress) done(format string, args ...any) {
	fmt.Fprintf(p.w, " ✓ "+format+"\n", args...)
}

// warn reports something the user should know that does not stop the command.
func (p *progress) warn(format string, args ...any) {
	fmt.Fprintf(p.w, " ! "+format+"\n", args...)
}

// line writes a plain line.
func (p *progress) line(format string, args ...any) {
	fmt.Fprintf(p.w, format+"\n", args...)
}

// waiter repeats, every interval, why a wait is not over yet.
type waiter struct {
	p        *progress
	what     string
	start    time.Time
	last     time.Time
	interval time.Duration
}

// waitReportInterval is how often a long wait says why it is still waiting.
const waitReportInterval = 10 * time.Second

func (p *progress) waiter(what string) *waiter {
	now := time.Now()
	return &waiter{p: p, what: what, start: now, last: now, interval: waitReportInterval}
}

// due reports whether the next call of still will report.
func (w *waiter) due() bool { return time.Since(w.last) >= w.interval }

// still reports reason when the last report is older than the interval.
func (w *waiter) still(reason string) {
	if !w.due() {
		return
	}
	w.last = time.Now()
	w.p.line("   still waiting for %s (%s): %s", w.what, w.elapsed(), reason)
}

func (w *waiter) elapsed() time.Duration { return time.Since(w.start).Round(100 * time.Millisecond) }

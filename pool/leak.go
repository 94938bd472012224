package pool

import (
	"context"
	"fmt"
	"log/slog"
	"time"
	"weak"
)

// StackMode says which borrows record their acquisition stack.
type StackMode uint8

const (
	// StacksOff records no stacks: reports name the borrower by its label.
	StacksOff StackMode = iota
	// StacksSampled records the stack of one borrow in LeakConfig.SampleEvery,
	// counted exactly: enough to find a leaking call site in production at a
	// small cost.
	StacksSampled
	// StacksAlways records every borrow's stack: for tests and staging.
	StacksAlways
)

// DefaultSampleEvery is LeakConfig.SampleEvery when it is zero.
const DefaultSampleEvery = 64

// LeakConfig configures how a pool reports borrows that are held too long or
// never returned. The zero value records labels and ages (Borrowed, Close)
// and finds dropped handles, but reports nothing while a borrow is held.
//
// A dropped handle is found when the garbage collector reclaims it and the
// other handles of its slab (the 64 borrows of the same connection around
// it): a released handle kept referenced for long delays the detection of a
// dropped one from the same slab.
//
// Costs, on top of a borrow: a label, an age and dropped-handle detection
// cost a few atomic stores and, once per 64 borrows of a connection, a
// cleanup registration (runtime.AddCleanup), about 5 ns a borrow in all; a
// captured stack costs a runtime.Callers of up to 32 frames and two
// allocations, 0.3 to 0.5 µs (bench/RESULTS.md). Stacks are symbolized only
// when reported. The Threshold check runs in the pool's background
// goroutine, never on the acquire path: there is no timer per borrow.
type LeakConfig struct {
	// Threshold is how long a borrow may be held before it is reported as a
	// leak: once, through OnLeak, as LeakHeld; and once more as LeakReturned
	// if it is returned after that. Zero means borrows are never reported for
	// their age.
	Threshold time.Duration

	// Stacks says which borrows record the stack of their Acquire. Zero is
	// StacksOff.
	Stacks StackMode

	// SampleEvery is, with StacksSampled, how many borrows share one stack:
	// borrow IDs that are multiples of it record theirs. Zero means
	// DefaultSampleEvery (64).
	SampleEvery int

	// OnLeak receives every report: LeakHeld and LeakReturned (with a
	// Threshold) and LeakDropped (always). It runs on a goroutine of the
	// pool's or of the runtime's, and must return quickly. Nil means each
	// report is logged as a warning to Config.Logger, or to slog.Default()
	// when Config.Logger is nil.
	OnLeak func(Borrow)
}

// validate checks lc and fills in its defaults.
func (lc *LeakConfig) validate(logger *slog.Logger) error {
	switch {
	case lc.Threshold < 0:
		return fmt.Errorf("pool: Config.Leak.Threshold is negative (%v)", lc.Threshold)
	case lc.Stacks > StacksAlways:
		return fmt.Errorf("pool: Config.Leak.Stacks is %d, not a StackMode", lc.Stacks)
	case lc.SampleEvery < 0:
		return fmt.Errorf("pool: Config.Leak.SampleEvery is negative (%d)", lc.SampleEvery)
	}
	if lc.SampleEvery == 0 {
		lc.SampleEvery = DefaultSampleEvery
	}
	if lc.OnLeak == nil {
		if logger == nil {
			logger = slog.Default()
		}
		lc.OnLeak = func(b Borrow) {
			logger.Warn(leakMessages[b.Leak], "report", b.String())
		}
	}
	return nil
}

var leakMessages = [...]string{
	NotLeaked:    "pool: borrow",
	LeakHeld:     "pool: connection borrowed longer than the leak threshold",
	LeakReturned: "pool: connection reported as leaked was returned",
	LeakDropped:  "pool: connection dropped without Release; destroyed it",
}

// recordBorrow writes the record of borrow id of e, acquired at now: its
// time, label, and stack when this borrow is sampled. Only the goroutine
// holding e's resource calls it, before it publishes the borrow.
func (p *Pool[T]) recordBorrow(ctx context.Context, e *entry[T], id uint64, now int64) {
	e.since.Store(now)
	if l := labelOf(ctx); l != e.label.Load() {
		e.label.Store(l)
	}
	switch lc := &p.cfg.Leak; {
	case lc.Stacks == StacksAlways, lc.Stacks == StacksSampled && id%uint64(lc.SampleEvery) == 0:
		e.stack.Store(captureStack())
	case e.stack.Load() != nil:
		e.stack.Store(nil)
	}
}

// reportLeak sends a report of kind to OnLeak.
func (p *Pool[T]) reportLeak(b Borrow, kind LeakKind) {
	b.Leak = kind
	if kind != LeakHeld {
		b.Ended = time.Now()
	}
	p.cfg.Leak.OnLeak(b)
}

// leakCheckPeriod is how often the maintainer looks for borrows past the
// threshold: often enough that a report comes at most a quarter of the
// threshold late.
func (p *Pool[T]) leakCheckPeriod() time.Duration {
	return max(p.cfg.Leak.Threshold/4, time.Millisecond)
}

// sweepLeaks reports, once each, the borrows held longer than the threshold.
func (p *Pool[T]) sweepLeaks() {
	threshold := int64(p.cfg.Leak.Threshold)
	now := monotime()
	var found []Borrow
	p.mu.Lock()
	for e := range p.entries {
		for {
			b := e.borrow.Load()
			if b == 0 || b&borrowReported != 0 || now-e.since.Load() <= threshold {
				break
			}
			rec := p.borrowRecord(e, b&borrowIDMask)
			if e.borrow.CompareAndSwap(b, b|borrowReported) {
				found = append(found, rec)
				break
			}
		}
	}
	p.mu.Unlock()
	sortBorrows(found)
	for _, b := range found {
		p.reportLeak(b, LeakHeld)
	}
}

// slabCollected returns the cleanup of a slab of the handles of entry we:
// it runs once every handle of the slab is unreachable. If the borrow in
// progress on the entry was for one of them, its borrower dropped it
// without Release. The cleanup holds the entry weakly: an idle entry holds
// its slab, and a slab reachable from its own cleanup is never collected.
// The entry is gone only when its pool was dropped without Close.
func slabCollected[T any](we weak.Pointer[entry[T]]) func(*slabIDs) {
	return func(ids *slabIDs) {
		e := we.Value()
		if e == nil {
			return
		}
		p := e.pool
		for {
			b := e.borrow.Load()
			id := b & borrowIDMask
			if id == 0 || !ids.has(id) {
				return
			}
			rec := p.borrowRecord(e, id)
			if !e.borrow.CompareAndSwap(b, 0) {
				continue
			}
			// This runs on the runtime's cleanup goroutine: no I/O here.
			if b&borrowDetached != 0 {
				go p.closeDetached(e, reasonDropped) // Close waits for it
			} else {
				p.destroy(e.res, reasonDropped) // closes on a goroutine of puddle's
				p.notifyReturned()
			}
			p.reportLeak(rec, LeakDropped)
			return
		}
	}
}

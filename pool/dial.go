package pool

import (
	"context"
	"errors"
	"fmt"
	"time"
	"weak"

	"github.com/jackc/puddle/v2"
)

// construct is puddle's constructor: it dials one connection. ctx keeps the
// values of the acquiring caller's context and ends only at Close; the dial
// is bounded by ConnectTimeout on top.
//
// While dials are failing, the gate spaces them by the backoff and lets one
// through at a time; every other caller gets the last failure at once.
func (p *Pool[T]) construct(ctx context.Context) (*entry[T], error) {
	if ctx.Value(noDialKey{}) != nil {
		return nil, errNoDial
	}
	if p.closed.Load() {
		return nil, ErrClosed
	}
	wave, err := p.admitDial()
	if err != nil {
		return nil, err
	}
	p.stats.dials.Add(1)
	dctx, cancel := context.WithTimeout(ctx, p.cfg.ConnectTimeout)
	stop := context.AfterFunc(p.base, cancel) // puddle ends ctx only after Close has waited
	v, err := p.cfg.Dial(dctx)
	stop()
	timedOut := dctx.Err() == context.DeadlineExceeded && ctx.Err() == nil
	cancel()
	if err != nil {
		return nil, p.dialFailed(err, timedOut, wave)
	}

	e := newEntry(v, monotime(), p.cfg.MaxLifetime, p.cfg.LifetimeJitter)
	e.pool, e.self = p, weak.Make(e)
	p.mu.Lock()
	recovered := p.lastFail != nil
	p.gate.Succeed()
	p.outcomes++
	p.lastFail, p.probing, p.lastDialErr = nil, false, ""
	p.entries[e] = struct{}{}
	p.open.Add(1)
	p.mu.Unlock()
	if recovered {
		p.wakeMaintainer()
		p.log.Info("dial succeeded again; the backend is back")
	}
	return e, nil
}

// noDialKey marks the context of Acquire's fast path: puddle's TryAcquire
// may start a background dial with it, which construct refuses.
type noDialKey struct{}

var errNoDial = errors.New("pool: no background dial on the fast path")

// admitDial returns nil when a dial may start now, or the last dial failure
// while the pool backs off or while another dial probes a failing backend.
// It also returns the number of dial outcomes recorded so far, which tells
// dialFailed whether the dial was part of a wave that has already failed.
func (p *Pool[T]) admitDial() (wave uint64, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.gate.Check(time.Now()); err != nil {
		return 0, fmt.Errorf("pool %q: %w", p.cfg.Name, err)
	}
	if p.lastFail != nil {
		if p.probing {
			return 0, fmt.Errorf("pool %q: %w", p.cfg.Name, p.lastFail)
		}
		p.probing = true
	}
	return p.outcomes, nil
}

// dialFailed records a failed dial and returns the error for its caller.
// Dials that were in flight together when the backend went away fail
// together: only the first failure of such a wave moves the backoff on.
func (p *Pool[T]) dialFailed(err error, timedOut bool, wave uint64) error {
	if timedOut {
		err = fmt.Errorf("dial timed out after %v: %w (%w)", p.cfg.ConnectTimeout, err, context.DeadlineExceeded)
	}
	p.stats.dialErrors.Add(1)
	p.mu.Lock()
	p.lastDialErr = err.Error()
	if p.outcomes != wave && p.lastFail != nil {
		be := p.lastFail // this wave already failed
		p.mu.Unlock()
		return fmt.Errorf("pool %q: %w", p.cfg.Name, be)
	}
	be := p.gate.Fail(err, time.Now())
	p.outcomes++
	p.lastFail, p.probing = be, false
	p.mu.Unlock()
	p.wakeMaintainer() // a MinIdle fill waiting for this probe can schedule its retry
	p.log.Warn("dial failed", "failures", be.Failures, "retry_in", be.Delay, "err", err)
	return fmt.Errorf("pool %q: %w", p.cfg.Name, be)
}

// needsPing reports whether e has sat unchecked long enough to be pinged.
func (p *Pool[T]) needsPing(e *entry[T], now int64) bool {
	return p.cfg.Ping != nil && enabled(p.cfg.PingAfterIdle) &&
		now-max(e.lastUsed, e.lastPinged) > int64(p.cfg.PingAfterIdle)
}

// ping runs Config.Ping on e, bounded by ctx, PingTimeout and Close.
func (p *Pool[T]) ping(ctx context.Context, e *entry[T]) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.PingTimeout)
	defer cancel()
	stop := context.AfterFunc(p.base, cancel)
	defer stop()
	if err := p.cfg.Ping(ctx, e.value); err != nil {
		return err
	}
	e.lastPinged = monotime()
	return nil
}

// resetAsync resets a dirty connection on a goroutine of the pool's, then
// makes it idle again, or destroys it if the reset fails, if there is no
// Config.Reset, or if Close has started.
func (p *Pool[T]) resetAsync(res *puddle.Resource[*entry[T]]) {
	p.mu.Lock()
	closing := p.closing
	ok := !closing && p.cfg.Reset != nil
	if ok {
		p.wg.Add(1)
	}
	p.mu.Unlock()
	switch {
	case closing:
		p.destroy(res, reasonClose)
		return
	case !ok:
		p.destroy(res, reasonReset)
		return
	}
	go func() {
		defer p.wg.Done()
		e := res.Value()
		ctx, cancel := context.WithTimeout(p.base, p.cfg.PingTimeout)
		err := p.cfg.Reset(ctx, e.value)
		cancel()
		if err != nil {
			if !errors.Is(err, context.Canceled) {
				p.log.Warn("destroyed a connection whose reset failed", "err", err)
			}
			p.destroy(res, reasonReset)
			return
		}
		p.stats.resets.Add(1)
		e.lastUsed = monotime()
		res.ReleaseUnused()
	}()
}

package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/pool"
)

const (
	borrowers   = 32                     // goroutines borrowing at once
	borrowsEach = 20                     // borrows each, under load
	outage      = 500 * time.Millisecond // how long the backend stays down
	outageEvery = 10 * time.Millisecond  // each borrower's pace while it is down
)

// pool shows a pool.Pool under concurrent borrowers, through a backend crash
// and its restart.
func (d *demo) pool(ctx context.Context) error {
	b, err := startBackend("127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := b.addr()
	d.closeLater("echo backend", func(context.Context) error { return b.kill() }) // b: the current one
	p, err := pool.New(pool.Config[*echoConn]{
		Name:           "echo",
		Dial:           func(ctx context.Context) (*echoConn, error) { return dialEcho(ctx, addr) },
		Close:          func(c *echoConn) error { return c.Close() },
		Ping:           ping,
		MaxSize:        8,
		AcquireTimeout: 2 * time.Second,
		ConnectTimeout: time.Second,
		NewBackOff:     func() backoff.BackOff { return demoBackOff(100*time.Millisecond, 2) },
	})
	if err != nil {
		return err
	}
	d.closeLater("echo pool", p.Close)
	d.track(p)

	d.section(fmt.Sprintf("pool: %d goroutines x %d borrows (pool.With, pool.WithLabel) over TCP to %s", borrowers, borrowsEach, addr))
	t := borrow(ctx, p, borrowsEach, 0)
	if t.ok != borrowers*borrowsEach {
		return fmt.Errorf("under load: %s", t)
	}
	d.say("   %s", t)
	d.say("   %s", formatPool(p.Stats()))

	if err := b.kill(); err != nil {
		return err
	}
	d.say("\n   backend killed: listener and connections closed")
	d.progress(fmt.Sprintf("%d goroutines keep borrowing, one borrow each %v", borrowers, outageEvery), outage)
	before := p.Stats()
	t = borrow(ctx, p, int(outage/outageEvery), outageEvery)
	during := p.Stats()
	d.say("   %s", t)
	d.say("   dials while it was down: %d for %d borrows: after the first failure, one per backoff delay (100ms, 200ms, 400ms...)",
		during.Dials-before.Dials, t.total())
	d.say("   a borrower's error: %v", t.lastErr)

	if b, err = startBackend(addr); err != nil {
		return fmt.Errorf("restart on the same address: %w", err)
	}
	restarted := time.Now()
	wait := time.Duration(0)
	var be *lifecycle.BackoffError
	if err := p.With(ctx, ping); errors.As(err, &be) {
		wait = time.Until(be.RetryAt)
	}
	d.say("\n   backend restarted on %s", addr)
	d.say("   waiting for the pool's backoff: its next dial is due in %v...", wait.Round(10*time.Millisecond))
	if err := poll(ctx, "the pool to recover", func() bool { return p.With(ctx, ping) == nil }); err != nil {
		return err
	}
	d.say("   recovered %v after the restart, by itself: the first borrow after the delay dialed",
		time.Since(restarted).Round(time.Millisecond))
	if t = borrow(ctx, p, borrowsEach, 0); t.ok != borrowers*borrowsEach {
		return fmt.Errorf("after recovery: %s", t)
	}
	d.say("   under load again: %s", t)
	d.say("   %s", formatPool(p.Stats()))
	return nil
}

// ping is a borrow that does one round trip.
func ping(ctx context.Context, c *echoConn) error {
	_, err := c.roundTrip(ctx, "PING")
	return err
}

// tally counts how borrows ended.
type tally struct {
	ok, broken, backoff, other int
	took, slowestFail          time.Duration
	lastErr                    error
}

func (t tally) total() int { return t.ok + t.broken + t.backoff + t.other }

func (t tally) String() string {
	s := fmt.Sprintf("%d borrows in %v: %d ok", t.total(), t.took.Round(time.Millisecond), t.ok)
	if t.broken+t.backoff+t.other > 0 {
		s += fmt.Sprintf(", %d on a dead connection (destroyed), %d failed fast with the backoff error, %d other; slowest failure %v",
			t.broken, t.backoff, t.other, t.slowestFail.Round(100*time.Microsecond))
	}
	return s
}

// borrow runs borrowers goroutines that each borrow n times from p, every
// pace (0: back to back), and counts the outcomes.
func borrow(ctx context.Context, p *pool.Pool[*echoConn], n int, pace time.Duration) tally {
	results := make(chan tally, borrowers)
	start := time.Now()
	for w := range borrowers {
		go func() {
			var t tally
			ctx := pool.WithLabel(ctx, fmt.Sprintf("worker %d", w)) // names the holder in reports
			for i := range n {
				if i > 0 && pace > 0 && !lifecycle.Sleep(ctx, pace) {
					break
				}
				t.count(borrowOnce(ctx, p, fmt.Sprintf("worker %d borrow %d", w, i)))
			}
			results <- t
		}()
	}
	var sum tally
	for range borrowers {
		t := <-results
		sum.ok, sum.broken, sum.backoff, sum.other = sum.ok+t.ok, sum.broken+t.broken, sum.backoff+t.backoff, sum.other+t.other
		sum.slowestFail = max(sum.slowestFail, t.slowestFail)
		if t.lastErr != nil {
			sum.lastErr = t.lastErr
		}
	}
	sum.took = time.Since(start)
	return sum
}

// outcome is one borrow's error and duration.
type outcome struct {
	err  error
	took time.Duration
}

// borrowOnce sends msg through a connection of p and checks the echo.
func borrowOnce(ctx context.Context, p *pool.Pool[*echoConn], msg string) outcome {
	start := time.Now()
	err := p.With(ctx, func(ctx context.Context, c *echoConn) error {
		got, err := c.roundTrip(ctx, msg)
		if err == nil && got != msg {
			err = fmt.Errorf("sent %q, got %q back", msg, got)
		}
		return err
	})
	return outcome{err, time.Since(start)}
}

func (t *tally) count(o outcome) {
	var be *lifecycle.BackoffError
	switch {
	case o.err == nil:
		t.ok++
		return
	case errors.As(o.err, &be):
		t.backoff++
	case pool.IsBroken(o.err):
		t.broken++
	default:
		t.other++
	}
	t.lastErr = o.err
	t.slowestFail = max(t.slowestFail, o.took)
}

// formatPool returns the figures of a pool's stats on one line.
func formatPool(st pool.Stats) string {
	return fmt.Sprintf("stats: open %d, idle %d; acquires %d, waited %d; dials %d, dial errors %d; destroyed %d (broken %d)",
		st.Open, st.Idle, st.Acquires, st.EmptyAcquires, st.Dials, st.DialErrors, st.Destroyed.Total(), st.Destroyed.Broken)
}

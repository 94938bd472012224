package pool

import (
	"context"
	"errors"
	"math"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestLifetimeJitterIsUniform(t *testing.T) {
	t.Parallel()
	const (
		lifetime = time.Hour
		jitter   = 10 * time.Minute
		n        = 20000
		buckets  = 10
	)
	var counts [buckets]int
	for range n {
		e := newEntry(0, 0, lifetime, jitter)
		d := time.Duration(e.expires) - lifetime
		if d < 0 || d >= jitter {
			t.Fatalf("expiry %v after the lifetime, want within [0, %v)", d, jitter)
		}
		counts[int(d*buckets/jitter)]++
	}
	// Chi-square against uniform, 9 degrees of freedom: 27.9 is p = 0.001.
	var chi2 float64
	want := float64(n) / buckets
	for _, c := range counts {
		chi2 += math.Pow(float64(c)-want, 2) / want
	}
	if chi2 > 27.9 {
		t.Errorf("jitter is not uniform: bucket counts %v (chi2 %.1f)", counts, chi2)
	}
	if e := newEntry(0, 5, lifetime, 0); e.expires != 5+int64(lifetime) {
		t.Errorf("no jitter: expires %d, want exactly the lifetime", e.expires)
	}
	if e := newEntry(0, 5, -1, jitter); e.expires != 0 {
		t.Errorf("lifetime off: expires %d, want 0 (never)", e.expires)
	}
}

func TestExpiredConnectionNeverHandedOut(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		cfg := b.config()
		cfg.MaxLifetime = time.Hour
		cfg.MaxIdleTime = -1
		p := newPool(t, cfg)

		c := mustAcquire(t, p)
		first := c.Value()
		time.Sleep(59*time.Minute + 30*time.Second)
		c.Release()
		c = mustAcquire(t, p)
		if c.Value() != first {
			t.Fatal("a connection within its lifetime was replaced")
		}
		time.Sleep(time.Minute) // past the lifetime while borrowed
		if c.Value() != first {
			t.Fatal("a borrowed connection was taken from its borrower")
		}
		c.Release() // retired on release
		synctest.Wait()
		if !first.closed.Load() {
			t.Error("a connection released past its lifetime was not closed")
		}
		c = mustAcquire(t, p)
		defer c.Release()
		if c.Value() == first {
			t.Fatal("a connection past its lifetime was handed out")
		}
		if s := p.Stats(); s.Destroyed.Lifetime != 1 {
			t.Errorf("Destroyed.Lifetime = %d, want 1", s.Destroyed.Lifetime)
		}
	})
}

func TestLifetimeEnforcedOnAcquireAndBySweep(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		cfg := b.config()
		cfg.MaxLifetime = time.Hour
		cfg.MaxIdleTime = -1
		cfg.HealthCheckPeriod = 25 * time.Minute
		p := newPool(t, cfg)

		c := mustAcquire(t, p)
		old := c.Value()
		c.Release()
		time.Sleep(61 * time.Minute) // the sweeps ran at 25m and 50m; the next is at 75m
		c = mustAcquire(t, p)
		if c.Value() == old {
			t.Fatal("Acquire handed out an idle connection past its lifetime")
		}
		c.Release()
		time.Sleep(70 * time.Minute) // past the second one's lifetime (121m), and the sweep at 125m
		synctest.Wait()
		if s := p.Stats(); s.Destroyed.Lifetime != 2 || s.Open != 0 {
			t.Errorf("after the sweep: %+v; want both retired for lifetime", s)
		}
	})
}

// TestLifetimeEnforcedOnRelease releases connections borrowed past their
// lifetime: each is retired on Release, whether the pool's clock was kept
// current by the sweep or, with no sweep, by the borrows of others.
func TestLifetimeEnforcedOnRelease(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name  string
		sweep time.Duration
	}{{"kept by the sweep", time.Minute}, {"kept by other borrows", -1}} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var b backend
				cfg := b.config()
				cfg.MaxLifetime = time.Hour
				cfg.MaxIdleTime = -1
				cfg.HealthCheckPeriod = tt.sweep
				p := newPool(t, cfg)

				long := mustAcquire(t, p)
				old := long.Value()
				for range 120 { // two hours, a borrow of another connection a minute
					time.Sleep(time.Minute)
					c := mustAcquire(t, p)
					c.Destroy() // a new one each time: none of them expires
				}
				long.Release()
				synctest.Wait()
				if !old.closed.Load() {
					t.Fatalf("a connection released an hour past its lifetime was not retired: %+v", p.Stats())
				}
				if s := p.Stats(); s.Destroyed.Lifetime != 1 || s.Idle != 0 {
					t.Errorf("after the release: %d retired for lifetime, %d idle; want 1 and 0", s.Destroyed.Lifetime, s.Idle)
				}
			})
		})
	}
}

func TestMaxIdleTime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		cfg := b.config()
		cfg.MaxIdleTime = 5 * time.Minute
		cfg.HealthCheckPeriod = time.Minute
		p := newPool(t, cfg)

		c1, c2 := mustAcquire(t, p), mustAcquire(t, p)
		c1.Release()
		time.Sleep(4 * time.Minute)
		c2.Release()
		c2 = mustAcquire(t, p) // the one released last: used again at 4m
		if c2.Value() == c1.e.value {
			t.Fatal("got the older idle connection first")
		}
		c2.Release()
		time.Sleep(2*time.Minute + time.Second) // c1 idle 6m, c2 idle 2m
		synctest.Wait()
		if !c1.e.value.closed.Load() || c2.e.value.closed.Load() {
			t.Fatalf("after the sweep: first closed %v, second closed %v; want only the first",
				c1.e.value.closed.Load(), c2.e.value.closed.Load())
		}
		if s := p.Stats(); s.Destroyed.Idle != 1 || s.Idle != 1 {
			t.Errorf("stats: %+v", s)
		}
	})
}

func TestPingOnAcquireAfterIdle(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		cfg := b.config()
		cfg.Ping = b.ping
		cfg.PingAfterIdle = time.Second
		p := newPool(t, cfg)

		c := mustAcquire(t, p)
		first := c.Value()
		c.Release()
		c = mustAcquire(t, p) // idle for no time: no ping
		c.Release()
		if n := b.pings.Load(); n != 0 {
			t.Fatalf("%d pings of a connection that was not idle", n)
		}
		time.Sleep(2 * time.Second)
		c = mustAcquire(t, p)
		if n := b.pings.Load(); n != 1 || c.Value() != first {
			t.Fatalf("after 2s idle: %d pings, same connection %v; want 1 ping and the same connection", n, c.Value() == first)
		}
		c.Release()

		// A borrow longer than PingAfterIdle: idle time counts from the
		// hand-out, so the next Acquire checks the connection first.
		c = mustAcquire(t, p)
		time.Sleep(2 * time.Second)
		c.Release()
		c = mustAcquire(t, p)
		if n := b.pings.Load(); n != 2 {
			t.Fatalf("after a 2s borrow: %d pings, want 2", n)
		}
		c.Release()

		// The backend restarted: the ping fails, and the caller gets a fresh
		// connection without seeing anything.
		b.set(func(b *backend) { b.pingErr = errors.New("EOF") })
		time.Sleep(2 * time.Second)
		c = mustAcquire(t, p)
		defer c.Release()
		if c.Value() == first {
			t.Fatal("a connection that failed its ping was handed out")
		}
		synctest.Wait()
		if s := p.Stats(); s.Destroyed.Ping != 1 || !first.closed.Load() {
			t.Errorf("Destroyed.Ping = %d, closed %v", s.Destroyed.Ping, first.closed.Load())
		}
	})
}

// TestCallerWhoGaveUpCostsNoConnection has callers whose ctx ends before
// or during the ping on acquire: a caller who gave up before the ping
// leaves every idle connection as it was; a ping cut short by the
// caller's deadline costs that one connection (its state is unknown), and
// Acquire stops there instead of pinging the next.
func TestCallerWhoGaveUpCostsNoConnection(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		var slow atomic.Bool
		cfg := b.config()
		cfg.Ping = func(ctx context.Context, c *fconn) error {
			if slow.Load() {
				<-ctx.Done() // a ping that does not come back in time
				return ctx.Err()
			}
			if err := ctx.Err(); err != nil {
				return err // a real ping fails on an ended ctx
			}
			return b.ping(ctx, c)
		}
		cfg.PingAfterIdle = time.Second
		p := newPool(t, cfg)
		openIdle(t, p, 4)
		time.Sleep(2 * time.Second) // all four idle past PingAfterIdle

		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := p.Acquire(ctx); !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire with a cancelled ctx = %v, want context.Canceled", err)
		}
		synctest.Wait()
		if s := p.Stats(); s.Destroyed.Ping != 0 || s.Idle != 4 || s.CanceledAcquires != 1 {
			t.Fatalf("after a cancelled Acquire: %d destroyed by ping, %d idle, %d canceled; want 0, 4, 1", s.Destroyed.Ping, s.Idle, s.CanceledAcquires)
		}

		slow.Store(true)
		ctx, cancel = context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer cancel()
		if _, err := p.Acquire(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Acquire whose deadline ends mid-ping = %v, want context.DeadlineExceeded", err)
		}
		synctest.Wait()
		if s := p.Stats(); s.Destroyed.Ping != 1 || s.Idle != 3 {
			t.Fatalf("after a deadline mid-ping: %d destroyed by ping, %d idle; want 1 and 3", s.Destroyed.Ping, s.Idle)
		}
	})
}

func TestSweepPingsIdleConnections(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		cfg := b.config()
		cfg.Ping = b.ping
		cfg.PingAfterIdle = 30 * time.Second
		cfg.HealthCheckPeriod = time.Minute
		cfg.MaxIdleTime = -1
		p := newPool(t, cfg)

		c1, c2 := mustAcquire(t, p), mustAcquire(t, p)
		c1.Release()
		c2.Release()
		time.Sleep(time.Minute + time.Second)
		synctest.Wait()
		if n := b.pings.Load(); n != 2 {
			t.Fatalf("%d keepalive pings after a sweep, want 2", n)
		}
		b.set(func(b *backend) { b.pingErr = errors.New("connection reset by peer") })
		time.Sleep(time.Minute)
		synctest.Wait()
		if s := p.Stats(); s.Destroyed.Ping != 2 || s.Open != 0 {
			t.Errorf("after a failing sweep: %+v; want both destroyed", s)
		}
		if c1.e.value.closed.Load() != true {
			t.Error("the dead connection was not closed")
		}
	})
}

func TestResetOnlyWhenDirty(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		release := make(chan struct{})
		cfg := b.config()
		cfg.MaxSize = 1
		cfg.Dirty = func(c *fconn) bool { return c.dirty.Load() }
		cfg.Reset = func(ctx context.Context, c *fconn) error {
			<-release
			c.dirty.Store(false)
			c.resets.Add(1)
			return nil
		}
		p := newPool(t, cfg)

		c := mustAcquire(t, p)
		conn := c.Value()
		c.Release() // clean: no reset
		c = mustAcquire(t, p)
		if conn.resets.Load() != 0 {
			t.Fatal("a clean release ran a reset")
		}
		conn.dirty.Store(true) // SET time_zone, as an adapter would track it
		c.Release()            // must return at once, the reset still blocked
		got := make(chan *Conn[*fconn])
		go func() {
			c, _ := p.Acquire(context.Background())
			got <- c
		}()
		synctest.Wait()
		select {
		case <-got:
			t.Fatal("the dirty connection was handed out before its reset finished")
		default:
		}
		close(release)
		c = <-got
		defer c.Release()
		if c.Value() != conn || conn.resets.Load() != 1 || conn.dirty.Load() {
			t.Errorf("after the reset: same conn %v, resets %d, dirty %v", c.Value() == conn, conn.resets.Load(), conn.dirty.Load())
		}
		if s := p.Stats(); s.Resets != 1 {
			t.Errorf("Stats.Resets = %d, want 1", s.Resets)
		}
	})
}

func TestMarkDirtyAndFailedReset(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		cfg := b.config()
		cfg.MaxSize = 1
		fail := false
		cfg.Reset = func(ctx context.Context, c *fconn) error {
			c.resets.Add(1)
			if fail {
				return errors.New("ERR unknown command 'RESET'")
			}
			return nil
		}
		p := newPool(t, cfg)

		c := mustAcquire(t, p)
		conn := c.Value()
		c.MarkDirty()
		c.Release()
		c = mustAcquire(t, p)
		if conn.resets.Load() != 1 || c.Value() != conn {
			t.Fatalf("MarkDirty: resets %d, same conn %v", conn.resets.Load(), c.Value() == conn)
		}
		c.Release() // clean again: the mark was for one borrow
		c = mustAcquire(t, p)
		if conn.resets.Load() != 1 {
			t.Fatal("the dirty mark outlived its borrow")
		}
		fail = true
		c.MarkDirty()
		c.Release()
		c = mustAcquire(t, p)
		defer c.Release()
		if c.Value() == conn || !conn.closed.Load() {
			t.Fatal("a connection whose reset failed was reused")
		}
		if s := p.Stats(); s.Destroyed.Reset != 1 {
			t.Errorf("Destroyed.Reset = %d, want 1", s.Destroyed.Reset)
		}
	})
}

func TestDirtyWithoutResetIsDestroyed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		p := newPool(t, b.config())
		c := mustAcquire(t, p)
		c.MarkDirty()
		c.Release()
		synctest.Wait()
		if s := p.Stats(); s.Destroyed.Reset != 1 || s.Open != 0 {
			t.Errorf("a dirty connection with no Reset: %+v; want it destroyed", s)
		}
	})
}

// TestSweepKeepsTheLastUsedOnTop: the sweep takes every idle connection and
// hands them back; the one used last must still be the next one handed out,
// or a pool with fewer borrowers than connections would cycle through all of
// them after every sweep and none would ever reach MaxIdleTime.
func TestSweepKeepsTheLastUsedOnTop(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		cfg := b.config()
		cfg.HealthCheckPeriod = time.Minute
		p := newPool(t, cfg)

		older, newer := mustAcquire(t, p), mustAcquire(t, p)
		olderValue, newerValue := older.Value(), newer.Value()
		older.Release()
		time.Sleep(time.Second)
		newer.Release()
		time.Sleep(time.Minute + time.Second) // one sweep
		synctest.Wait()
		c := mustAcquire(t, p)
		defer c.Release()
		if got := c.Value(); got != newerValue {
			t.Errorf("after a sweep, Acquire handed out the connection used earlier (%p), not the one used last (%p)", olderValue, newerValue)
		}
	})
}

// TestWithOnEndedCtxCostsNoConnection has callers whose ctx has ended use
// With on a warm pool: handed a connection, fn would fail with ctx's error
// (as a driver does on an ended ctx) and With would destroy the connection
// as broken, so a burst of such callers would empty the pool. Acquire
// refuses them first.
func TestWithOnEndedCtxCostsNoConnection(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		p := newPool(t, b.config())
		openIdle(t, p, 4)
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		for range 8 {
			err := p.With(ctx, func(ctx context.Context, c *fconn) error { return ctx.Err() })
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("With = %v", err)
			}
		}
		synctest.Wait()
		if s := p.Stats(); s.Idle != 4 || s.CanceledAcquires != 8 {
			t.Errorf("after 8 With calls on an ended ctx: %d idle, %d canceled; want 4 and 8", s.Idle, s.CanceledAcquires)
		}
		if s := p.Stats(); s.Destroyed.Total() != 0 {
			t.Errorf("8 With calls on an ended ctx destroyed %d connections (%+v), want 0", s.Destroyed.Total(), s.Destroyed)
		}
	})
}

package pool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
)

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	var b backend
	tests := []struct {
		name string
		give func(*Config[*fconn])
		want string
	}{
		{"no dial", func(c *Config[*fconn]) { c.Dial = nil }, "Config.Dial is required"},
		{"negative max", func(c *Config[*fconn]) { c.MaxSize = -1 }, "Config.MaxSize is negative"},
		{"min idle over max", func(c *Config[*fconn]) { c.MinIdle = 5 }, "Config.MinIdle (5) must be between 0 and MaxSize (4)"},
		{"negative min idle", func(c *Config[*fconn]) { c.MinIdle = -1 }, "Config.MinIdle"},
		{"negative connect timeout", func(c *Config[*fconn]) { c.ConnectTimeout = -1 }, "Config.ConnectTimeout is negative"},
		{"negative acquire timeout", func(c *Config[*fconn]) { c.AcquireTimeout = -1 }, "Config.AcquireTimeout is negative"},
		{"negative jitter", func(c *Config[*fconn]) { c.LifetimeJitter = -1 }, "Config.LifetimeJitter is negative"},
		{"negative ping timeout", func(c *Config[*fconn]) { c.PingTimeout = -1 }, "Config.PingTimeout is negative"},
		{"nil backoff", func(c *Config[*fconn]) { c.NewBackOff = func() backoff.BackOff { return nil } }, "Config.NewBackOff returned nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := b.config()
			tt.give(&cfg)
			p, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				if p != nil {
					p.Close(context.Background())
				}
				t.Fatalf("New = %v; want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestNewKeepsCallerConfig(t *testing.T) {
	t.Parallel()
	var b backend
	cfg := b.config()
	cfg.MaxSize = 0
	p := newPool(t, cfg)
	if cfg.MaxSize != 0 || cfg.Name != "test" || cfg.ConnectTimeout != 0 {
		t.Errorf("New changed the caller's config: %+v", cfg)
	}
	if s := p.Stats(); s.MaxSize < 4 {
		t.Errorf("default MaxSize = %d, want at least 4", s.MaxSize)
	}
}

func TestMaxSizeNeverExceeded(t *testing.T) {
	t.Parallel()
	var b backend
	p := newPool(t, b.config())
	var wg sync.WaitGroup
	var inUse, maxInUse atomic.Int32
	for i := range 100 {
		wg.Go(func() {
			for range 20 {
				err := p.With(testCtx(t), func(ctx context.Context, c *fconn) error {
					n := inUse.Add(1)
					defer inUse.Add(-1)
					for m := maxInUse.Load(); n > m && !maxInUse.CompareAndSwap(m, n); m = maxInUse.Load() {
					}
					if i%7 == 0 {
						time.Sleep(50 * time.Microsecond)
					}
					return nil
				})
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if m := b.maxOpen.Load(); m > 4 || m < 1 {
		t.Errorf("at most %d connections were open at once, want between 1 and 4", m)
	}
	if m := maxInUse.Load(); m > 4 {
		t.Errorf("%d borrowers at once, want at most 4", m)
	}
	s := p.Stats()
	if s.Acquires < 2000 || s.Open > 4 || s.Borrowed != 0 {
		t.Errorf("stats after the storm: %+v", s)
	}
}

// A caller who finds every connection borrowed yields a few times before it
// parks. One served while yielding waited all the same, and counts as an
// empty acquire with its wait, as a parked one does.
func TestBriefWaitCountsAsEmptyAcquire(t *testing.T) {
	t.Parallel()
	p := newPool(t, oneConn(new(backend)))
	openIdle(t, p, 1)
	for i := 0; p.stats.spunAcquires.Load() == 0; i++ {
		if i == 1000 {
			t.Fatal("in 1000 tries, no caller was served while yielding: every one parked")
		}
		c := mustAcquire(t, p)
		before, spun := p.Stats(), p.stats.spunAcquires.Load()
		go c.Release() // runnable while the next Acquire yields
		c2 := mustAcquire(t, p)
		c2.Release()
		after := p.Stats()
		if p.stats.spunAcquires.Load() == spun {
			continue // it found the connection idle, or parked
		}
		if n := after.EmptyAcquires - before.EmptyAcquires; n != 1 {
			t.Errorf("a caller served while yielding added %d empty acquires, want 1", n)
		}
		if after.AcquireWait <= before.AcquireWait {
			t.Errorf("a caller served while yielding added no acquire wait (%v, then %v)", before.AcquireWait, after.AcquireWait)
		}
	}
}

// Yielding never takes a connection from a caller who parked first:
// puddle's semaphore serves parked callers in order. The connection comes
// back at moments from before the newcomer starts to after it parks.
func TestParkedCallerServedBeforeNewcomer(t *testing.T) {
	t.Parallel()
	p := newPool(t, oneConn(new(backend)))
	for round := range 20 {
		held := mustAcquire(t, p)
		got := make(chan string, 2)
		go borrowInTurn(t, p, got, "parked")
		waitFor(t, "the first caller to park", func() bool { return p.Stats().Waiting == 1 })
		time.Sleep(5 * time.Millisecond) // from the Waiting count into puddle's queue
		go borrowInTurn(t, p, got, "newcomer")
		for start := time.Now(); time.Since(start) < time.Duration(round)*time.Microsecond; {
			// the newcomer checks, yields or parks meanwhile
		}
		held.Release()
		if first, second := <-got, <-got; first != "parked" || second != "newcomer" {
			t.Fatalf("round %d: served %s, then %s; want the parked caller first", round, first, second)
		}
	}
}

// borrowInTurn borrows from p, sends who on got once served, and gives the
// connection back after holding it long enough for another caller to park.
func borrowInTurn(t *testing.T, p *Pool[*fconn], got chan<- string, who string) {
	c, err := p.Acquire(testCtx(t))
	got <- who
	if err != nil {
		t.Error(err)
		return
	}
	time.Sleep(time.Millisecond)
	c.Release()
}

// A caller whose ctx ends while it yields gets nothing, as one whose ctx
// ended before Acquire: handed a connection, it would fail on it, and With
// would destroy it.
func TestCanceledWhileYieldingGetsNothing(t *testing.T) {
	t.Parallel()
	p := newPool(t, oneConn(new(backend)))
	openIdle(t, p, 1)
	got := 0
	for range 500 {
		c := mustAcquire(t, p)
		ctx, cancel := context.WithCancel(context.Background())
		go func() { cancel(); c.Release() }() // ctx ends before the release
		if c2, err := p.Acquire(ctx); err == nil {
			got++
			c2.Release()
		} else if !errors.Is(err, context.Canceled) {
			t.Fatalf("Acquire = %v, want context.Canceled", err)
		}
		cancel()
	}
	// A caller whose ctx ends between Acquire's first look at it and its
	// first try may get the connection, rightly: a rare few. A caller who
	// yields unaware of its ctx gets nearly every one.
	if got > 5 {
		t.Errorf("%d of 500 callers whose ctx ended before the release got a connection", got)
	}
}

func TestCallerCancelMidDialLeavesConnIdle(t *testing.T) {
	t.Parallel()
	var b backend
	hold := make(chan struct{})
	b.hold = hold
	p := newPool(t, b.config())

	ctx, cancel := context.WithCancel(testCtx(t))
	errc := make(chan error)
	go func() {
		_, err := p.Acquire(ctx)
		errc <- err
	}()
	waitFor(t, "the dial to start", func() bool { return b.dials.Load() == 1 })
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("Acquire after cancel = %v, want context.Canceled", err)
	}
	b.set(func(b *backend) { b.hold = nil })
	close(hold)
	waitFor(t, "the dialed connection to go idle", func() bool { return p.Stats().Idle == 1 })

	c := mustAcquire(t, p)
	defer c.Release()
	if n := b.dials.Load(); n != 1 || c.Value().id != 1 {
		t.Errorf("next caller got connection %d after %d dials; want the first dial's", c.Value().id, n)
	}
}

func TestHangingDialAbandonedAtConnectTimeout(t *testing.T) {
	t.Parallel()
	var b backend
	b.hang = true
	cfg := b.config()
	cfg.ConnectTimeout = 50 * time.Millisecond
	p := newPool(t, cfg)
	start := time.Now()
	_, err := p.Acquire(testCtx(t))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "dial timed out after 50ms") {
		t.Fatalf("Acquire = %v; want a dial timeout", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("the hanging dial held Acquire for %v", took)
	}
	s := p.Stats()
	if s.Constructing != 0 || s.Open != 0 || s.DialErrors != 1 {
		t.Errorf("after the abandoned dial: %+v; want the slot freed and one dial error", s)
	}
}

func TestAcquireTimeoutCarriesStats(t *testing.T) {
	t.Parallel()
	var b backend
	cfg := b.config()
	cfg.MaxSize = 2
	cfg.Name = "orders-db"
	cfg.AcquireTimeout = 30 * time.Millisecond
	p := newPool(t, cfg)
	c1, c2 := mustAcquire(t, p), mustAcquire(t, p)
	defer c1.Release()
	defer c2.Release()

	_, err := p.Acquire(testCtx(t))
	var ae *AcquireError
	if !errors.As(err, &ae) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Acquire on a full pool = %v; want an *AcquireError matching DeadlineExceeded", err)
	}
	for _, want := range []string{`pool "orders-db"`, "max 2", "open 2", "idle 0", "borrowed 2", "waiting 1", "last dial error: none"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if s := p.Stats(); s.Timeouts != 1 || s.Waiting != 0 {
		t.Errorf("Timeouts = %d, Waiting = %d; want 1, 0", s.Timeouts, s.Waiting)
	}
}

func TestTryAcquire(t *testing.T) {
	t.Parallel()
	var b backend
	cfg := b.config()
	cfg.MaxSize = 1
	p := newPool(t, cfg)
	if _, err := p.TryAcquire(testCtx(t)); !errors.Is(err, ErrNotAvailable) {
		t.Fatalf("TryAcquire on an empty pool = %v, want ErrNotAvailable", err)
	}
	waitFor(t, "the background dial", func() bool { return p.Stats().Idle == 1 })
	c, err := p.TryAcquire(testCtx(t))
	if err != nil {
		t.Fatalf("TryAcquire with an idle connection = %v", err)
	}
	if _, err := p.TryAcquire(testCtx(t)); !errors.Is(err, ErrNotAvailable) {
		t.Errorf("TryAcquire on a full pool = %v, want ErrNotAvailable", err)
	}
	c.Release()
	if n := b.dials.Load(); n != 1 {
		t.Errorf("%d dials, want 1", n)
	}
}

func TestReleaseAndDestroyAreIdempotent(t *testing.T) {
	t.Parallel()
	var b backend
	cfg := b.config()
	cfg.MaxSize = 1
	p := newPool(t, cfg)

	c1 := mustAcquire(t, p)
	c1.Release()
	c2 := mustAcquire(t, p) // the same connection, a new handle
	if c2 == c1 || c2.Value() != c1.e.value {
		t.Fatalf("second borrow: handle %p (first %p)", c2, c1)
	}
	c1.Release() // a late, deferred Release of the first borrow
	c1.Destroy()
	if s := p.Stats(); s.Borrowed != 1 || s.Idle != 0 {
		t.Fatalf("a stale Release/Destroy changed the second borrow: %+v", s)
	}
	c2.Destroy()
	c2.Release()
	c2.Destroy()
	waitFor(t, "the destroy", func() bool { return b.closes.Load() == 1 })
	if s := p.Stats(); s.Destroyed.Broken != 1 || s.Open != 0 {
		t.Errorf("after Destroy: %+v", s)
	}
}

func TestValueAfterReleasePanics(t *testing.T) {
	t.Parallel()
	var b backend
	p := newPool(t, b.config())
	c := mustAcquire(t, p)
	c.Release()
	defer func() {
		if r := recover(); r != "pool: Conn.Value called after the borrow ended (Release, Destroy, or the pool's Close)" {
			t.Errorf("panic = %v", r)
		}
	}()
	c.Value()
}

func TestWith(t *testing.T) {
	t.Parallel()
	errApp := errors.New("no such user")
	tests := []struct {
		name        string
		give        func(ctx context.Context, c *fconn) error
		wantDestroy bool
	}{
		{"nil releases", func(context.Context, *fconn) error { return nil }, false},
		{"ordinary error releases", func(context.Context, *fconn) error { return errApp }, false},
		{"broken error destroys", func(context.Context, *fconn) error { return fmt.Errorf("read: %w", ErrBroken) }, true},
		{"context error destroys", func(context.Context, *fconn) error { return context.DeadlineExceeded }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var b backend
			p := newPool(t, b.config())
			_ = p.With(testCtx(t), tt.give)
			waitFor(t, "the conn to be given back", func() bool { s := p.Stats(); return s.Borrowed == 0 && s.Open == s.Idle })
			if got := p.Stats().Destroyed.Broken == 1; got != tt.wantDestroy {
				t.Errorf("destroyed = %v, want %v", got, tt.wantDestroy)
			}
		})
	}
	t.Run("panic destroys and goes on", func(t *testing.T) {
		t.Parallel()
		var b backend
		p := newPool(t, b.config())
		func() {
			defer func() {
				if r := recover(); r != "boom" {
					t.Errorf("recovered %v, want the panic to go on", r)
				}
			}()
			_ = p.With(testCtx(t), func(context.Context, *fconn) error { panic("boom") })
		}()
		waitFor(t, "the destroy", func() bool { return p.Stats().Destroyed.Broken == 1 })
		if s := p.Stats(); s.Borrowed != 0 {
			t.Errorf("Borrowed = %d after a panic in With", s.Borrowed)
		}
	})
}

func TestIsBroken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give error
		want bool
	}{
		{nil, false},
		{errors.New("WRONGTYPE Operation against a key"), false},
		{fmt.Errorf("x: %w", ErrBroken), true},
		{fmt.Errorf("read: %w", net.ErrClosed), true},
		{io.EOF, true},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, true},
		{syscall.ECONNRESET, true},
		{context.Canceled, false},
	}
	for _, tt := range tests {
		if got := IsBroken(tt.give); got != tt.want {
			t.Errorf("IsBroken(%v) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

package pool

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/connkit/connkit/lifecycle"
)

func exactBackOff() backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0),
		backoff.WithMaxElapsedTime(0),
	)
}

// TestDialsFollowBackoffWhileDown hammers a pool whose backend is down from
// 64 goroutines: the dials must follow the backoff schedule, one at a time,
// not one per caller, and every caller must get the dial error fast.
func TestDialsFollowBackoffWhileDown(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		b.down = errRefused
		cfg := b.config()
		cfg.NewBackOff = exactBackOff
		p := newPool(t, cfg)

		start := time.Now()
		var wg sync.WaitGroup
		var mu sync.Mutex
		var slowest time.Duration
		var wrongErr error
		for range 64 {
			wg.Go(func() {
				for time.Since(start) < 2*time.Second {
					t0 := time.Now()
					_, err := p.Acquire(context.Background())
					mu.Lock()
					slowest = max(slowest, time.Since(t0))
					var be *lifecycle.BackoffError
					if !errors.Is(err, errRefused) || !errors.As(err, &be) {
						wrongErr = err
					}
					mu.Unlock()
					time.Sleep(10 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		if wrongErr != nil {
			t.Errorf("a caller got %v; want the dial error wrapped in a *lifecycle.BackoffError", wrongErr)
		}
		if slowest != 0 {
			t.Errorf("a caller waited %v for a failing backend; want the error at once", slowest)
		}
		// At first, before any dial has failed, the pool may dial up to
		// MaxSize at once, as a cold pool under load should. From the first
		// failure on, dials are 100, 200, 400, 800 ms apart (each made by the
		// first caller after the delay: the callers poll every 10ms).
		b.mu.Lock()
		var at []string
		first := 0
		for _, d := range b.dialAt {
			if d.Equal(start) {
				first++
				continue
			}
			at = append(at, d.Sub(start).String())
		}
		b.mu.Unlock()
		if first < 1 || first > cfg.MaxSize {
			t.Errorf("%d dials at the start, want between 1 and MaxSize %d", first, cfg.MaxSize)
		}
		if got, want := strings.Join(at, " "), "100ms 300ms 700ms 1.5s"; got != want {
			t.Errorf("dials after the first failure at %s, want %s", got, want)
		}

		// The backend comes back: the next dial after the delay succeeds,
		// and the pool serves again.
		b.set(func(b *backend) { b.down = nil })
		time.Sleep(1600 * time.Millisecond)
		c, err := p.Acquire(context.Background())
		if err != nil {
			t.Fatalf("Acquire after the backend came back = %v", err)
		}
		c.Release()
		s := p.Stats()
		if s.Dials != int64(first)+5 || s.DialErrors != int64(first)+4 || s.LastDialError != "" {
			t.Errorf("stats after recovery: %+v", s)
		}
	})
}

func TestOneProbeDialAtATime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		b.down = errRefused
		cfg := b.config()
		cfg.NewBackOff = exactBackOff
		p := newPool(t, cfg)

		if _, err := p.Acquire(context.Background()); !errors.Is(err, errRefused) {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond) // the backoff has passed
		hold := make(chan struct{})
		b.set(func(b *backend) { b.hold = hold })
		probe := make(chan error)
		go func() {
			_, err := p.Acquire(context.Background())
			probe <- err
		}()
		synctest.Wait() // the probe dial is in flight
		for range 10 {
			if _, err := p.Acquire(context.Background()); !errors.Is(err, errRefused) {
				t.Fatalf("Acquire during the probe = %v, want the last failure at once", err)
			}
		}
		if n := b.dials.Load(); n != 2 {
			t.Errorf("%d dials, want 2: callers during a probe must not dial", n)
		}
		close(hold)
		if err := <-probe; !errors.Is(err, errRefused) {
			t.Errorf("probe = %v", err)
		}
	})
}

func TestRecoverWithoutCallerSeeingDeadConnection(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		cfg := b.config()
		cfg.Ping = b.ping
		cfg.PingAfterIdle = time.Second
		p := newPool(t, cfg)
		openIdle(t, p, 4)
		// The backend restarts: every idle connection is dead.
		b.set(func(b *backend) { b.gen++ })
		time.Sleep(5 * time.Second)
		var live []*Conn[*fconn]
		for range 4 {
			c := mustAcquire(t, p)
			if c.Value().id <= 4 {
				t.Fatalf("handed out dead connection %d", c.Value().id)
			}
			live = append(live, c)
		}
		for _, c := range live {
			c.Release()
		}
		if s := p.Stats(); s.Destroyed.Ping != 4 {
			t.Errorf("Destroyed.Ping = %d, want 4", s.Destroyed.Ping)
		}
	})
}

func TestMinIdle(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		hold := make(chan struct{})
		b.hold = hold
		cfg := b.config()
		cfg.MinIdle = 2
		cfg.MaxSize = 3
		p := newPool(t, cfg) // must not block on the held dials
		synctest.Wait()
		if s := p.Stats(); s.Constructing == 0 {
			t.Fatalf("New did not start warming the pool: %+v", s)
		}
		b.set(func(b *backend) { b.hold = nil })
		close(hold)
		synctest.Wait()
		if s := p.Stats(); s.Idle != 2 || b.dials.Load() != 2 {
			t.Fatalf("warm pool: %+v after %d dials; want 2 idle", s, b.dials.Load())
		}

		// Borrow all three: the pool cannot refill beyond MaxSize.
		var cs []*Conn[*fconn]
		for range 3 {
			cs = append(cs, mustAcquire(t, p))
		}
		synctest.Wait()
		if s := p.Stats(); s.Open != 3 {
			t.Fatalf("Open = %d, want MaxSize 3", s.Open)
		}
		cs[0].Destroy()
		cs[1].Destroy()
		synctest.Wait()
		if s := p.Stats(); s.Idle != 2 || s.Open != 3 {
			t.Errorf("after two destroys: %+v; want refilled to 2 idle within MaxSize 3", s)
		}
		cs[2].Release()
	})
}

func TestMinIdleWaitsOutDialBackoff(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		b.down = errRefused
		cfg := b.config()
		cfg.MinIdle = 1
		cfg.NewBackOff = exactBackOff
		p := newPool(t, cfg)
		time.Sleep(time.Second) // dials at 0, 100, 300, 700ms
		synctest.Wait()
		if n := b.dials.Load(); n != 4 {
			t.Errorf("%d warm-up dials in 1s against a dead backend, want 4 (the backoff schedule)", n)
		}
		b.set(func(b *backend) { b.down = nil })
		time.Sleep(time.Second)
		synctest.Wait()
		if s := p.Stats(); s.Idle != 1 {
			t.Errorf("after the backend came back: %+v; want the warm connection", s)
		}
	})
}

func TestCloseWakesWaitersAndRejectsAcquire(t *testing.T) {
	t.Parallel()
	var b backend
	cfg := b.config()
	cfg.MaxSize = 1
	p := mustNew(t, cfg)
	c := mustAcquire(t, p)
	waiter := make(chan error)
	go func() {
		_, err := p.Acquire(context.Background())
		waiter <- err
	}()
	waitFor(t, "the waiter", func() bool { return p.Stats().Waiting == 1 })
	closed := make(chan error)
	go func() { closed <- p.Close(context.Background()) }()
	select {
	case err := <-waiter:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("waiter got %v, want ErrClosed", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not wake the waiter")
	}
	if _, err := p.Acquire(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close = %v, want ErrClosed", err)
	}
	if _, err := p.TryAcquire(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("TryAcquire after Close = %v, want ErrClosed", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned %v while a connection was borrowed and ctx had not ended", err)
	case <-time.After(20 * time.Millisecond):
	}
	c.Release()
	if err := <-closed; err != nil {
		t.Errorf("Close = %v after the borrow came back", err)
	}
	if b.open.Load() != 0 {
		t.Errorf("%d connections still open after Close", b.open.Load())
	}
	if err := p.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestCloseNamesHoldersAtDeadline(t *testing.T) {
	t.Parallel()
	var b backend
	cfg := b.config()
	cfg.Name = "users-db"
	p := mustNew(t, cfg)
	leaked, err := p.Acquire(WithLabel(context.Background(), "GET /users/{id}"))
	if err != nil {
		t.Fatal(err)
	}
	unlabeled := mustAcquire(t, p)
	returned := mustAcquire(t, p)
	returned.Release()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	closed := make(chan error)
	go func() { closed <- p.Close(ctx) }()
	select {
	case err = <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close hung past its deadline with connections borrowed")
	}
	for _, want := range []string{
		`pool "users-db": closed with 2 connection(s) still borrowed`,
		`pool "users-db" borrow 1 by "GET /users/{id}", held `,
		`pool "users-db" borrow 2 (no label), held `,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Close error %q lacks %q", err, want)
		}
	}
	if b.open.Load() != 0 {
		t.Errorf("%d connections open after Close", b.open.Load())
	}
	leaked.Release() // late: must do nothing
	unlabeled.Destroy()
	func() {
		defer func() {
			want := "pool: Conn.Value called after the borrow ended (Release, Destroy, or the pool's Close)"
			if r := recover(); r != want {
				t.Errorf("Value after Close destroyed it: panic %v", r)
			}
		}()
		leaked.Value()
	}()
	if s := p.Stats(); s.Destroyed.Close != 3 {
		t.Errorf("Destroyed.Close = %d, want 3", s.Destroyed.Close)
	}
}

func TestCloseCancelsDials(t *testing.T) {
	t.Parallel()
	var b backend
	b.hang = true
	p := mustNew(t, b.config())
	errc := make(chan error)
	go func() {
		_, err := p.Acquire(context.Background())
		errc <- err
	}()
	waitFor(t, "the dial", func() bool { return b.dials.Load() == 1 })
	if err := p.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; err == nil {
		t.Error("Acquire succeeded across Close")
	}
}

// TestConcurrentDialFailuresCountOnce has three dials in flight when the
// backend turns out to be down: their failures are one failure of the
// backend, so the backoff moves on once, not three times.
func TestConcurrentDialFailuresCountOnce(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		hold := make(chan struct{})
		b.hold, b.down = hold, errRefused
		cfg := b.config()
		cfg.NewBackOff = exactBackOff
		p := newPool(t, cfg)

		errs := make(chan error, 3)
		for range 3 {
			go func() {
				_, err := p.Acquire(context.Background())
				errs <- err
			}()
		}
		synctest.Wait()
		if n := b.dials.Load(); n != 3 {
			t.Fatalf("%d dials in flight, want 3", n)
		}
		b.set(func(b *backend) { b.hold = nil })
		close(hold)
		for range 3 {
			var be *lifecycle.BackoffError
			if err := <-errs; !errors.As(err, &be) || be.Failures != 1 || be.Delay != 100*time.Millisecond {
				t.Errorf("Acquire = %v; want the first failure, retried after 100ms", err)
			}
		}
		time.Sleep(100 * time.Millisecond)
		if _, err := p.Acquire(context.Background()); !errors.Is(err, errRefused) {
			t.Fatal(err)
		}
		if n := b.dials.Load(); n != 4 {
			t.Errorf("%d dials, want the 4th 100ms after the wave failed", n)
		}
	})
}

// TestCloseUnderLoad closes a pool while 32 goroutines borrow and return
// from it: every Acquire either succeeds or gets ErrClosed, every borrow is
// given back, and nothing stays open.
func TestCloseUnderLoad(t *testing.T) {
	t.Parallel()
	for range 20 {
		var b backend
		cfg := b.config()
		cfg.MaxSize = 3
		cfg.Dirty = func(c *fconn) bool { return c.id%2 == 0 }
		cfg.Reset = func(context.Context, *fconn) error { return nil }
		p := mustNew(t, cfg)
		var wg sync.WaitGroup
		for range 32 {
			wg.Go(func() {
				for {
					c, err := p.Acquire(context.Background())
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("Acquire = %v, want success or ErrClosed", err)
						return
					}
					c.Release()
				}
			})
		}
		waitFor(t, "some traffic", func() bool { return p.Stats().Acquires > 100 })
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close under load = %v", err)
		}
		cancel()
		wg.Wait()
		if n := b.open.Load(); n != 0 {
			t.Fatalf("%d connections open after Close", n)
		}
	}
}

// TestCloseWaitsForDetachedCloses gives back, during Close, a connection
// whose Close is slow: Close must not return before it has finished.
func TestCloseWaitsForDetachedCloses(t *testing.T) {
	t.Parallel()
	var b backend
	var closes atomic.Int32
	cfg := b.config()
	cfg.Close = func(c *fconn) error {
		if c.id == 1 {
			time.Sleep(100 * time.Millisecond)
		}
		closes.Add(1)
		return b.close(c)
	}
	p := mustNew(t, cfg)
	c1, c2 := mustAcquire(t, p), mustAcquire(t, p)
	closed := make(chan error)
	go func() { closed <- p.Close(context.Background()) }()
	waitFor(t, "Close to start", func() bool { return p.closed.Load() })
	go c1.Release() // closes connection 1, slowly, on this goroutine
	waitFor(t, "the first borrow to end", func() bool { return p.Stats().Borrowed == 1 })
	c2.Release()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	if n := closes.Load(); n != 2 {
		t.Errorf("Close returned with %d of 2 connection closes done", n)
	}
}

// TestCloseEndsDialsAtOnce has a caller whose dial is in flight when Close
// starts, while another connection is still borrowed: the dial must end at
// once, not when the borrow comes back.
func TestCloseEndsDialsAtOnce(t *testing.T) {
	t.Parallel()
	var b backend
	p := mustNew(t, b.config())
	held := mustAcquire(t, p)
	b.set(func(b *backend) { b.hold = make(chan struct{}) }) // the next dial hangs until its ctx ends
	dialing := make(chan error)
	go func() {
		_, err := p.Acquire(context.Background())
		dialing <- err
	}()
	waitFor(t, "the second dial", func() bool { return b.dials.Load() == 2 })
	closed := make(chan error)
	go func() { closed <- p.Close(context.Background()) }()
	select {
	case err := <-dialing:
		if err == nil {
			t.Error("Acquire succeeded across Close")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not end the dial in flight while a borrow was out")
	}
	held.Release()
	if err := <-closed; err != nil {
		t.Error(err)
	}
}

// TestSecondCloseKeepsItsContext: a Close while the first still waits for
// a borrowed connection returns when its own ctx ends.
func TestSecondCloseKeepsItsContext(t *testing.T) {
	t.Parallel()
	var b backend
	p := mustNew(t, b.config())
	held := mustAcquire(t, p)
	first := make(chan error, 1)
	go func() { first <- p.Close(context.Background()) }() // waits for held
	waitFor(t, "the first Close", func() bool { return p.closed.Load() })
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Close(ctx) }()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("second Close = %v, want DeadlineExceeded", err)
		}
	case <-time.After(5 * time.Second):
		t.Error("second Close hung past its ctx")
	}
	held.Release()
	if err := <-first; err != nil {
		t.Errorf("first Close = %v", err)
	}
}

// TestAcquireTimeoutBoundsPingsOnTheFastPath: idle connections past
// PingAfterIdle are pinged before they are handed out; against a backend
// that stopped answering, each ping would take PingTimeout. AcquireTimeout
// bounds the whole Acquire, those pings included: 4 idle connections with
// a PingTimeout of 500ms took 2s before.
func TestAcquireTimeoutBoundsPingsOnTheFastPath(t *testing.T) {
	t.Parallel()
	var b backend
	cfg := b.config()
	cfg.AcquireTimeout = 100 * time.Millisecond
	cfg.PingTimeout = 500 * time.Millisecond
	cfg.PingAfterIdle = time.Millisecond
	var blackhole atomic.Bool
	cfg.Ping = func(ctx context.Context, c *fconn) error {
		if blackhole.Load() {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	p := mustNew(t, cfg)
	var held []*Conn[*fconn]
	for range 4 {
		held = append(held, mustAcquire(t, p))
	}
	for _, c := range held {
		c.Release()
	}
	time.Sleep(5 * time.Millisecond) // past PingAfterIdle
	blackhole.Store(true)
	start := time.Now()
	c, err := p.Acquire(context.Background())
	took := time.Since(start)
	if c != nil {
		c.Release()
		t.Fatal("Acquire handed out a connection whose ping could not succeed")
	}
	var ae *AcquireError
	if !errors.As(err, &ae) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Acquire = %v, want an AcquireError for DeadlineExceeded", err)
	}
	if took > 450*time.Millisecond {
		t.Errorf("Acquire with AcquireTimeout 100ms took %v", took)
	}
}

package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/cenkalti/backoff/v4"
)

func TestNewGuardRejectsBadConfig(t *testing.T) {
	t.Parallel()
	connect := func(context.Context) (*conn, error) { return &conn{}, nil }
	tests := []struct {
		name string
		give GuardConfig[*conn]
		want string
	}{
		{"no connect", GuardConfig[*conn]{}, "GuardConfig.Connect is required"},
		{"negative timeout", GuardConfig[*conn]{Connect: connect, ConnectTimeout: -time.Second}, "ConnectTimeout is negative"},
		{"nil backoff", GuardConfig[*conn]{Connect: connect, NewBackOff: func() backoff.BackOff { return nil }}, "NewBackOff returned nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := NewGuard(tt.give)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewGuard = %v, %v; want an error containing %q", g, err, tt.want)
			}
		})
	}
}

func TestGetSingleFlight(t *testing.T) {
	t.Parallel()
	var connects atomic.Int32
	release := make(chan struct{})
	g, err := NewGuard(GuardConfig[*conn]{
		Connect: func(ctx context.Context) (*conn, error) {
			n := connects.Add(1)
			<-release
			return &conn{id: int(n)}, nil
		},
		Close: (*conn).close,
	})
	if err != nil {
		t.Fatal(err)
	}
	closeGuard(t, g)

	const callers = 200
	ctx := testCtx(t)
	got := make([]*conn, callers)
	errs := make([]error, callers)
	var wg sync.WaitGroup
	for i := range callers {
		wg.Go(func() { got[i], errs[i] = g.Get(ctx) })
	}
	waitFor(t, "the connect to start", func() bool { return g.State() == StateConnecting })
	close(release)
	wg.Wait()

	if n := connects.Load(); n != 1 {
		t.Errorf("%d connects ran, want 1", n)
	}
	for i := range callers {
		if errs[i] != nil || got[i] != got[0] || got[0] == nil {
			t.Fatalf("caller %d got %v, %v; want the one connection %v", i, got[i], errs[i], got[0])
		}
	}
	if s := g.State(); s != StateConnected {
		t.Errorf("State = %v, want connected", s)
	}
}

func TestCallerCancelDoesNotCancelConnect(t *testing.T) {
	t.Parallel()
	type key struct{}
	started := make(chan struct{})
	release := make(chan struct{})
	var connectErr, connectVal atomic.Value
	g, err := NewGuard(GuardConfig[*conn]{
		Connect: func(ctx context.Context) (*conn, error) {
			close(started)
			<-release
			connectErr.Store(fmt.Sprint(ctx.Err()))
			connectVal.Store(fmt.Sprint(ctx.Value(key{})))
			return &conn{id: 1}, nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	closeGuard(t, g)

	first, cancel := context.WithCancel(context.WithValue(testCtx(t), key{}, "request-42"))
	firstErr := make(chan error, 1)
	go func() {
		_, err := g.Get(first)
		firstErr <- err
	}()
	<-started
	other := make(chan *conn, 1)
	go func() {
		c, _ := g.Get(testCtx(t))
		other <- c
	}()
	cancel()
	if err := <-firstErr; !errors.Is(err, context.Canceled) {
		t.Fatalf("first caller: err = %v, want context.Canceled", err)
	}
	close(release)
	if c := <-other; c == nil || c.id != 1 {
		t.Fatalf("other caller got %v, want the connection", c)
	}
	if got := connectErr.Load(); got != "<nil>" {
		t.Errorf("connect's ctx ended with %v; the first caller's cancel must not reach it", got)
	}
	if got := connectVal.Load(); got != "request-42" {
		t.Errorf("connect's ctx value = %v, want the starting caller's value", got)
	}
	// The connection stays for the next caller.
	if c, err := g.Get(testCtx(t)); err != nil || c.id != 1 {
		t.Errorf("next Get = %v, %v; want the same connection", c, err)
	}
}

func TestConnectTimeout(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var returned atomic.Bool
		g, err := NewGuard(GuardConfig[*conn]{
			Connect: func(ctx context.Context) (*conn, error) {
				<-ctx.Done() // a dial to a blackholed address
				returned.Store(true)
				return nil, fmt.Errorf("dial: %w", ctx.Err())
			},
			ConnectTimeout: 3 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		_, err = g.Get(context.Background())
		if waited := time.Since(start); waited != 3*time.Second {
			t.Errorf("Get returned after %v, want the ConnectTimeout of 3s", waited)
		}
		var be *BackoffError
		if !errors.As(err, &be) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Get error = %v; want a *BackoffError matching context.DeadlineExceeded", err)
		}
		if !strings.Contains(err.Error(), "connect timed out after 3s") {
			t.Errorf("error %q does not say the connect timed out", err)
		}
		synctest.Wait()
		if !returned.Load() {
			t.Error("the connect goroutine is still running after its timeout")
		}
		if err := g.Close(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestTimeoutKeepsConnectError(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		dialErr := errors.New("dial tcp 192.0.2.1:6379: i/o timeout")
		g, _ := NewGuard(GuardConfig[*conn]{
			Connect: func(ctx context.Context) (*conn, error) {
				<-ctx.Done()
				return nil, dialErr
			},
			ConnectTimeout: time.Second,
		})
		defer g.Close()
		_, err := g.Get(context.Background())
		if !errors.Is(err, dialErr) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want it to match both the dial error and context.DeadlineExceeded", err)
		}
	})
}

func TestInvalidate(t *testing.T) {
	t.Parallel()
	var n atomic.Int32
	g, err := NewGuard(GuardConfig[*conn]{
		Connect: func(context.Context) (*conn, error) { return &conn{id: int(n.Add(1))}, nil },
		Close:   (*conn).close,
	})
	if err != nil {
		t.Fatal(err)
	}
	closeGuard(t, g)
	ctx := testCtx(t)

	c1, _ := g.Get(ctx)
	if !g.Invalidate(c1) {
		t.Fatal("Invalidate(current) = false")
	}
	if c1.closes.Load() != 1 {
		t.Fatalf("invalidated connection closed %d times, want 1", c1.closes.Load())
	}
	if s := g.State(); s != StateIdle {
		t.Errorf("State after Invalidate = %v, want idle", s)
	}
	c2, err := g.Get(ctx)
	if err != nil || c2 == c1 || c2.id != 2 {
		t.Fatalf("Get after Invalidate = %v, %v; want a new connection", c2, err)
	}
	// A stale Invalidate (c1 again, as a slow goroutine might) touches nothing.
	if g.Invalidate(c1) {
		t.Error("Invalidate(stale) = true")
	}
	if c1.closes.Load() != 1 || c2.closes.Load() != 0 {
		t.Errorf("closes after stale Invalidate: old %d, new %d; want 1, 0", c1.closes.Load(), c2.closes.Load())
	}
	if c, _ := g.Get(ctx); c != c2 {
		t.Errorf("Get after stale Invalidate = %v, want %v", c, c2)
	}
	if g.Invalidate(nil) {
		t.Error("Invalidate(nil) = true")
	}
}

// TestBackoffSchedule hammers Get from many goroutines while connects fail,
// and checks that connects start exactly when the backoff allows, never once
// per caller.
func TestBackoffSchedule(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var attempts []time.Duration
		failUntil := 5 // attempts 1..5 fail
		start := time.Now()
		dialErr := errors.New("connection refused")
		g, _ := NewGuard(GuardConfig[*conn]{
			Connect: func(context.Context) (*conn, error) {
				mu.Lock()
				defer mu.Unlock()
				attempts = append(attempts, time.Since(start))
				if len(attempts) <= failUntil {
					return nil, dialErr
				}
				return &conn{id: len(attempts)}, nil
			},
			NewBackOff: exactBackOff,
		})
		defer g.Close()

		hammer := func(until time.Duration) (fastFails int) {
			var wg sync.WaitGroup
			var fails atomic.Int32
			for range 50 {
				wg.Go(func() {
					for time.Since(start) < until {
						_, err := g.Get(context.Background())
						var be *BackoffError
						if errors.As(err, &be) && errors.Is(err, dialErr) {
							fails.Add(1)
						}
						time.Sleep(time.Millisecond)
					}
				})
			}
			wg.Wait()
			return int(fails.Load())
		}
		if hammer(2*time.Second) == 0 {
			t.Error("no caller got the dial error while backing off")
		}
		// 100ms, 200ms, 400ms, 800ms between the five failures, then success.
		want := []time.Duration{0, 100, 300, 700, 1500, 3100}
		hammer(4 * time.Second)
		mu.Lock()
		got := slicesOfMillis(attempts)
		mu.Unlock()
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("connects started at %v ms, want %v ms", got, want)
		}

		// After a success the backoff starts again from its first delay.
		c, _ := g.Get(context.Background())
		mu.Lock()
		failUntil = 100
		mu.Unlock()
		g.Invalidate(c)
		restart := time.Since(start)
		hammer(restart + 250*time.Millisecond)
		mu.Lock()
		got = slicesOfMillis(attempts[len(want):])
		mu.Unlock()
		base := restart.Milliseconds()
		if fmt.Sprint(got) != fmt.Sprint([]time.Duration{time.Duration(base), time.Duration(base + 100)}) {
			t.Errorf("after a reset, connects started at %v ms, want %d and %d", got, base, base+100)
		}
	})
}

// exactBackOff doubles from 100ms with no jitter, so tests can predict it.
func exactBackOff() backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMultiplier(2),
		backoff.WithRandomizationFactor(0),
		backoff.WithMaxElapsedTime(0),
	)
}

func slicesOfMillis(ds []time.Duration) []time.Duration {
	out := make([]time.Duration, len(ds))
	for i, d := range ds {
		out[i] = d / time.Millisecond
	}
	return out
}

func TestBackoffStopIsPermanent(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var connects atomic.Int32
		g, _ := NewGuard(GuardConfig[*conn]{
			Connect: func(context.Context) (*conn, error) {
				connects.Add(1)
				return nil, errors.New("refused")
			},
			NewBackOff: func() backoff.BackOff { return &backoff.StopBackOff{} },
		})
		defer g.Close()
		for range 3 {
			_, err := g.Get(context.Background())
			if err == nil || !strings.Contains(err.Error(), "gave up") {
				t.Fatalf("Get = %v; want the permanent failure", err)
			}
			time.Sleep(time.Hour)
		}
		if n := connects.Load(); n != 1 {
			t.Errorf("%d connects after the policy stopped, want 1", n)
		}
	})
}

func TestCloseDuringConnect(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	var cause atomic.Value
	var finished atomic.Bool
	g, err := NewGuard(GuardConfig[*conn]{
		Connect: func(ctx context.Context) (*conn, error) {
			close(started)
			<-ctx.Done()
			cause.Store(context.Cause(ctx))
			time.Sleep(20 * time.Millisecond) // a dial that takes a moment to unwind
			finished.Store(true)
			return nil, ctx.Err()
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	waiters := make(chan error, 3)
	for range cap(waiters) {
		go func() {
			_, err := g.Get(testCtx(t))
			waiters <- err
		}()
	}
	<-started
	if err := g.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if !finished.Load() {
		t.Error("Close returned before the connect goroutine finished")
	}
	if c, _ := cause.Load().(error); !errors.Is(c, ErrClosed) {
		t.Errorf("connect's context cause = %v, want ErrClosed", c)
	}
	for range cap(waiters) {
		if err := <-waiters; !errors.Is(err, ErrClosed) {
			t.Errorf("waiter got %v, want ErrClosed", err)
		}
	}
	if _, err := g.Get(testCtx(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
	if err := g.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	if s := g.State(); s != StateClosed {
		t.Errorf("State = %v, want closed", s)
	}
}

// TestCloseDiscardsLateConnection covers a Connect that ignores its context
// and succeeds after Close started: the connection must be closed, not kept.
func TestCloseDiscardsLateConnection(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	release := make(chan struct{})
	late := &conn{id: 1}
	g, _ := NewGuard(GuardConfig[*conn]{
		Connect: func(context.Context) (*conn, error) {
			close(started)
			<-release
			return late, nil
		},
		Close: func(c *conn) error {
			c.close()
			return errors.New("already gone")
		},
	})
	go func() { _, _ = g.Get(context.Background()) }()
	<-started
	closed := make(chan error)
	go func() { closed <- g.Close() }()
	waitFor(t, "Close to start", func() bool { return g.State() == StateClosing })
	close(release)
	err := <-closed
	if late.closes.Load() != 1 {
		t.Errorf("late connection closed %d times, want 1", late.closes.Load())
	}
	if err == nil || !strings.Contains(err.Error(), "already gone") {
		t.Errorf("Close = %v; want the late connection's close error", err)
	}
}

func TestCloseClosesCurrent(t *testing.T) {
	t.Parallel()
	c := &conn{}
	g, _ := NewGuard(GuardConfig[*conn]{
		Connect: func(context.Context) (*conn, error) { return c, nil },
		Close:   (*conn).close,
	})
	if _, err := g.Get(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	if c.closes.Load() != 1 {
		t.Errorf("current connection closed %d times, want 1", c.closes.Load())
	}
	if g.Invalidate(c) {
		t.Error("Invalidate after Close = true")
	}
}

func TestOnStateChange(t *testing.T) {
	t.Parallel()
	var (
		mu      sync.Mutex
		seen    []string
		inside  atomic.Int32
		overlap atomic.Bool
		g       *Guard[*conn]
	)
	fail := true
	g, _ = NewGuard(GuardConfig[*conn]{
		Connect: func(context.Context) (*conn, error) {
			mu.Lock()
			defer mu.Unlock()
			if fail {
				fail = false
				return nil, errors.New("refused")
			}
			return &conn{}, nil
		},
		NewBackOff: func() backoff.BackOff { return &backoff.ZeroBackOff{} },
		OnStateChange: func(from, to State) {
			if inside.Add(1) > 1 {
				overlap.Store(true)
			}
			defer inside.Add(-1)
			_ = g.State() // would deadlock if a lock were held
			mu.Lock()
			seen = append(seen, from.String()+">"+to.String())
			mu.Unlock()
		},
	})
	ctx := testCtx(t)
	if _, err := g.Get(ctx); err == nil {
		t.Fatal("first Get succeeded, want the refused connect")
	}
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() { _, _ = g.Get(ctx) })
	}
	wg.Wait()
	c, err := g.Get(ctx)
	if err != nil {
		t.Fatal(err)
	}
	g.Invalidate(c)
	if err := g.Close(); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := strings.Join(seen, " ")
	mu.Unlock()
	want := "idle>connecting connecting>backoff backoff>connecting connecting>connected connected>idle idle>closing closing>closed"
	if got != want {
		t.Errorf("state changes:\n got %s\nwant %s", got, want)
	}
	if overlap.Load() {
		t.Error("OnStateChange ran concurrently with itself")
	}
}

func TestOnStateChangePanicLeavesGuardUsable(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	g, _ := NewGuard(GuardConfig[*conn]{
		Connect: func(context.Context) (*conn, error) { return &conn{}, nil },
		OnStateChange: func(from, to State) {
			if calls.Add(1) == 1 {
				panic("observer bug")
			}
		},
	})
	func() {
		defer func() {
			if r := recover(); r != "observer bug" {
				t.Errorf("recovered %v, want the callback's panic", r)
			}
		}()
		_, _ = g.Get(testCtx(t))
	}()
	done := make(chan error)
	go func() { done <- g.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close hung after a panicking OnStateChange")
	}
}

func TestGetWithEndedContext(t *testing.T) {
	t.Parallel()
	var connects atomic.Int32
	g, _ := NewGuard(GuardConfig[*conn]{
		Connect: func(context.Context) (*conn, error) { connects.Add(1); return &conn{}, nil },
	})
	closeGuard(t, g)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := g.Get(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Get(ended ctx) = %v, want context.Canceled", err)
	}
	if connects.Load() != 0 {
		t.Error("Get with an ended context started a connect")
	}
}

func TestStateString(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give State
		want string
	}{
		{StateIdle, "idle"}, {StateConnecting, "connecting"}, {StateConnected, "connected"},
		{StateBackoff, "backoff"}, {StateClosing, "closing"}, {StateClosed, "closed"},
		{State(42), "State(42)"}, {State(-1), "State(-1)"},
	}
	for _, tt := range tests {
		if got := tt.give.String(); got != tt.want {
			t.Errorf("State(%d).String() = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestSleep(t *testing.T) {
	t.Parallel()
	if !Sleep(context.Background(), time.Millisecond) {
		t.Error("Sleep(1ms) with a live ctx = false, want true")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if Sleep(ctx, time.Hour) {
		t.Error("Sleep with an ended ctx = true, want false")
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("Sleep with an ended ctx took %v", took)
	}
}

package wsclient

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/coder/websocket"
	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/lifecycle"
)

// countingBackOff retries every 5ms and counts its resets.
type countingBackOff struct{ resets atomic.Int32 }

func (b *countingBackOff) NextBackOff() time.Duration { return 5 * time.Millisecond }
func (b *countingBackOff) Reset()                     { b.resets.Add(1) }

// TestStableAfterResetsBackOff drops three connections at once and then one
// that stayed up longer than StableAfter: only that one resets the backoff.
func TestStableAfterResetsBackOff(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	s := newServer(t, func(n int, c *websocket.Conn) {
		switch {
		case n <= 3:
		case n == 4:
			time.Sleep(150 * time.Millisecond)
		default:
			<-release
		}
		c.Close(websocket.StatusInternalError, "drop")
	})
	t.Cleanup(func() { close(release) })
	bo := &countingBackOff{}
	c := newClient(t, Options{URL: s.url(), StableAfter: 100 * time.Millisecond, NewBackOff: func() backoff.BackOff { return bo }})
	c.ensureStarted()
	waitFor(t, "the fourth connection", func() bool { return s.handshakes.Load() >= 4 })
	if n := bo.resets.Load(); n != 1 {
		t.Errorf("after 3 short connections the backoff was reset %d times, want 1 (at start)", n)
	}
	waitFor(t, "the fifth connection", func() bool { return s.handshakes.Load() >= 5 })
	if n := bo.resets.Load(); n != 2 {
		t.Errorf("after a connection that stayed up past StableAfter the backoff was reset %d times in all, want 2", n)
	}
}

// TestRetryAfterIsHonoured refuses with 503 and Retry-After: 1: the client
// waits a second even though its backoff says 10ms.
func TestRetryAfterIsHonoured(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.refuse, s.retry = http.StatusServiceUnavailable, "1"
	c := newClient(t, Options{URL: s.url()})
	c.ensureStarted()
	waitFor(t, "a retry", func() bool { return s.handshakes.Load() >= 2 })
	s.mu.Lock()
	gap := s.at[1].Sub(s.at[0])
	s.mu.Unlock()
	if gap < 950*time.Millisecond {
		t.Errorf("retried %v after a 503 with Retry-After: 1, want at least 1s", gap)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		give string
		want time.Duration
	}{
		{"empty", "", 0},
		{"seconds", "7", 7 * time.Second},
		{"zero", "0", 0},
		{"negative", "-5", 0},
		{"garbage", "soon", 0},
		{"past date", "Mon, 02 Jan 2006 15:04:05 GMT", 0},
		{"just under a day", "86399", 86399 * time.Second},
		{"a day", "86400", maxRetryAfter},
		{"a year", "31536000", maxRetryAfter},
		{"past time.Duration", "99999999999999", maxRetryAfter},
		{"past int64", "99999999999999999999", 0},
		{"far date", "Fri, 31 Dec 9999 23:59:59 GMT", maxRetryAfter},
	} {
		if got := retryAfter(tt.give); got != tt.want {
			t.Errorf("%s: retryAfter(%q) = %v, want %v", tt.name, tt.give, got, tt.want)
		}
	}
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)
	if got := retryAfter(future); got < 59*time.Minute || got > time.Hour {
		t.Errorf("retryAfter(a date in an hour) = %v", got)
	}
}

// TestMaxAttempts gives up after MaxAttempts failed dials in a row, and says
// why to Connect and to later Sends.
func TestMaxAttempts(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{URL: "ws://" + testenv.RefusedAddr(t), MaxAttempts: 3})
	err := c.Connect(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), "3 connect attempts failed in a row") {
		t.Fatalf("Connect = %v, want it to give up after 3 attempts", err)
	}
	if n := c.Stats().DialErrors; n != 3 {
		t.Errorf("DialErrors = %d, want 3: no dial after giving up", n)
	}
	if err := c.Send(testCtx(t), MessageText, []byte("x")); err == nil || !strings.Contains(err.Error(), "gave up") {
		t.Errorf("Send after giving up = %v, want the reason", err)
	}
}

// TestStatsRTT pings a quiet connection and records the round trip.
func TestStatsRTT(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := newClient(t, Options{URL: s.url(), PingInterval: 20 * time.Millisecond})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a ping round trip", func() bool { return c.Stats().LastRTT > 0 })
	if rtt := c.Stats().LastRTT; rtt > time.Second {
		t.Errorf("LastRTT = %v over loopback", rtt)
	}
	ctx, cancel := context.WithTimeout(testCtx(t), time.Second)
	defer cancel()
	if err := c.Close(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Fatal(err)
	}
}

// fakeClock is a backoff.Clock that tests move by hand.
type fakeClock struct{ now atomic.Int64 }

func (c *fakeClock) Now() time.Time { return time.Unix(0, c.now.Load()) }

// TestDefaultBackOff checks DefaultBackOff's parameters and samples its
// delays: the first within 500ms ±50%, each next one 1.5 times larger, up to
// 30s, all ±50%, randomized, and never stopping however long it runs.
func TestDefaultBackOff(t *testing.T) {
	t.Parallel()
	eb, ok := DefaultBackOff().(*backoff.ExponentialBackOff)
	if !ok {
		t.Fatalf("DefaultBackOff() is a %T, want an *backoff.ExponentialBackOff", DefaultBackOff())
	}
	if eb.InitialInterval != 500*time.Millisecond || eb.Multiplier != 1.5 || eb.MaxInterval != 30*time.Second ||
		eb.RandomizationFactor != 0.5 || eb.MaxElapsedTime != 0 {
		t.Errorf("DefaultBackOff() = %+v", eb)
	}
	firsts := map[time.Duration]bool{}
	for range 100 {
		bo := DefaultBackOff().(*backoff.ExponentialBackOff)
		clock := &fakeClock{}
		bo.Clock = clock
		bo.Reset()
		base := 500 * time.Millisecond
		for i := range 20 {
			d := bo.NextBackOff()
			if lo, hi := base/2, base*3/2+1; d < lo || d > hi {
				t.Fatalf("delay %d = %v, want within [%v, %v]", i, d, lo, hi)
			}
			if i == 0 {
				firsts[d] = true
			}
			base = min(time.Duration(float64(base)*1.5), 30*time.Second)
		}
		clock.now.Add(int64(365 * 24 * time.Hour))
		if d := bo.NextBackOff(); d == backoff.Stop {
			t.Fatal("DefaultBackOff stopped after a year: want it to go on forever")
		}
	}
	if len(firsts) < 50 {
		t.Errorf("100 fresh DefaultBackOffs gave %d different first delays: want them randomized", len(firsts))
	}
}

// TestFirstRetryAfterADropIsJittered drops the first connection of a
// client with DefaultBackOff: it reconnects after the first delay, within
// 500ms ±50%, not at once.
func TestFirstRetryAfterADropIsJittered(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(n int, c *websocket.Conn) {
		if n == 1 {
			c.Close(websocket.StatusInternalError, "drop")
			return
		}
		c.Read(context.Background())
	})
	c := newClient(t, Options{URL: s.url(), NewBackOff: DefaultBackOff})
	c.ensureStarted()
	waitFor(t, "the reconnect", func() bool { return s.handshakes.Load() >= 2 })
	s.mu.Lock()
	gap := s.at[1].Sub(s.at[0])
	s.mu.Unlock()
	if gap < 250*time.Millisecond || gap > 750*time.Millisecond+500*time.Millisecond {
		t.Errorf("reconnected %v after the first handshake, want the first delay: 250ms to 750ms (plus the drop's own time)", gap)
	}
}

// TestShouldReconnectPanicGivesUp: a ShouldReconnect that panics makes the
// client give up with an error that names the panic, instead of killing
// the process from the supervisor goroutine.
func TestShouldReconnectPanicGivesUp(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{URL: "ws://" + testenv.RefusedAddr(t),
		ShouldReconnect: func(CloseInfo) bool { panic("policy bug") }})
	const want = "Options.ShouldReconnect panicked: policy bug"
	if err := c.Connect(testCtx(t)); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Connect = %v, want an error containing %q", err, want)
	}
	if err := c.Send(testCtx(t), MessageText, []byte("x")); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("Send = %v, want an error containing %q", err, want)
	}
	if n := c.Stats().DialErrors; n != 1 {
		t.Errorf("DialErrors = %d, want 1: no attempt after the panic", n)
	}
}

// TestCallbackPanicsFailTheAttempt has Prepare, then OnConnected, panic:
// each panic fails its connect attempt like an error would, the client
// gives up after MaxAttempts with the panic in its error, and the process
// lives.
func TestCallbackPanicsFailTheAttempt(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	for _, tt := range []struct {
		name string
		opts Options
	}{
		{"Prepare", Options{Prepare: func(context.Context) (string, http.Header, error) { panic("token bug") }}},
		{"OnConnected", Options{URL: s.url(), OnConnected: func(context.Context, *Session) error { panic("auth bug") }}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			opts := tt.opts
			opts.MaxAttempts, opts.NewBackOff = 2, fastBackOff
			c := newClient(t, opts)
			want := "Options." + tt.name + " panicked"
			if err := c.Connect(testCtx(t)); err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "2 connect attempts failed") {
				t.Fatalf("Connect = %v, want the client to give up after 2 attempts with %q", err, want)
			}
			if n := c.Stats().DialErrors; n != 2 {
				t.Errorf("DialErrors = %d, want 2", n)
			}
		})
	}
}

// A panicking OnStateChange is logged and the next change still delivered.
func TestStateChangePanicIsLogged(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	var mu sync.Mutex
	var got []string
	var logs strings.Builder
	c := newClient(t, Options{URL: s.url(),
		Logger: slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, nil)),
		OnStateChange: func(from, to lifecycle.State) {
			mu.Lock()
			got = append(got, to.String())
			mu.Unlock()
			if to == lifecycle.StateConnecting {
				panic("callback bug")
			}
		}})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(got, lifecycle.StateConnected.String()) || got[len(got)-1] != lifecycle.StateClosed.String() {
		t.Errorf("changes delivered after the panic: %v; want connected, then closed last", got)
	}
	if !strings.Contains(logs.String(), "OnStateChange panicked") || !strings.Contains(logs.String(), "callback bug") {
		t.Errorf("the panic was not logged: %s", logs.String())
	}
}

// lockedWriter serializes writes to w, for a log handler whose output a
// test reads while the client writes.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

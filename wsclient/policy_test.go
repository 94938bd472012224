package wsclient

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/coder/websocket"
	"github.com/connkit/connkit/internal/testenv"
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

package wsclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/connkit/connkit/lifecycle"
)

// TestOnConnectedCtxEnds has OnConnected wait on its ctx (as it would for
// an authentication reply that never comes): the ctx ends at Close, when
// the connection fails, and ConnectTimeout after OnConnected started.
func TestOnConnectedCtxEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		onConn  func(n int, c *websocket.Conn) // nil: the server keeps the connection
		timeout time.Duration                  // ConnectTimeout
		end     func(c *Client)                // what ends the ctx, once OnConnected waits
		want    error
	}{
		{"Close", nil, time.Minute, func(c *Client) { c.Close(context.Background()) }, context.Canceled},
		{"ConnectTimeout", nil, 100 * time.Millisecond, func(*Client) {}, context.DeadlineExceeded},
		{"connection lost", func(n int, c *websocket.Conn) { c.Close(websocket.StatusServiceRestart, "bye") },
			time.Minute, func(*Client) {}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newServer(t, tt.onConn)
			waiting := make(chan struct{})
			ended := make(chan error, 1)
			var once sync.Once
			c := newClient(t, Options{URL: s.url(), ConnectTimeout: tt.timeout,
				OnConnected: func(ctx context.Context, _ *Session) error {
					once.Do(func() {
						close(waiting)
						<-ctx.Done()
						ended <- ctx.Err()
					})
					return errors.New("no reply")
				}})
			c.ensureStarted()
			<-waiting
			start := time.Now()
			go tt.end(c)
			select {
			case err := <-ended:
				if !errors.Is(err, tt.want) {
					t.Errorf("OnConnected's ctx ended with %v, want %v", err, tt.want)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("OnConnected's ctx did not end within 5s")
			}
			if took := time.Since(start); took > tt.timeout+time.Second {
				t.Errorf("OnConnected's ctx ended after %v", took)
			}
		})
	}
}

// TestOnConnectedFailuresCountTowardsMaxAttempts: a failed OnConnected is
// a failed attempt, and the count starts again only once OnConnected
// succeeded.
func TestOnConnectedFailuresCountTowardsMaxAttempts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		succeeds func(call int32) bool
		want     int32 // handshakes before giving up, with MaxAttempts 3
	}{
		{"always fails", func(int32) bool { return false }, 3},
		{"succeeds on the third", func(call int32) bool { return call == 3 }, 6},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// Every connection drops at once: only OnConnected decides.
			s := newServer(t, func(n int, c *websocket.Conn) { c.Close(websocket.StatusServiceRestart, "bye") })
			var calls atomic.Int32
			c := newClient(t, Options{URL: s.url(), MaxAttempts: 3,
				OnConnected: func(context.Context, *Session) error {
					if tt.succeeds(calls.Add(1)) {
						return nil
					}
					return errors.New("auth rejected")
				}})
			c.ensureStarted()
			waitFor(t, "the client to give up", func() bool { gaveUp, _ := c.gaveUp(); return gaveUp })
			err := c.Connect(testCtx(t))
			if err == nil || !strings.Contains(err.Error(), "3 connect attempts failed in a row") || !strings.Contains(err.Error(), "auth rejected") {
				t.Errorf("Connect = %v, want it to give up after 3 failed OnConnected", err)
			}
			if n := s.handshakes.Load(); n != tt.want {
				t.Errorf("gave up after %d handshakes, want %d", n, tt.want)
			}
			if st := c.Stats(); st.DialErrors != int64(tt.want)-st.Connects {
				t.Errorf("DialErrors = %d with %d connects in %d attempts", st.DialErrors, st.Connects, tt.want)
			}
		})
	}
}

// TestStateChangesAreDeliveredInOrder changes the state from many
// goroutines at once: OnStateChange hears of the changes in the order they
// were made, each event's from being the previous event's to.
func TestStateChangesAreDeliveredInOrder(t *testing.T) {
	t.Parallel()
	var (
		mu  sync.Mutex
		got [][2]lifecycle.State
	)
	c, err := New(Options{URL: "ws://127.0.0.1:1", OnStateChange: func(from, to lifecycle.State) {
		mu.Lock()
		got = append(got, [2]lifecycle.State{from, to})
		mu.Unlock()
	}})
	if err != nil {
		t.Fatal(err)
	}
	states := []lifecycle.State{lifecycle.StateConnecting, lifecycle.StateConnected, lifecycle.StateBackoff}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 2000 {
				c.setState(states[(g+i)%len(states)])
			}
		})
	}
	wg.Wait()
	if err := c.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	prev := lifecycle.StateIdle
	for i, ev := range got {
		if ev[0] != prev {
			t.Fatalf("event %d is %v→%v after one that went to %v: out of order", i, ev[0], ev[1], prev)
		}
		prev = ev[1]
	}
	if prev != lifecycle.StateClosed {
		t.Errorf("the last event went to %v, want closed", prev)
	}
}

// TestPrepareRunsPerAttempt rotates the token under a connected client:
// the server accepts only the newest token and drops the connection made
// with the old one; the client reconnects with a URL and header that
// Prepare computed again.
func TestPrepareRunsPerAttempt(t *testing.T) {
	t.Parallel()
	var newest atomic.Int32 // the token server's current token
	newest.Store(1)
	rotated := make(chan struct{})
	var (
		mu   sync.Mutex
		seen []string // path and token of every handshake
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token := r.Header.Get("Authorization")
		mu.Lock()
		seen = append(seen, r.URL.Path+" "+token)
		mu.Unlock()
		if token != fmt.Sprint("Bearer tok-", newest.Load()) {
			http.Error(w, "stale token", http.StatusUnauthorized)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		if token == "Bearer tok-1" {
			<-rotated
			c.Close(websocket.StatusNormalClosure, "token rotated")
			return
		}
		c.Read(context.Background())
	}))
	t.Cleanup(srv.Close)
	rotate := sync.OnceFunc(func() { close(rotated) })
	t.Cleanup(rotate) // before srv.Close, which waits for the handler
	var attempts atomic.Int32
	c := newClient(t, Options{Prepare: func(ctx context.Context) (string, http.Header, error) {
		n := attempts.Add(1)
		h := http.Header{"Authorization": {fmt.Sprint("Bearer tok-", newest.Load())}}
		return fmt.Sprint("ws", strings.TrimPrefix(srv.URL, "http"), "/feed/", n), h, nil
	}})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	newest.Store(2)
	rotate()
	waitFor(t, "the reconnect", func() bool { return c.Stats().Connects == 2 })
	mu.Lock()
	got := strings.Join(seen, ", ")
	mu.Unlock()
	if want := "/feed/1 Bearer tok-1, /feed/2 Bearer tok-2"; got != want {
		t.Errorf("handshakes: %s; want %s", got, want)
	}
}

// TestServerCloseDuringOnConnectedKeepsItsCode has the server refuse the
// client's authentication by closing with 1008 (policy violation) while
// OnConnected waits on its ctx for the reply: the server's close decides,
// and DefaultShouldReconnect does not retry 1008, so the client gives up
// after one handshake, its error naming the close.
func TestServerCloseDuringOnConnectedKeepsItsCode(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(n int, c *websocket.Conn) {
		c.Close(websocket.StatusPolicyViolation, "bad token")
	})
	c := newClient(t, Options{URL: s.url(),
		OnConnected: func(ctx context.Context, _ *Session) error {
			<-ctx.Done() // waiting for the auth reply
			return ctx.Err()
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := c.Connect(ctx)
	if err == nil || !strings.Contains(err.Error(), "the reconnect policy said no") {
		t.Errorf("Connect = %v, want it to give up on the server's 1008", err)
	}
	if err != nil && !strings.Contains(err.Error(), "bad token") {
		t.Errorf("Connect = %v, want the server's reason in it", err)
	}
	if n := s.handshakes.Load(); n != 1 {
		t.Errorf("%d handshakes, want 1 (1008 is not retried)", n)
	}
}

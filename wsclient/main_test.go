package wsclient

import (
	"cmp"
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/coder/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// server is an in-process WebSocket server on loopback that records what it
// receives, connection by connection.
type server struct {
	t          *testing.T
	srv        *httptest.Server
	handshakes atomic.Int32

	mu      sync.Mutex  // protects the fields below
	refuse  int         // when not 0, handshakes are refused with this status
	retry   string      // the Retry-After of a refusal ("0" when empty)
	at      []time.Time // when each handshake arrived
	onConn  func(n int, c *websocket.Conn)
	got     [][]string // messages received, per connection
	closeBy []websocket.StatusCode
}

// newServer starts a server whose connections run onConn (nil: read and
// record until the client closes).
// setRefuse makes the server refuse handshakes with status, or accept them
// again with 0.
func (s *server) setRefuse(status int) {
	s.mu.Lock()
	s.refuse = status
	s.mu.Unlock()
}

func newServer(t *testing.T, onConn func(n int, c *websocket.Conn)) *server {
	s := &server{t: t, onConn: onConn}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *server) url() string { return "ws" + strings.TrimPrefix(s.srv.URL, "http") }

func (s *server) serve(w http.ResponseWriter, r *http.Request) {
	n := int(s.handshakes.Add(1))
	s.mu.Lock()
	refuse, retry, onConn := s.refuse, s.retry, s.onConn
	s.got = append(s.got, nil)
	s.at = append(s.at, time.Now())
	s.closeBy = append(s.closeBy, -1)
	s.mu.Unlock()
	if refuse != 0 {
		w.Header().Set("Retry-After", cmp.Or(retry, "0"))
		http.Error(w, "refused", refuse)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	if onConn != nil {
		onConn(n, c)
		return
	}
	s.record(n, c)
}

// record reads and records messages on connection n until it closes.
func (s *server) record(n int, c *websocket.Conn) {
	for {
		_, data, err := c.Read(context.Background())
		s.mu.Lock()
		if err != nil {
			s.closeBy[n-1] = websocket.CloseStatus(err)
			s.mu.Unlock()
			return
		}
		s.got[n-1] = append(s.got[n-1], string(data))
		s.mu.Unlock()
	}
}

func (s *server) received(n int) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if n > len(s.got) {
		return nil
	}
	return append([]string(nil), s.got[n-1]...)
}

func (s *server) closeCode(n int) websocket.StatusCode {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closeBy[n-1]
}

// fastBackOff retries every 10ms, so tests wait little.
func fastBackOff() backoff.BackOff { return backoff.NewConstantBackOff(10 * time.Millisecond) }

// newClient returns a client closed at the end of the test.
func newClient(t *testing.T, opts Options) *Client {
	t.Helper()
	if opts.NewBackOff == nil {
		opts.NewBackOff = fastBackOff
	}
	c, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c.Close(ctx)
	})
	return c
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// freeAddr returns a loopback address nothing listens on now, for a test
// that starts a server there later (another test may take it meanwhile; use
// testenv.RefusedAddr for an address that stays refused).
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

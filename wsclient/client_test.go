package wsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/coder/websocket"
	"github.com/connkit/connkit/internal/faultproxy"
	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/pool/pooltest"
)

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give Options
		want string
	}{
		{Options{}, "Options.URL is required"},
		{Options{URL: "ftp://x"}, `scheme "ftp"`},
		{Options{URL: "ws://x", QueueLimit: -1}, "Options.QueueLimit is negative"},
		{Options{URL: "ws://x", ConnectTimeout: -1}, "Options.ConnectTimeout is negative"},
		{Options{URL: "ws://x", NewBackOff: func() backoff.BackOff { return nil }}, "Options.NewBackOff returned nil"},
	}
	for _, tt := range tests {
		if _, err := New(tt.give); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New(%+v) = %v, want %q", tt.give, err, tt.want)
		}
	}
}

func TestNewRegistryRejectsNil(t *testing.T) {
	t.Parallel()
	defer func() {
		if r := recover(); r == nil || !strings.Contains(fmt.Sprint(r), "nil options func") {
			t.Errorf("NewRegistry(nil) panicked with %v, want one naming the nil options func", r)
		}
	}()
	NewRegistry(nil)
}

func TestConnectIsSingleFlight(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := newClient(t, Options{URL: s.url()})
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			if err := c.Connect(testCtx(t)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := s.handshakes.Load(); n != 1 {
		t.Errorf("100 concurrent Connect made %d handshakes, want 1", n)
	}
}

// TestReconnectAfter1011 has the server drop the first connection with
// 1011: the client reconnects, runs OnConnected again, and only then writes
// what was queued meanwhile.
func TestReconnectAfter1011(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.onConn = func(n int, c *websocket.Conn) {
		if n == 1 {
			c.Read(context.Background()) // the auth message
			c.Close(websocket.StatusInternalError, "restarting")
			return
		}
		s.record(n, c)
	}
	var states []string
	var mu sync.Mutex
	c := newClient(t, Options{
		URL: s.url(),
		OnConnected: func(ctx context.Context, sess *Session) error {
			return sess.Send(ctx, MessageText, []byte("auth"))
		},
		OnStateChange: func(from, to lifecycle.State) {
			mu.Lock()
			states = append(states, to.String())
			mu.Unlock()
		},
	})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the drop", func() bool { return s.handshakes.Load() == 2 })
	if err := c.Send(testCtx(t), MessageText, []byte("m1")); err != nil {
		t.Fatalf("Send after the reconnect = %v", err)
	}
	waitFor(t, "m1 to arrive", func() bool { return len(s.received(2)) == 2 })
	if got := s.received(2); fmt.Sprint(got) != "[auth m1]" {
		t.Errorf("second connection received %v, want auth first, then m1", got)
	}
	if st := c.Stats(); st.Connects != 2 || st.Reconnects != 1 {
		t.Errorf("Stats = %+v", st)
	}
	mu.Lock()
	got := strings.Join(states, " ")
	mu.Unlock()
	if !strings.HasPrefix(got, "connecting connected backoff connecting connected") {
		t.Errorf("states = %s", got)
	}
}

func TestUnauthorizedIsNotRetried(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.refuse = http.StatusUnauthorized
	c := newClient(t, Options{URL: s.url()})
	err := c.Connect(testCtx(t))
	var he *HandshakeError
	if !errors.As(err, &he) || he.StatusCode != http.StatusUnauthorized {
		t.Fatalf("Connect = %v; want a *HandshakeError with 401", err)
	}
	if n := s.handshakes.Load(); n != 1 {
		t.Errorf("%d handshakes, want 1: a 401 is not retried", n)
	}
	if err := c.Send(testCtx(t), MessageText, []byte("x")); !errors.As(err, &he) || !strings.Contains(err.Error(), "gave up") {
		t.Errorf("Send after giving up = %v, want the reason (the 401)", err)
	}
}

func TestServiceUnavailableIsRetried(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.refuse = http.StatusServiceUnavailable
	c := newClient(t, Options{URL: s.url()})
	c.ensureStarted()
	waitFor(t, "retries", func() bool { return s.handshakes.Load() >= 3 })
	s.mu.Lock()
	s.refuse = 0
	s.mu.Unlock()
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}

// TestQueueWhileDown sends while the server is down: the Sends wait, and
// once the server is up they are written in order, each returning nil.
func TestQueueWhileDown(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	c := newClient(t, Options{URL: "ws://" + addr})
	c.ensureStarted()
	results := make([]chan error, 5)
	for i := range results {
		results[i] = make(chan error, 1)
		go func() { results[i] <- c.Send(testCtx(t), MessageText, []byte(fmt.Sprint(i))) }()
		waitFor(t, "the message to queue", func() bool { return c.Stats().QueueDepth == i+1 })
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("the port was taken meanwhile: %v", err)
	}
	s := &server{t: t}
	s.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: http.HandlerFunc(s.serve)}}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	for i, r := range results {
		if err := <-r; err != nil {
			t.Errorf("Send %d = %v", i, err)
		}
	}
	waitFor(t, "the server to read them", func() bool { return len(s.received(1)) == 5 })
	if got := s.received(1); fmt.Sprint(got) != "[0 1 2 3 4]" {
		t.Errorf("server received %v, want them in order", got)
	}
}

func TestQueueLimit(t *testing.T) {
	t.Parallel()
	c := newClient(t, Options{URL: "ws://" + testenv.RefusedAddr(t), QueueLimit: 2})
	for i := range 2 {
		if err := c.TrySend(MessageText, []byte{byte(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.TrySend(MessageText, []byte("3")); !errors.Is(err, ErrQueueFull) {
		t.Errorf("third TrySend = %v, want ErrQueueFull", err)
	}
}

func TestExpiredSendIsNeverDelivered(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := newClient(t, Options{URL: s.url()})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := c.Send(ctx, MessageText, []byte("stale")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send before connecting = %v, want DeadlineExceeded", err)
	}
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(testCtx(t), MessageText, []byte("fresh")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "fresh", func() bool { return len(s.received(1)) == 1 })
	if got := s.received(1); fmt.Sprint(got) != "[fresh]" {
		t.Errorf("server received %v; the expired message must never be sent", got)
	}
	if d := c.Stats().Dropped; d != 1 {
		t.Errorf("Dropped = %d, want 1", d)
	}
}

// TestExpiredSendFreesItsSlot lets two Sends time out while the server
// refuses: their messages leave the queue at once (QueueLimit and
// QueueBytes are free again, and they count as dropped), and once the
// server accepts, only the message queued after them is written.
func TestExpiredSendFreesItsSlot(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.refuse = http.StatusServiceUnavailable
	c := newClient(t, Options{URL: s.url(), QueueLimit: 2, QueueBytes: 2})
	c.ensureStarted()
	for range 2 {
		ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Millisecond)
		err := c.Send(ctx, MessageText, []byte("x"))
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Send while the server refuses = %v, want DeadlineExceeded", err)
		}
	}
	if st := c.Stats(); st.QueueDepth != 0 || st.Dropped != 2 {
		t.Errorf("after two expired Sends: QueueDepth %d, Dropped %d; want 0 and 2", st.QueueDepth, st.Dropped)
	}
	if err := c.TrySend(MessageText, []byte("yy")); err != nil {
		t.Fatalf("TrySend of QueueBytes after two expired Sends = %v; their messages still hold the queue", err)
	}
	s.mu.Lock()
	s.refuse = 0
	s.mu.Unlock()
	waitFor(t, "the queued message", func() bool { return len(s.received(int(s.handshakes.Load()))) == 1 })
	if got := s.received(int(s.handshakes.Load())); fmt.Sprint(got) != "[yy]" {
		t.Errorf("server received %v; the expired messages must never be sent", got)
	}
}

func TestRecv(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(n int, c *websocket.Conn) {
		for i := range 3 {
			c.Write(context.Background(), websocket.MessageText, []byte(fmt.Sprint("hello ", i)))
		}
		c.Read(context.Background())
	})
	c := newClient(t, Options{URL: s.url()})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m, err := c.Recv(testCtx(t))
		if err != nil || string(m.Data) != fmt.Sprint("hello ", i) || m.Type != MessageText {
			t.Fatalf("Recv = %+v, %v", m, err)
		}
	}
}

// TestOnMessage: every message reaches OnMessage, in order, on the reader
// goroutine; a reply sent from the handler reaches the server; Recv refuses
// to compete for the messages.
func TestOnMessage(t *testing.T) {
	t.Parallel()
	const n = 50
	echoed := make(chan string, n)
	s := newServer(t, func(_ int, c *websocket.Conn) {
		ctx := context.Background()
		c.Write(ctx, websocket.MessageText, []byte("0"))
		for {
			_, data, err := c.Read(ctx)
			if err != nil {
				return
			}
			echoed <- string(data)
			if err := c.Write(ctx, websocket.MessageText, data); err != nil {
				return
			}
		}
	})
	var (
		c    *Client
		got  []string
		done = make(chan struct{})
	)
	c = newClient(t, Options{URL: s.url(), OnMessage: func(m Message) {
		got = append(got, string(m.Data))
		if len(got) == n {
			close(done)
			return
		}
		// The server echoes what it gets: reply with the next number.
		if err := c.Send(context.Background(), MessageText, []byte(fmt.Sprint(len(got)))); err != nil {
			t.Errorf("Send from OnMessage = %v", err)
		}
	}})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(testCtx(t), time.Second)
	defer cancel()
	if _, err := c.Recv(ctx); err == nil || !strings.Contains(err.Error(), "OnMessage") {
		t.Errorf("Recv with OnMessage set = %v, want an error naming OnMessage", err)
	}
	select {
	case <-done:
	case <-testCtx(t).Done():
		t.Fatalf("OnMessage got %d of %d messages", len(got), n)
	}
	for i, m := range got {
		if m != fmt.Sprint(i) {
			t.Fatalf("OnMessage got %q as message %d: %q", m, i, got)
		}
	}
	if len(echoed) != n-1 {
		t.Errorf("the server got %d replies sent from OnMessage, want %d", len(echoed), n-1)
	}
}

// TestSlowOnMessageIsNotADeadPeer: while OnMessage runs, the reader reads
// nothing, pongs included; the client must not take that for a silent peer
// and drop a healthy connection.
func TestSlowOnMessageIsNotADeadPeer(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(_ int, c *websocket.Conn) {
		c.Write(context.Background(), websocket.MessageText, []byte("slow"))
		c.Read(context.Background()) // answers pings until the client closes
	})
	handled := make(chan struct{})
	var once sync.Once
	c := newClient(t, Options{
		// PongTimeout leaves room for a pong late under -race on a busy
		// machine; the handler outlasts it five times over.
		URL: s.url(), PingInterval: 20 * time.Millisecond, PongTimeout: 200 * time.Millisecond,
		OnMessage: func(Message) {
			time.Sleep(time.Second)
			once.Do(func() { close(handled) }) // a reconnect would bring the message again
		},
	})
	var pings atomic.Int32
	c.pingHook = func() { pings.Add(1) }
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	<-handled
	checkPingsAnswered(t, c, &pings, 200*time.Millisecond, "after a slow OnMessage")
}

// TestBlackholeDetected puts a proxy that stops forwarding between client
// and server: the client must notice within PingInterval + PongTimeout and
// reconnect once the proxy forwards again.
func TestBlackholeDetected(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	proxy := faultproxy.Start(t, strings.TrimPrefix(s.srv.URL, "http://"))
	c := newClient(t, Options{URL: "ws://" + proxy.Addr(), PingInterval: 100 * time.Millisecond, PongTimeout: 100 * time.Millisecond})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	proxy.Blackhole()
	start := time.Now()
	waitFor(t, "the dead connection to be noticed", func() bool { return c.State() != lifecycle.StateConnected })
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("a blackholed connection was noticed after %v; want about PingInterval + PongTimeout (200ms)", took)
	}
	proxy.ResetAll() // the stalled connections die; new ones go through again
	proxy.Forward()
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatalf("reconnect through the proxy = %v", err)
	}
	if err := c.Send(testCtx(t), MessageText, []byte("after")); err != nil {
		t.Fatal(err)
	}
}

func TestCloseFlushesQueueThenSends1000(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c, err := New(Options{URL: s.url()})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if err := c.TrySend(MessageText, []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Close(testCtx(t)); err != nil {
		t.Fatalf("Close = %v", err)
	}
	waitFor(t, "the server to see the close", func() bool { return s.closeCode(1) != -1 })
	if got := len(s.received(1)); got != 50 {
		t.Errorf("server received %d of 50 queued messages", got)
	}
	if code := s.closeCode(1); code != websocket.StatusNormalClosure {
		t.Errorf("server saw close code %v, want 1000", code)
	}
	if err := c.Send(testCtx(t), MessageText, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("Send after Close = %v, want ErrClosed", err)
	}
	if _, err := c.Recv(testCtx(t)); !errors.Is(err, ErrClosed) {
		t.Errorf("Recv after Close = %v, want ErrClosed", err)
	}
	if err := c.Close(testCtx(t)); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

// TestConnectDropCycles drops 1000 connections in a row: the client
// reconnects each time and leaves no goroutine behind (goleak checks the
// package at the end).
func TestConnectDropCycles(t *testing.T) {
	t.Parallel()
	s := newServer(t, func(n int, c *websocket.Conn) {
		c.Close(websocket.StatusGoingAway, "bye")
	})
	fds, err := pooltest.SnapshotFDs()
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{URL: s.url(), NewBackOff: func() backoff.BackOff { return &backoff.ZeroBackOff{} }})
	if err != nil {
		t.Fatal(err)
	}
	c.ensureStarted()
	waitFor(t, "1000 cycles", func() bool { return s.handshakes.Load() >= 1000 })
	if err := c.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Connects < 999 {
		t.Errorf("Connects = %d after 1000 handshakes", st.Connects)
	}
	// The client's sockets are closed; the server's close as its handlers
	// return. Other tests run in parallel, so look only at this server.
	port := s.srv.Listener.Addr().String()
	waitFor(t, "the descriptors of the 1000 connections to be closed", func() bool {
		leaked, err := fds.Leaked()
		if err != nil {
			t.Fatal(err)
		}
		for _, fd := range leaked {
			if strings.Contains(fd.Desc, port) && strings.Contains(fd.Desc, "ESTABLISHED") {
				return false
			}
		}
		return true
	})
}

func TestMisbehavingServers(t *testing.T) {
	t.Parallel()
	garbage := rawServer(t, func(c net.Conn) { c.Write([]byte("HELLO THIS IS NOT HTTP\r\n\r\n")) })
	silent := rawServer(t, func(c net.Conn) { time.Sleep(time.Second) })
	big := newServer(t, func(n int, c *websocket.Conn) {
		c.Write(context.Background(), websocket.MessageBinary, make([]byte, 4096))
		c.Read(context.Background())
	})
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"garbage", Options{URL: "ws://" + garbage, MaxAttempts: 1}, "gave up"},
		{"never answers", Options{URL: "ws://" + silent, MaxAttempts: 1, ConnectTimeout: 100 * time.Millisecond}, "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, tt.opts)
			err := c.Connect(testCtx(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Connect = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	t.Run("oversized message", func(t *testing.T) {
		c := newClient(t, Options{URL: big.url(), ReadLimit: 1024})
		if err := c.Connect(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		waitFor(t, "the oversized message to end the connection", func() bool {
			return c.Stats().LastError != ""
		})
		if msg := c.Stats().LastError; !strings.Contains(msg, "message too big") {
			t.Errorf("LastError = %q, want it to say the message was too big", msg)
		}
	})
	t.Run("default ReadLimit", func(t *testing.T) {
		// With ReadLimit unset, a message of exactly DefaultReadLimit
		// bytes is received and one byte more ends the connection.
		limit := newServer(t, func(n int, c *websocket.Conn) {
			if n > 1 {
				return
			}
			c.Write(context.Background(), websocket.MessageBinary, make([]byte, DefaultReadLimit))
			c.Write(context.Background(), websocket.MessageBinary, make([]byte, DefaultReadLimit+1))
			c.Read(context.Background())
		})
		c := newClient(t, Options{URL: limit.url(), MaxAttempts: 1})
		if err := c.Connect(testCtx(t)); err != nil {
			t.Fatal(err)
		}
		m, err := c.Recv(testCtx(t))
		if err != nil || len(m.Data) != DefaultReadLimit {
			t.Fatalf("Recv = %d bytes, %v; want the %d-byte message", len(m.Data), err, DefaultReadLimit)
		}
		waitFor(t, "the message one byte too big to end the connection", func() bool {
			return strings.Contains(c.Stats().LastError, "message too big")
		})
	})
}

// rawServer accepts TCP connections and hands them to handle.
func rawServer(t *testing.T, handle func(net.Conn)) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { defer c.Close(); handle(c) })
		}
	})
	return ln.Addr().String()
}

// TestTokenInURLIsRedacted wants a token in the URL's query out of every
// error text, including tokens that url.Error's %q escapes, and out of
// every error the result unwraps to.
func TestTokenInURLIsRedacted(t *testing.T) {
	t.Parallel()
	for _, token := range []string{"s3cr3t", `s3"cr3t`, `s3\cr3t`, "s3\u00a0cr3t", "s3%22cr3t"} {
		c := newClient(t, Options{URL: "ws://" + testenv.RefusedAddr(t) + "/feed?token=" + token, MaxAttempts: 1})
		err := c.Connect(testCtx(t))
		if err == nil {
			t.Fatalf("token %q: Connect to a refused address = nil", token)
		}
		for e := err; e != nil; e = errors.Unwrap(e) {
			if strings.Contains(e.Error(), "cr3t") {
				t.Errorf("token %q: %T in the chain shows it: %v", token, e, e)
			}
		}
		if strings.Contains(c.Stats().LastError, "cr3t") {
			t.Errorf("token %q: Stats.LastError shows it: %q", token, c.Stats().LastError)
		}
		var ue *url.Error
		if !errors.As(err, &ue) {
			t.Errorf("token %q: errors.As finds no *url.Error in %v", token, err)
		}
	}
}

func TestDefaultShouldReconnect(t *testing.T) {
	t.Parallel()
	tests := []struct {
		give CloseInfo
		want bool
	}{
		{CloseInfo{Code: -1}, true},
		{CloseInfo{Code: -1, HTTPStatus: 503}, true},
		{CloseInfo{Code: -1, HTTPStatus: 429}, true},
		{CloseInfo{Code: -1, HTTPStatus: 408}, true},
		{CloseInfo{Code: -1, HTTPStatus: 401}, false},
		{CloseInfo{Code: -1, HTTPStatus: 404}, false},
		{CloseInfo{Code: websocket.StatusGoingAway}, true},
		{CloseInfo{Code: websocket.StatusInternalError}, true},
		{CloseInfo{Code: websocket.StatusTryAgainLater}, true},
		{CloseInfo{Code: websocket.StatusPolicyViolation}, false},
		{CloseInfo{Code: websocket.StatusMessageTooBig}, false},
		{CloseInfo{Code: websocket.StatusProtocolError}, false},
		{CloseInfo{Code: websocket.StatusNormalClosure, By: ClosedByClient}, false},
	}
	for _, tt := range tests {
		if got := DefaultShouldReconnect(tt.give); got != tt.want {
			t.Errorf("DefaultShouldReconnect(%+v) = %v, want %v", tt.give, got, tt.want)
		}
	}
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	r := NewRegistry(func(url string) Options { return Options{NewBackOff: fastBackOff} })
	clients := make([]*Client, 20)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			c, err := r.Get(s.url())
			if err != nil {
				t.Error(err)
			}
			clients[i] = c
		})
	}
	wg.Wait()
	for _, c := range clients {
		if c != clients[0] {
			t.Fatal("Registry.Get returned different clients for one endpoint")
		}
	}
	if err := clients[0].Send(testCtx(t), MessageText, []byte("via registry")); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if n := s.handshakes.Load(); n != 1 {
		t.Errorf("%d handshakes, want 1", n)
	}
	if _, err := r.Get(s.url()); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close = %v, want ErrClosed", err)
	}
}

// TestRegistryReplacesAClientThatGaveUp has the endpoint refuse with 401
// (the client gives up), then accept again: Get keeps the client that gave
// up for RegistryRetryDelay, then closes it and returns a new one that
// connects; its holders keep getting the 401.
func TestRegistryReplacesAClientThatGaveUp(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.refuse = http.StatusUnauthorized
	r := NewRegistry(func(url string) Options { return Options{NewBackOff: fastBackOff} })
	t.Cleanup(func() { r.Close(context.Background()) })
	old, err := r.Get(s.url())
	if err != nil {
		t.Fatal(err)
	}
	var he *HandshakeError
	if err := old.Connect(testCtx(t)); !errors.As(err, &he) {
		t.Fatalf("Connect = %v, want the 401", err)
	}
	s.mu.Lock()
	s.refuse = 0
	s.mu.Unlock()
	// Within RegistryRetryDelay of the give-up, Get keeps the client that
	// gave up: a handler calling Get per request makes no handshake.
	if c, _ := r.Get(s.url()); c != old {
		t.Fatal("Registry.Get replaced the client that gave up at once")
	}
	time.Sleep(RegistryRetryDelay)
	c, err := r.Get(s.url())
	if err != nil {
		t.Fatal(err)
	}
	if c == old {
		t.Fatal("Registry.Get returned the client that gave up after RegistryRetryDelay")
	}
	if err := c.Send(testCtx(t), MessageText, []byte("x")); err != nil {
		t.Fatalf("Send on the new client = %v", err)
	}
	if again, _ := r.Get(s.url()); again != c {
		t.Error("Registry.Get replaced a client that is connected")
	}
	if st := old.State(); st != lifecycle.StateClosed {
		t.Errorf("the client that gave up is %v, want closed", st)
	}
	if err := old.Send(testCtx(t), MessageText, []byte("x")); !errors.As(err, &he) {
		t.Errorf("Send on the client that gave up = %v, want the 401 it gave up with", err)
	}
}

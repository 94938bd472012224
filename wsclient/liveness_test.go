package wsclient

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/connkit/connkit/internal/wstest"
	"github.com/connkit/connkit/lifecycle"
)

// heartbeatServer is a WebSocket server that sends frame every period and
// nothing else: it answers no ping and sends no data. It counts the frames
// sent in sent.
func heartbeatServer(t *testing.T, frame []byte, period time.Duration, sent *atomic.Int32) string {
	return rawServer(t, func(c net.Conn) {
		br, err := wstest.Accept(c)
		if err != nil {
			return
		}
		var wg sync.WaitGroup
		defer wg.Wait()
		wg.Go(func() { // reads what the client sends, until its close
			for {
				if op, _, err := wstest.ReadFrame(br); err != nil || op == 0x8 {
					c.Write([]byte{0x88, 0}) // close
					c.Close()
					return
				}
			}
		})
		for {
			time.Sleep(period)
			if _, err := c.Write(frame); err != nil {
				return
			}
			sent.Add(1)
		}
	})
}

// TestControlFramesAreProofOfLife connects to a server that sends only
// pings, or only unsolicited pongs, and answers none of the client's pings:
// the server is alive, so the client keeps its first connection. Sent every
// 20ms, the frames keep the client from pinging; sent every 150ms, they
// arrive while the client's ping (at 100ms of silence) waits for its pong.
func TestControlFramesAreProofOfLife(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		frame  []byte
		period time.Duration
	}{
		{"pings", []byte{0x89, 0}, 20 * time.Millisecond},
		{"pongs", []byte{0x8a, 0}, 20 * time.Millisecond},
		{"pings while a ping waits", []byte{0x89, 0}, 150 * time.Millisecond},
		{"pongs while a ping waits", []byte{0x8a, 0}, 150 * time.Millisecond},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var sent atomic.Int32
			addr := heartbeatServer(t, tt.frame, tt.period, &sent)
			c := newClient(t, Options{URL: "ws://" + addr, PingInterval: 100 * time.Millisecond, PongTimeout: 200 * time.Millisecond})
			if err := c.Connect(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			n := int32(time.Second / tt.period) // ten ping intervals
			waitFor(t, fmt.Sprint(n, " frames"), func() bool { return sent.Load() >= n })
			if st := c.Stats(); st.Connects != 1 || c.State() != lifecycle.StateConnected {
				t.Errorf("the server sent %s (every %v), but the client dropped it: %d connects, last error %q", tt.name, tt.period, st.Connects, st.LastError)
			}
		})
	}
}

// TestMessageJustBeforeAPingIsNotADeadPeer delivers a message after the
// pinger has found the peer silent and before it pings, and then keeps the
// reader waiting on the application for longer than PongTimeout, in
// OnMessage or on a full Recv buffer. The pong waits unread behind it, but
// the peer is alive: the client must keep its first connection.
func TestMessageJustBeforeAPingIsNotADeadPeer(t *testing.T) {
	t.Parallel()
	const (
		pingInterval = 50 * time.Millisecond
		pongTimeout  = 200 * time.Millisecond
		busy         = 4 * pongTimeout // how long the application keeps the reader waiting
	)
	for _, recv := range []bool{false, true} {
		name := "OnMessage"
		if recv {
			name = "Recv"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			send := make(chan struct{})
			s := newServer(t, func(_ int, c *websocket.Conn) {
				ctx := c.CloseRead(context.Background()) // answers pings
				select {
				case <-send:
				case <-ctx.Done():
					return
				}
				// Two messages: with RecvBuffer 1 the second keeps the
				// reader waiting for Recv.
				c.Write(ctx, websocket.MessageText, []byte("one"))
				c.Write(ctx, websocket.MessageText, []byte("two"))
				<-ctx.Done()
			})
			opts := Options{URL: s.url(), PingInterval: pingInterval, PongTimeout: pongTimeout}
			entered := make(chan struct{})
			var enteredOnce sync.Once // a reconnect would bring "one" again
			if recv {
				opts.RecvBuffer = 1
			} else {
				opts.OnMessage = func(m Message) {
					if string(m.Data) == "one" {
						enteredOnce.Do(func() { close(entered) })
						time.Sleep(busy)
					}
				}
			}
			c := newClient(t, opts)
			var (
				once  sync.Once
				pings atomic.Int32
			)
			hooked := make(chan struct{}) // closed once the pinger is past the messages
			c.pingHook = func() {
				pings.Add(1)
				once.Do(func() {
					defer close(hooked)
					close(send)
					if !recv {
						<-entered
						return
					}
					// Not waitFor: this is the pinger's goroutine, not the test's.
					for deadline := time.Now().Add(10 * time.Second); c.Stats().MessagesIn < 2 && time.Now().Before(deadline); {
						time.Sleep(time.Millisecond)
					}
				})
			}
			if err := c.Connect(testCtx(t)); err != nil {
				t.Fatal(err)
			}
			<-hooked
			time.Sleep(busy)
			if recv {
				for range 2 {
					if _, err := c.Recv(testCtx(t)); err != nil {
						t.Fatal(err)
					}
				}
			}
			checkPingsAnswered(t, c, &pings, pongTimeout, "after a message just before a ping")
		})
	}
}

// checkPingsAnswered waits for the client's next ping, counted in pings by
// its pingHook, and for that ping's PongTimeout to run out, then checks
// that the client still has its first connection: pings went on, and were
// answered.
func checkPingsAnswered(t *testing.T, c *Client, pings *atomic.Int32, pongTimeout time.Duration, after string) {
	t.Helper()
	n := pings.Load()
	waitFor(t, "a ping", func() bool { return pings.Load() > n })
	time.Sleep(pongTimeout + 100*time.Millisecond)
	if st := c.Stats(); st.Connects != 1 || c.State() != lifecycle.StateConnected {
		t.Errorf("%s: %d connects, state %v, last error %q; want the first connection, still up", after, st.Connects, c.State(), st.LastError)
	}
}

// TestRecvWaitIsNotPeerSilence keeps the reader waiting on a full Recv
// buffer for longer than PingInterval: the client must not ping meanwhile
// (the pong could not be read), nor count the wait as the peer's silence
// once Recv frees the reader, which would make it ping at once.
func TestRecvWaitIsNotPeerSilence(t *testing.T) {
	t.Parallel()
	const pingInterval = time.Second
	s := newServer(t, func(_ int, c *websocket.Conn) {
		ctx := c.CloseRead(context.Background()) // answers pings
		c.Write(ctx, websocket.MessageText, []byte("one"))
		c.Write(ctx, websocket.MessageText, []byte("two")) // the reader waits with this one
		<-ctx.Done()
	})
	c := newClient(t, Options{URL: s.url(), PingInterval: pingInterval, PongTimeout: 10 * time.Second, RecvBuffer: 1})
	var pings atomic.Int32
	c.pingHook = func() { pings.Add(1) }
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both messages read", func() bool { return c.Stats().MessagesIn == 2 })
	time.Sleep(pingInterval * 3 / 2)
	if n := pings.Load(); n != 0 {
		t.Fatalf("%d pings while the reader waited for Recv; want none", n)
	}
	if _, err := c.Recv(testCtx(t)); err != nil { // frees the reader
		t.Fatal(err)
	}
	// The pinger looks every PingInterval: without the wait counted out, it
	// would ping at its next look, within PingInterval/2 of now.
	time.Sleep(pingInterval * 4 / 5)
	if n := pings.Load(); n != 0 {
		t.Errorf("%d pings within %v of Recv freeing the reader; want none before PingInterval (%v)", n, pingInterval*4/5, pingInterval)
	}
}

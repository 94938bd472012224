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
			opts := Options{URL: s.url(), PingInterval: pingInterval, PongTimeout: pongTimeout, RecvBuffer: 1}
			entered := make(chan struct{}, 2)
			if !recv {
				opts.OnMessage = func(Message) {
					entered <- struct{}{}
					time.Sleep(busy)
				}
			}
			c := newClient(t, opts)
			var once sync.Once
			hooked := make(chan struct{}) // closed once the pinger is past the messages
			c.pingHook = func() {
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
			time.Sleep(2 * pingInterval) // pings resume, and are answered
			if st := c.Stats(); st.Connects != 1 || c.State() != lifecycle.StateConnected {
				t.Errorf("after a message just before a ping: %d connects, state %v, last error %q; want the first connection, still up", st.Connects, c.State(), st.LastError)
			}
		})
	}
}

package wsclient

import (
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

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

package wsclient

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/coder/websocket"
	"github.com/connkit/connkit/lifecycle"
)

// TestConcurrentSendsKeepOrder sends from 8 goroutines at once: every
// message arrives once, each goroutine's in the order it sent them, whether
// it was written by its Send directly or through the queue. Half the
// goroutines queue every other message with TrySend, which a later Send
// must not overtake.
func TestConcurrentSendsKeepOrder(t *testing.T) {
	t.Parallel()
	const senders, each = 8, 300
	s := newServer(t, nil)
	c := newClient(t, Options{URL: s.url()})
	ctx := testCtx(t)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := range senders {
		wg.Go(func() {
			for i := range each {
				msg := fmt.Appendf(nil, "%d:%d", g, i)
				var err error
				if g%2 == 1 && i%2 == 0 {
					err = c.TrySend(MessageText, msg)
				} else {
					err = c.Send(ctx, MessageText, msg)
				}
				if err != nil {
					t.Errorf("Send = %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	waitFor(t, "every message", func() bool { return len(s.received(1)) == senders*each })
	next := make([]int, senders)
	for _, m := range s.received(1) {
		g, i, _ := strings.Cut(m, ":")
		gi, _ := strconv.Atoi(g)
		ii, _ := strconv.Atoi(i)
		if ii != next[gi] {
			t.Fatalf("sender %d: got message %d, want %d", gi, ii, next[gi])
		}
		next[gi]++
	}
	if st := c.Stats(); st.MessagesOut != senders*each || st.QueueDepth != 0 {
		t.Errorf("Stats: %d out, %d queued; want %d and 0", st.MessagesOut, st.QueueDepth, senders*each)
	}
}

// TestWriteTimeout writes to a server that stopped reading: once the socket
// buffers are full, the blocked write fails after WriteTimeout, the Send
// says so, and the client connects again.
func TestWriteTimeout(t *testing.T) {
	t.Parallel()
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	var sp atomic.Pointer[server]
	s := newServer(t, func(n int, c *websocket.Conn) {
		if n == 1 {
			<-stall // never read: the client's writes fill the buffers
			return
		}
		sp.Load().record(n, c)
	})
	sp.Store(s)
	const timeout = 200 * time.Millisecond
	c := newClient(t, Options{URL: s.url(), WriteTimeout: timeout, PingInterval: -1, ReadLimit: 1 << 20})
	ctx := testCtx(t)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1<<20)
	var err error
	var took time.Duration
	for range 256 {
		start := time.Now()
		if err = c.Send(ctx, MessageBinary, big); err != nil {
			took = time.Since(start)
			break
		}
	}
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "WriteTimeout") {
		t.Fatalf("Send to a stalled server = %v, want a WriteTimeout error", err)
	}
	if took < timeout || took > timeout+2*time.Second {
		t.Errorf("the stalled Send failed after %v, want about WriteTimeout (%v)", took, timeout)
	}
	if err := c.Send(ctx, MessageText, []byte("after")); err != nil {
		t.Fatalf("Send after the reconnect = %v", err)
	}
	waitFor(t, "the message on the new connection", func() bool { return len(s.received(2)) == 1 })
	if n := c.Stats().WriteErrors; n != 1 {
		t.Errorf("WriteErrors = %d, want 1", n)
	}
}

// TestQueueOneWriteAtATime checks the queue's rule for direct writes: only
// when nothing is queued and nothing is being written.
func TestQueueOneWriteAtATime(t *testing.T) {
	t.Parallel()
	q := newQueue(10, 1<<20)
	if cn, _ := q.claimDirect(0); cn != nil {
		t.Fatal("claimDirect with no connection up returned one")
	}
	cn := &connection{}
	q.attach(cn)
	m := &outMsg{data: []byte("queued")}
	if err := q.push(m); err != nil {
		t.Fatal(err)
	}
	if got, _ := q.claimDirect(0); got != nil {
		t.Fatal("claimDirect with a message queued: a direct write would overtake it")
	}
	if q.pop() != m {
		t.Fatal("pop did not return the queued message")
	}
	if got, _ := q.claimDirect(0); got != nil {
		t.Fatal("claimDirect while the writer writes: two writes at once")
	}
	if err := q.push(&outMsg{data: []byte("next")}); err != nil {
		t.Fatal(err)
	}
	if q.pop() != nil {
		t.Fatal("pop while a write is in progress returned a message")
	}
	q.finish(m, nil)
	if next := q.pop(); next == nil {
		t.Fatal("pop after the write ended returned nothing")
	} else {
		q.finish(next, nil)
	}
	if got, _ := q.claimDirect(0); got != cn {
		t.Fatal("claimDirect on an idle queue did not return the connection")
	}
	q.release()
	q.detach(&connection{})
	if got, _ := q.claimDirect(0); got != cn {
		t.Fatal("detach of another connection detached the current one")
	}
	q.release()
	q.detach(cn)
	if got, _ := q.claimDirect(0); got != nil {
		t.Fatal("claimDirect after detach returned the connection")
	}
}

// TestCloseTimeoutWithSilentPeer closes a client whose peer never answers
// the close frame: Close returns after CloseTimeout, not after
// coder/websocket's own 5s.
func TestCloseTimeoutWithSilentPeer(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	t.Cleanup(func() { close(hold) })
	s := newServer(t, func(n int, c *websocket.Conn) { <-hold }) // reads nothing, answers nothing
	const closeTimeout = 200 * time.Millisecond
	c, err := New(Options{URL: s.url(), CloseTimeout: closeTimeout})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := c.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > closeTimeout+time.Second {
		t.Errorf("Close took %v with a silent peer, want about CloseTimeout (%v)", took, closeTimeout)
	}
}

// TestConnectionLostDuringOnConnected drops the connection while
// OnConnected runs: the dead connection must not take direct writes, so a
// Send waits for the next connection instead of failing.
func TestConnectionLostDuringOnConnected(t *testing.T) {
	t.Parallel()
	var sp atomic.Pointer[server]
	s := newServer(t, func(n int, c *websocket.Conn) {
		if n == 1 {
			c.Close(websocket.StatusServiceRestart, "bye") // at once, while OnConnected runs
			return
		}
		sp.Load().record(n, c)
	})
	sp.Store(s)
	var calls atomic.Int32
	c := newClient(t, Options{
		URL: s.url(),
		OnConnected: func(ctx context.Context, _ *Session) error {
			if calls.Add(1) == 1 {
				time.Sleep(100 * time.Millisecond) // the server's close arrives meanwhile
			}
			return nil
		},
		NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(300 * time.Millisecond) },
	})
	c.ensureStarted()
	waitFor(t, "the first OnConnected to end", func() bool { return calls.Load() >= 1 && c.State() != lifecycle.StateConnecting })
	time.Sleep(120 * time.Millisecond)
	if err := c.Send(testCtx(t), MessageText, []byte("after")); err != nil {
		t.Fatalf("Send after a connection lost during OnConnected = %v, want it delivered on the next one", err)
	}
	waitFor(t, "the message on the second connection", func() bool { return len(s.received(2)) == 1 })
}

// TestQueueBytesBoundsDirectWrites sends a message larger than QueueBytes
// on an idle connection: refused, as it would be when queued.
func TestQueueBytesBoundsDirectWrites(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := newClient(t, Options{URL: s.url(), QueueBytes: 10})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.Send(testCtx(t), MessageBinary, make([]byte, 100)); !errors.Is(err, ErrQueueFull) {
		t.Errorf("Send of 100 bytes with QueueBytes 10 = %v, want ErrQueueFull", err)
	}
	if err := c.Send(testCtx(t), MessageBinary, make([]byte, 10)); err != nil {
		t.Errorf("Send of 10 bytes = %v", err)
	}
}

// TestCancelledSendKeepsTheConnection cancels a Send's ctx while its frame
// is being written (the server is not reading, so the write waits on full
// socket buffers). In coder/websocket a cancelled write context closes the
// connection; in wsclient the caller's ctx never reaches the socket: the
// Send waits for its frame and returns nil once it is written, and the
// connection goes on carrying the next message.
func TestCancelledSendKeepsTheConnection(t *testing.T) {
	t.Parallel()
	const size = 32 << 20 // well past loopback's socket buffers
	reading := make(chan struct{})
	var once sync.Once
	startReading := func() { once.Do(func() { close(reading) }) }
	t.Cleanup(startReading)
	var sp atomic.Pointer[server]
	s := newServer(t, func(n int, c *websocket.Conn) {
		c.SetReadLimit(2 * size)
		<-reading
		sp.Load().record(n, c)
	})
	sp.Store(s)
	c := newClient(t, Options{URL: s.url(), PingInterval: -1, WriteTimeout: 30 * time.Second, QueueBytes: 2 * size})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	done := make(chan error, 1)
	go func() { done <- c.Send(ctx, MessageBinary, make([]byte, size)) }()
	time.Sleep(100 * time.Millisecond) // the write fills the buffers and waits
	cancel()
	select {
	case err := <-done:
		t.Fatalf("Send returned %v while its frame was still being written", err)
	case <-time.After(100 * time.Millisecond):
	}
	startReading()
	if err := <-done; err != nil {
		t.Fatalf("Send whose ctx was cancelled mid-write = %v, want nil: the frame was written", err)
	}
	if err := c.Send(testCtx(t), MessageText, []byte("after")); err != nil {
		t.Fatalf("the next Send = %v", err)
	}
	waitFor(t, "both messages on the first connection", func() bool { return len(s.received(1)) == 2 })
	if got := s.received(1); len(got[0]) != size || got[1] != "after" {
		t.Errorf("the server got %d bytes then %q, want %d then \"after\"", len(got[0]), got[1], size)
	}
	if st := c.Stats(); st.Connects != 1 || st.WriteErrors != 0 {
		t.Errorf("Stats: %d connects, %d write errors; want 1 and 0 (the connection survived)", st.Connects, st.WriteErrors)
	}
}

package wsclient

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/connkit/connkit/lifecycle"
)

// TestSendInOnMessageAcrossAReconnect: OnMessage answers with Send while
// the queue is busy, and the connection fails with that answer queued. The
// answer waits for the next connection, as any queued message does, and
// the client must reconnect meanwhile: the reconnect does not wait for the
// reader that is still in OnMessage. Before, the supervisor waited for that
// reader, the reader for the Send and the Send for a reconnect: the client
// hung, and so did Close.
func TestSendInOnMessageAcrossAReconnect(t *testing.T) {
	t.Parallel()
	goSend := make(chan struct{})
	hold := make(chan struct{})
	defer close(hold)
	got := make(chan string, 4)
	s := newServer(t, func(n int, c *websocket.Conn) {
		if n == 1 {
			<-goSend // reads nothing: the client's big write blocks
			c.Write(context.Background(), websocket.MessageText, []byte("go"))
			<-hold
			return
		}
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			got <- string(data)
		}
	})
	var c *Client
	replied := make(chan error, 1)
	c = newClient(t, Options{URL: s.url(), PingInterval: -1, WriteTimeout: 300 * time.Millisecond,
		QueueBytes: 64 << 20, NewBackOff: fastBackOff,
		OnMessage: func(m Message) { replied <- c.Send(context.Background(), MessageText, []byte("reply")) }})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if err := c.TrySend(MessageBinary, make([]byte, 16<<20)); err != nil { // more than the socket buffers: the writer blocks on it
		t.Fatal(err)
	}
	close(goSend)
	select {
	case err := <-replied:
		if err != nil {
			t.Fatalf("the reply's Send = %v, want nil once written on the next connection", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("the reply's Send has not returned after 10s: state %v, %d handshakes, %+v", c.State(), s.handshakes.Load(), c.Stats())
	}
	select {
	case m := <-got:
		if m != "reply" {
			t.Errorf("the next connection got %q first, want the reply", m)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the reply never reached the server")
	}
}

// TestSecondCloseKeepsItsContext: a Close while another is still writing
// the queue returns when its own ctx ends.
func TestSecondCloseKeepsItsContext(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	defer close(hold)
	s := newServer(t, func(n int, c *websocket.Conn) { <-hold }) // never answers the close
	c := newClient(t, Options{URL: s.url(), PingInterval: -1, CloseTimeout: 1500 * time.Millisecond})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	first := make(chan error, 1)
	go func() { first <- c.Close(context.Background()) }() // waits CloseTimeout for the peer's close
	waitFor(t, "the first Close", func() bool { return c.State() == lifecycle.StateClosing })
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err := c.Close(ctx)
	if took := time.Since(start); took > time.Second || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second Close(200ms ctx) = %v after %v, want DeadlineExceeded at once", err, took)
	}
	<-first
}

// TestCloseWhileDisconnectedSaysWhatItDropped: messages queued while the
// client is not connected are not written by Close, and Close says so.
func TestCloseWhileDisconnectedSaysWhatItDropped(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.setRefuse(503)
	c := newClient(t, Options{URL: s.url(), NewBackOff: fastBackOff})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c.Connect(ctx)
	for range 3 {
		if err := c.TrySend(MessageText, []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	err := c.Close(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), "3 queued message(s) not written") {
		t.Errorf("Close = %v, want an error saying 3 queued messages were not written", err)
	}
	if d := c.Stats().Dropped; d != 3 {
		t.Errorf("Stats.Dropped = %d, want 3", d)
	}
}

// TestBadMessageTypeIsRefused: only text and binary are data messages; any
// other type would make the server close the connection as a protocol
// error, and the client would give up.
func TestBadMessageTypeIsRefused(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := newClient(t, Options{URL: s.url()})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []MessageType{0, 8, 9, -1} {
		if err := c.Send(testCtx(t), typ, []byte("x")); err == nil {
			t.Errorf("Send(type %d) = nil, want an error", typ)
		}
		if err := c.TrySend(typ, []byte("x")); err == nil {
			t.Errorf("TrySend(type %d) = nil, want an error", typ)
		}
	}
	if st := c.Stats(); st.QueueDepth != 0 || st.MessagesOut != 0 || c.State() != lifecycle.StateConnected {
		t.Errorf("after refused sends: %+v, state %v; want nothing queued or written, still connected", st, c.State())
	}
}

// TestCloseDuringADialIsNotADialError: an attempt that Close ended did not
// fail.
func TestCloseDuringADialIsNotADialError(t *testing.T) {
	t.Parallel()
	hold := make(chan struct{})
	addr := rawServer(t, func(net.Conn) { <-hold }) // never answers the handshake
	defer close(hold)
	c := newClient(t, Options{URL: "ws://" + addr})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	c.Connect(ctx)
	if err := c.Close(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.DialErrors != 0 {
		t.Errorf("Stats.DialErrors = %d after a Close during the first dial, want 0", st.DialErrors)
	}
}

// TestCloseFromOnStateChange: OnStateChange may close the client; Close
// then cannot wait for the callback it runs in, and must not try.
func TestCloseFromOnStateChange(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	s.setRefuse(503)
	var c *Client
	returned := make(chan error, 1)
	c = newClient(t, Options{URL: s.url(), NewBackOff: fastBackOff, OnStateChange: func(from, to lifecycle.State) {
		if to == lifecycle.StateBackoff && len(returned) == 0 {
			returned <- c.Close(context.Background())
		}
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c.Connect(ctx)
	select {
	case err := <-returned:
		if err != nil {
			t.Errorf("Close from OnStateChange = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Close called from OnStateChange has not returned after 5s; state %v", c.State())
	}
	waitFor(t, "StateClosed", func() bool { return c.State() == lifecycle.StateClosed })
}

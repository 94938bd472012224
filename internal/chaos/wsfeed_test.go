package chaos

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/connkit/connkit/internal/wstest"
	"github.com/connkit/connkit/wsclient"
)

// wsFeed sends numbered messages through a wsclient, one after the other,
// until stopped, and keeps which Sends returned nil and which failed.
type wsFeed struct {
	c       *wsclient.Client
	timeout time.Duration // bounds each Send's ctx
	tally   *load         // every Send: errors by kind, the slowest
	stop    chan struct{}
	wg      sync.WaitGroup

	sent, failed []int // the feed's own until finish returns
}

// wsSendTimeout bounds each Send of a feed; wsWriteTimeout is its
// client's WriteTimeout. A Send returns within their sum.
const wsSendTimeout, wsWriteTimeout = 200 * time.Millisecond, time.Second

// startWSFeed connects a client to addr and starts sending.
func startWSFeed(t *testing.T, addr string) *wsFeed {
	c, err := wsclient.New(wsclient.Options{
		URL:            "ws://" + addr,
		NewBackOff:     func() backoff.BackOff { return backoff.NewConstantBackOff(20 * time.Millisecond) },
		ConnectTimeout: time.Second, WriteTimeout: wsWriteTimeout, CloseTimeout: time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	f := &wsFeed{c: c, timeout: wsSendTimeout, tally: newLoad(), stop: make(chan struct{})}
	f.wg.Go(f.run)
	t.Cleanup(f.halt)
	return f
}

func (f *wsFeed) run() {
	for i := 0; ; i++ {
		select {
		case <-f.stop:
			return
		default:
		}
		began := time.Now()
		err := f.send(i, f.timeout)
		f.tally.record(began, time.Since(began), -1, err, classifyWS)
		if errors.Is(err, wsclient.ErrClosed) {
			return
		}
		time.Sleep(500 * time.Microsecond) // leave the pools' borrowers some CPU
	}
}

// send sends message i with a ctx of timeout and keeps whether it failed.
func (f *wsFeed) send(i int, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	err := f.c.Send(ctx, wsclient.MessageText, []byte(strconv.Itoa(i)))
	if err == nil {
		f.sent = append(f.sent, i)
	} else {
		f.failed = append(f.failed, i)
	}
	return err
}

// halt stops the sender and waits for it.
func (f *wsFeed) halt() {
	select {
	case <-f.stop:
	default:
		close(f.stop)
	}
	f.wg.Wait()
}

// finish stops the sender, sends one last message that must get through
// within within (the server is up again), and closes the client.
func (f *wsFeed) finish(t *testing.T, within time.Duration) {
	f.halt()
	if err := f.send(len(f.sent)+len(f.failed), within); err != nil {
		t.Errorf("ws: a Send did not get through within %v of the faults ending: %v", within, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.c.Close(ctx); err != nil {
		t.Errorf("ws: Close = %v", err)
	}
}

// check fails t unless every Send that returned nil arrived exactly once,
// everything arrived in order, and nothing whose Send failed arrived. The
// feed must be finished and the server stopped.
func (f *wsFeed) check(t *testing.T, got []int) {
	t.Helper()
	if err := wstest.CheckDelivery(f.sent, f.failed, got); err != nil {
		t.Errorf("ws: %v", err)
	}
	for _, e := range f.tally.unknownErrors("ws-send-timeout", "ws-connection-lost") {
		t.Errorf("ws: a Send error a caller cannot act on: %s", e)
	}
	if slow, bound := f.tally.slowest, wsSendTimeout+wsWriteTimeout+time.Second; slow > bound {
		t.Errorf("ws: a Send took %v, past its bound of %v", slow, bound)
	}
}

// classifyWS names the kind of a Send's error.
func classifyWS(err error) string {
	switch {
	case errors.Is(err, wsclient.ErrClosed):
		return "ws-closed" // the client gave up: it must not
	case errors.Is(err, wsclient.ErrQueueFull):
		return "ws-queue-full" // one Send at a time cannot fill the queue
	case errors.Is(err, context.DeadlineExceeded):
		return "ws-send-timeout" // waited in the queue while reconnecting
	}
	return "ws-connection-lost" // the connection failed under the write
}

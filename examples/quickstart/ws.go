package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/wsclient"
)

// queued is how many messages are sent while the WebSocket server is down.
const queued = 3

// ws shows a wsclient.Client through a server restart: Sends made while the
// server is down wait in the queue and are written once it is back.
func (d *demo) ws(ctx context.Context) error {
	srv, addr, err := startWSServer("127.0.0.1:0")
	if err != nil {
		return err
	}
	url := "ws://" + addr + "/echo"
	d.closeLater("websocket server", func(context.Context) error { return srv.stop() }) // srv: the current one
	states := newWatcher(d.say)
	c, err := wsclient.New(wsclient.Options{
		URL:           url,
		NewBackOff:    func() backoff.BackOff { return demoBackOff(100*time.Millisecond, 1.5) },
		OnStateChange: states.changed,
	})
	if err != nil {
		return err
	}
	d.closeLater("wsclient", c.Close) // closed before the server: a clean 1000 close
	d.outMu.Lock()
	d.wss = append(d.wss, c)
	d.outMu.Unlock()

	d.section("wsclient: a guarded WebSocket client to " + url)
	if err := c.Connect(ctx); err != nil {
		return err
	}
	if err := sendAndEcho(ctx, d, c, "hello"); err != nil {
		return err
	}

	d.say("   stopping the server (1012 service restart); the client retries with backoff")
	if err := srv.stop(); err != nil {
		return err
	}
	if err := states.waitFor(ctx, lifecycle.StateBackoff, 2); err != nil { // the drop, a refused attempt
		return err
	}
	var sends sync.WaitGroup
	errs := make([]error, queued)
	for i := range queued {
		msg := fmt.Sprintf("queued %d", i+1)
		sends.Go(func() { errs[i] = c.Send(ctx, wsclient.MessageText, []byte(msg)) })
		if err := poll(ctx, "the send queue", func() bool { return c.Stats().QueueDepth == i+1 }); err != nil {
			return err // waited for, so that the queue's order is i's
		}
		d.say("   Send(%q) waits in the queue (depth %d)", msg, i+1)
	}

	if srv, _, err = startWSServer(addr); err != nil {
		return fmt.Errorf("restart on the same address: %w", err)
	}
	d.say("   server restarted; the client reconnects at its next attempt")
	sends.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("send %d: %w", i+1, err)
		}
	}
	if err := states.waitFor(ctx, lifecycle.StateConnected, 2); err != nil { // for the narration's order
		return err
	}
	d.say("   the %d queued Sends returned nil: written after the reconnect, in order", queued)
	for range queued {
		m, err := c.Recv(ctx)
		if err != nil {
			return err
		}
		d.say("   echo %q", m.Data)
	}
	d.say("   %s", formatWS(c.Stats()))
	return nil
}

// sendAndEcho sends msg and waits for the server's echo.
func sendAndEcho(ctx context.Context, d *demo, c *wsclient.Client, msg string) error {
	if err := c.Send(ctx, wsclient.MessageText, []byte(msg)); err != nil {
		return err
	}
	m, err := c.Recv(ctx)
	if err != nil {
		return err
	}
	d.say("   sent %q, echo %q", msg, m.Data)
	return nil
}

// formatWS returns the figures of a client's stats on one line.
func formatWS(st wsclient.Stats) string {
	return fmt.Sprintf("stats: state %s; connects %d, dial errors %d; messages out %d, in %d; queued %d, dropped %d",
		st.State, st.Connects, st.DialErrors, st.MessagesOut, st.MessagesIn, st.QueueDepth, st.Dropped)
}

// watcher prints every state change of a client and lets the demo wait for
// one, so that the narration and the changes come out in order.
type watcher struct {
	say func(string, ...any)

	mu     sync.Mutex // protects the fields below
	counts map[lifecycle.State]int
	wake   chan struct{} // closed and replaced on every change
}

func newWatcher(say func(string, ...any)) *watcher {
	return &watcher{say: say, counts: make(map[lifecycle.State]int), wake: make(chan struct{})}
}

// changed is the client's OnStateChange.
func (w *watcher) changed(from, to lifecycle.State) {
	w.say("   wsclient: %s -> %s", from, to)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts[to]++
	close(w.wake)
	w.wake = make(chan struct{})
}

// waitFor waits until the client has entered state to n times in all.
func (w *watcher) waitFor(ctx context.Context, to lifecycle.State, n int) error {
	for {
		w.mu.Lock()
		got, wake := w.counts[to], w.wake
		w.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for state %s (%d times, seen %d): %w", to, n, got, ctx.Err())
		case <-wake:
		}
	}
}

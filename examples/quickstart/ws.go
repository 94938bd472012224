package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/connkit/connkit/internal/wsdemo"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/wsclient"
)

// queued is how many messages are sent while the WebSocket server is down.
const queued = 3

// ws shows a wsclient.Client through a server restart: Sends made while the
// server is down wait in the queue and are written once it is back.
func (d *demo) ws(ctx context.Context) error {
	srv, err := wsdemo.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := srv.Addr()
	url := "ws://" + addr + "/echo"
	d.closeLater("websocket server", func(context.Context) error { return srv.Stop() }) // srv: the current one
	states := wsdemo.NewWatcher(func(from, to lifecycle.State) { d.say("   wsclient: %s -> %s", from, to) })
	c, err := wsclient.New(wsclient.Options{
		URL:           url,
		NewBackOff:    func() backoff.BackOff { return demoBackOff(100*time.Millisecond, 1.5) },
		OnStateChange: states.Changed,
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
	if err := srv.Stop(); err != nil {
		return err
	}
	if err := states.WaitFor(ctx, lifecycle.StateBackoff, 2); err != nil { // the drop, a refused attempt
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

	if srv, err = wsdemo.Start(addr); err != nil {
		return fmt.Errorf("restart on the same address: %w", err)
	}
	d.say("   server restarted; the client reconnects at its next attempt")
	sends.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("send %d: %w", i+1, err)
		}
	}
	if err := states.WaitFor(ctx, lifecycle.StateConnected, 2); err != nil { // for the narration's order
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

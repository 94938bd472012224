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

// queued is how many messages the demo sends while the server is down.
const queued = 5

// demo runs the self-contained demo against an in-process echo server that
// it stops and starts again.
func demo(ctx context.Context, say func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()

	srv, err := wsdemo.Start("127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := srv.Addr()
	url := "ws://" + addr + "/echo"
	say("echo server listening on %s", url)

	states := wsdemo.NewWatcher(func(from, to lifecycle.State) { say("   state: %s -> %s", from, to) })
	reg := wsclient.NewRegistry(func(url string) wsclient.Options {
		return wsclient.Options{
			URL:           url,
			NewBackOff:    demoBackOff,
			OnStateChange: states.Changed,
		}
	})
	var group lifecycle.Group
	group.Add("echo server", func(context.Context) error { return srv.Stop() }) // the current one
	group.Add("wsclient registry", reg.Close)                                   // closed first
	defer shutdown(ctx, &group)                                                 // on an early return; a no-op after the one below

	say("\n1. get the endpoint's client from the registry, connect, send 3 messages")
	c, err := reg.Get(url)
	if err != nil {
		return err
	}
	if err := c.Connect(ctx); err != nil { // Get started connecting: this waits for it
		return err
	}
	if err := states.WaitFor(ctx, lifecycle.StateConnected, 1); err != nil {
		return err
	}
	again, _ := reg.Get(url)
	say("   one client per endpoint: a second Get returns the same client: %v", again == c)
	for n := 1; n <= 3; n++ {
		if err := sendAndEcho(ctx, c, say, n); err != nil {
			return err
		}
	}

	say("\n2. stop the server: listener closed, connection closed with 1012 (service restart)")
	if err := srv.Stop(); err != nil {
		return err
	}
	// The drop, then two refused attempts: three times in backoff.
	if err := states.WaitFor(ctx, lifecycle.StateBackoff, 3); err != nil {
		return err
	}
	say("   the client keeps trying, with backoff; last error: %s", c.Stats().LastError)

	say("\n3. send %d messages while the server is down: each Send waits in the queue", queued)
	var sends sync.WaitGroup
	errs := make([]error, queued)
	for i := range queued {
		n := 4 + i
		sends.Go(func() { errs[i] = c.Send(ctx, wsclient.MessageText, message(n)) })
		// Wait for it to be queued before the next, so that the queue's
		// order is n's.
		if err := waitQueued(ctx, c, i+1); err != nil {
			return err
		}
		say("   Send(%q) is waiting (queue depth %d)", message(n), i+1)
	}

	say("\n4. start the server again on %s", addr)
	if srv, err = wsdemo.Start(addr); err != nil {
		return fmt.Errorf("restart on the same address: %w", err)
	}
	sends.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("send %q: %w", message(4+i), err)
		}
	}
	if err := states.WaitFor(ctx, lifecycle.StateConnected, 2); err != nil {
		return err
	}
	say("   delivered %d queued messages after the restart (each Send returned nil once written)", queued)
	for range queued {
		m, err := c.Recv(ctx)
		if err != nil {
			return err
		}
		say("   echo %q", m.Data)
	}

	say("\n5. stats")
	say("   %s", formatStats(c.Stats()))

	say("\n6. shutdown (lifecycle.Group): the registry closes its clients (1000), then the server stops")
	if err := shutdown(ctx, &group); err != nil {
		return err
	}
	say("   done: final state %s", c.State())
	return nil
}

// shutdown shuts group down within 5s, even when ctx has ended.
func shutdown(ctx context.Context, group *lifecycle.Group) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return group.Shutdown(ctx)
}

// demoBackOff spaces reconnects 100ms, 150ms, 225ms... without jitter, so
// the demo is quick and repeatable. Keep wsclient.DefaultBackOff in a real
// program: its ±50% jitter stops a fleet of clients from reconnecting in
// step after a server restart.
func demoBackOff() backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(100*time.Millisecond),
		backoff.WithMultiplier(1.5),
		backoff.WithRandomizationFactor(0),
		backoff.WithMaxInterval(time.Second),
		backoff.WithMaxElapsedTime(0), // never stop
	)
}

func message(n int) []byte { return fmt.Appendf(nil, "message %d", n) }

// sendAndEcho sends message n and waits for the server's echo.
func sendAndEcho(ctx context.Context, c *wsclient.Client, say func(string, ...any), n int) error {
	if err := c.Send(ctx, wsclient.MessageText, message(n)); err != nil {
		return err
	}
	m, err := c.Recv(ctx)
	if err != nil {
		return err
	}
	say("   sent %q, echo %q", message(n), m.Data)
	return nil
}

// waitQueued waits until c's send queue holds depth messages.
func waitQueued(ctx context.Context, c *wsclient.Client, depth int) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for c.Stats().QueueDepth < depth {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %d queued messages: %w", depth, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

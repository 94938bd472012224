package main

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connkit/connkit/lifecycle"
)

// guard shows a lifecycle.Guard: one connection shared by many goroutines,
// one dial however many ask, fast failures while the backend is down.
func (d *demo) guard(ctx context.Context) error {
	b, err := startBackend("127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := b.addr()
	d.closeLater("guard's backend", func(context.Context) error { return b.kill() }) // b: the current one
	d.section("lifecycle.Guard: one connection to " + addr + ", shared")

	var dials atomic.Int32
	g, err := lifecycle.NewGuard(lifecycle.GuardConfig[net.Conn]{
		Connect: func(ctx context.Context) (net.Conn, error) {
			dials.Add(1)
			return lifecycle.NewDialer().DialContext(ctx, "tcp", addr)
		},
		Close:          net.Conn.Close,
		ConnectTimeout: 2 * time.Second,
		OnStateChange:  func(from, to lifecycle.State) { d.say("   guard: %s -> %s", from, to) },
	})
	if err != nil {
		return err
	}
	d.closeLater("guard", func(context.Context) error { return g.Close() })

	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { _, _ = g.Get(ctx) })
	}
	wg.Wait()
	d.say("   100 goroutines called Get at once: %d dial", dials.Load())

	c, err := g.Get(ctx)
	if err != nil {
		return err
	}
	if err := b.kill(); err != nil {
		return err
	}
	d.say("   backend killed; a write fails: %v", writeUntilBroken(c))
	g.Invalidate(c)
	before := dials.Load()
	for range 50 {
		_, err = g.Get(ctx)
	}
	d.say("   50 Gets while it is down: %d dial; the others failed fast:\n   %v", dials.Load()-before, err)

	if b, err = startBackend(addr); err != nil {
		return err
	}
	start := time.Now()
	if err := poll(ctx, "the guard to reconnect", func() bool {
		_, err := g.Get(ctx)
		return err == nil
	}); err != nil {
		return err
	}
	d.say("   backend restarted: reconnected %v later, at the first Get after the backoff delay",
		time.Since(start).Round(time.Millisecond))
	return nil
}

// writeUntilBroken writes to c until the closed peer makes a write fail, and
// returns the write's error.
func writeUntilBroken(c net.Conn) error {
	for range 100 {
		if _, err := c.Write([]byte("ping\n")); err != nil {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
	return errors.New("peer still accepting writes")
}

// Command quickstart shows connkit at work with nothing to install: it starts
// an in-process TCP backend, shares one guarded connection to it between many
// goroutines, takes the backend away and brings it back, and shuts down in
// order.
//
//	go run ./examples/quickstart
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connkit/connkit/lifecycle"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out io.Writer) error {
	var outMu sync.Mutex // OnStateChange prints from the guard's goroutines too
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}

	backend, err := startBackend("127.0.0.1:0")
	if err != nil {
		return err
	}
	addr := backend.addr()
	say("backend listening on %s", addr)

	var dials atomic.Int32
	guard, err := lifecycle.NewGuard(lifecycle.GuardConfig[net.Conn]{
		Connect: func(ctx context.Context) (net.Conn, error) {
			dials.Add(1)
			var d net.Dialer
			return d.DialContext(ctx, "tcp", addr)
		},
		Close:          net.Conn.Close,
		ConnectTimeout: 2 * time.Second,
		OnStateChange: func(from, to lifecycle.State) {
			say("  guard: %s -> %s", from, to)
		},
	})
	if err != nil {
		return err
	}
	var group lifecycle.Group
	group.Add("backend", func(context.Context) error { return backend.close() })
	group.Add("guard", func(context.Context) error { return guard.Close() })

	say("\n1. 100 goroutines ask for the connection at once")
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() { _, _ = guard.Get(ctx) })
	}
	wg.Wait()
	say("   dials: %d (one connect, shared)", dials.Load())

	say("\n2. the backend goes away; a write fails and the connection is reported broken")
	c, err := guard.Get(ctx)
	if err != nil {
		return err
	}
	if err := backend.close(); err != nil {
		return err
	}
	say("   write failed: %v", writeUntilBroken(c))
	guard.Invalidate(c)
	before := dials.Load()
	for range 50 {
		_, err = guard.Get(ctx)
	}
	say("   50 more Gets while it is down: %d dial(s); they fail fast with:\n   %v", dials.Load()-before, err)

	say("\n3. the backend comes back on the same address")
	if backend, err = startBackend(addr); err != nil {
		return err
	}
	start := time.Now()
	for {
		if _, err = guard.Get(ctx); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("backend did not come back: %w", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	say("   reconnected %v later: the first Get after the backoff delay dialed", time.Since(start).Round(time.Millisecond))

	say("\n4. shutdown, in reverse order of start")
	sctx, scancel := context.WithTimeout(ctx, 5*time.Second)
	defer scancel()
	if err := group.Shutdown(sctx); err != nil {
		return err
	}
	say("   done: %d dials in all, final state %s", dials.Load(), guard.State())
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

// backend is a TCP server that reads and discards what it is sent.
type backend struct {
	ln    net.Listener
	mu    sync.Mutex // protects conns
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup
}

func startBackend(addr string) (*backend, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &backend{ln: ln, conns: make(map[net.Conn]struct{})}
	b.wg.Go(b.serve)
	return b, nil
}

func (b *backend) addr() string { return b.ln.Addr().String() }

func (b *backend) serve() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		b.conns[c] = struct{}{}
		b.mu.Unlock()
		b.wg.Go(func() { _, _ = io.Copy(io.Discard, c) })
	}
}

// close stops the server and drops every connection, as a crash would.
func (b *backend) close() error {
	err := b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	clear(b.conns)
	b.mu.Unlock()
	b.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

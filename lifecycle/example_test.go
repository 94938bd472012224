package lifecycle_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/connkit/connkit/lifecycle"
)

// A Guard shares one connection between goroutines; Invalidate replaces it
// when a user finds it broken.
func ExampleGuard() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	defer ln.Close()
	go func() { // a server that reads until the client hangs up
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(io.Discard, c); c.Close() }()
		}
	}()

	dials := 0
	g, err := lifecycle.NewGuard(lifecycle.GuardConfig[net.Conn]{
		Connect: func(ctx context.Context) (net.Conn, error) {
			dials++ // safe: connects never run concurrently
			var d net.Dialer
			return d.DialContext(ctx, "tcp", ln.Addr().String())
		},
		Close:          net.Conn.Close,
		ConnectTimeout: 5 * time.Second,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer g.Close()

	ctx := context.Background()
	c1, _ := g.Get(ctx)
	c2, _ := g.Get(ctx)
	fmt.Println("same connection:", c1 == c2, "dials:", dials)

	// A write failed: report the connection broken. The next Get redials.
	g.Invalidate(c1)
	c3, _ := g.Get(ctx)
	fmt.Println("new connection:", c3 != c1, "dials:", dials, "state:", g.State())
	// Output:
	// same connection: true dials: 1
	// new connection: true dials: 2 state: connected
}

// Callers that arrive while the guard backs off get the last failure at once.
func ExampleBackoffError() {
	g, _ := lifecycle.NewGuard(lifecycle.GuardConfig[net.Conn]{
		Connect: func(ctx context.Context) (net.Conn, error) {
			return nil, errors.New("connection refused")
		},
	})
	defer g.Close()

	_, err := g.Get(context.Background())  // dials and fails
	_, err2 := g.Get(context.Background()) // fails at once, no dial
	var be *lifecycle.BackoffError
	if errors.As(err2, &be) {
		fmt.Println(be.Op, "failed", be.Failures, "time(s):", be.Err)
		fmt.Println("same failure reported:", err == err2)
	}
	// Output:
	// connect failed 1 time(s): connection refused
	// same failure reported: true
}

// A Group closes what was added last first: the server stops taking requests
// before the pool behind it is closed.
func ExampleGroup() {
	var g lifecycle.Group
	g.Add("pool", func(ctx context.Context) error {
		fmt.Println("pool closed")
		return nil
	})
	g.Add("http", func(ctx context.Context) error {
		fmt.Println("http server drained")
		return nil
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := g.Shutdown(ctx); err != nil {
		fmt.Println(err)
	}
	// Output:
	// http server drained
	// pool closed
}

// Run is the last line of main: it returns once the process has been asked to
// stop and the group has shut down.
func ExampleRun() {
	var g lifecycle.Group
	g.Add("server", func(ctx context.Context) error {
		fmt.Println("server stopped")
		return nil
	})

	// In main this is signal-driven; here the context ends at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := lifecycle.Run(ctx, &g, 25*time.Second); err != nil {
		fmt.Println("shutdown:", err)
	}
	// Output:
	// server stopped
}

// NewDialer's connections find a vanished peer in about a minute.
func ExampleNewDialer() {
	ka := lifecycle.DefaultKeepAlive()
	fmt.Println(ka.Idle, ka.Interval, ka.Count)
	_ = lifecycle.NewDialer() // use d.DialContext(ctx, "tcp", addr)
	// Output: 30s 10s 3
}

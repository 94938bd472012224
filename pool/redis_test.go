package pool_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/pool"
)

// respConn is a raw Redis connection speaking just enough RESP for PING.
type respConn struct {
	net.Conn
	r *bufio.Reader
}

func dialRESP(addr string) func(ctx context.Context) (*respConn, error) {
	return func(ctx context.Context) (*respConn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return nil, err
		}
		return &respConn{Conn: c, r: bufio.NewReader(c)}, nil
	}
}

func (c *respConn) ping(ctx context.Context) error {
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
		defer c.SetDeadline(time.Time{})
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// TestRedisKilledAndRestarted takes a real redis-server away under a warm
// pool and brings it back: callers get errors while it is down, never a dead
// connection, and the pool recovers on its own.
func TestRedisKilledAndRestarted(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t, nil)
	p, err := pool.New(pool.Config[*respConn]{
		Name:          "redis",
		Dial:          dialRESP(srv.Addr()),
		Close:         func(c *respConn) error { return c.Close() },
		Ping:          func(ctx context.Context, c *respConn) error { return c.ping(ctx) },
		PingAfterIdle: time.Nanosecond, // check every idle connection before handing it out
		PingTimeout:   time.Second,
		MaxSize:       4,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var held []*pool.Conn[*respConn]
	for range 4 {
		c, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		if err := c.Value().ping(ctx); err != nil {
			t.Fatal(err)
		}
		c.Release()
	}

	srv.Kill()
	_, err = p.Acquire(ctx)
	if err == nil {
		t.Fatal("Acquire succeeded with the server down: it handed out a dead connection")
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Acquire with the server down = %v; want the dial error", err)
	}
	// Destroys finish in the background (puddle closes connections on
	// goroutines of its own): give the counters a moment.
	s := p.Stats()
	for end := time.Now().Add(5 * time.Second); (s.Destroyed.Ping != 4 || s.Open != 0) && time.Now().Before(end); s = p.Stats() {
		time.Sleep(time.Millisecond)
	}
	if s.Destroyed.Ping != 4 || s.Open != 0 {
		t.Errorf("after the kill: %+v; want the 4 dead connections destroyed by their pings", s)
	}

	srv.Start()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := p.With(ctx, func(ctx context.Context, c *respConn) error { return c.ping(ctx) })
		if err == nil {
			break
		}
		if !errors.Is(err, syscall.ECONNREFUSED) || time.Now().After(deadline) {
			t.Fatalf("after the restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for range 20 {
		if err := p.With(ctx, func(ctx context.Context, c *respConn) error { return c.ping(ctx) }); err != nil {
			t.Fatalf("a connection handed out after recovery failed: %v", err)
		}
	}
}

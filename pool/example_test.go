package pool_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/connkit/connkit/pool"
)

// A pool of TCP connections, borrowed with With by an HTTP handler or a job.
func Example() {
	ln, _ := net.Listen("tcp", "127.0.0.1:0") // a stand-in backend
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { // echo
				defer c.Close()
				buf := make([]byte, 64)
				for {
					n, err := c.Read(buf)
					if err != nil {
						return
					}
					c.Write(buf[:n])
				}
			}()
		}
	}()

	p, err := pool.New(pool.Config[net.Conn]{
		Name: "echo",
		Dial: func(ctx context.Context) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "tcp", ln.Addr().String())
		},
		Close:          net.Conn.Close,
		MaxSize:        4,
		AcquireTimeout: 2 * time.Second,
		MaxLifetime:    30 * time.Minute,
		LifetimeJitter: 5 * time.Minute,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(context.Background())

	ctx := pool.WithLabel(context.Background(), "example")
	for i := range 3 {
		err := p.With(ctx, func(ctx context.Context, c net.Conn) error {
			c.SetDeadline(time.Now().Add(time.Second))
			if _, err := fmt.Fprintf(c, "hello %d", i); err != nil {
				return err // a write error means a broken conn: With destroys it
			}
			buf := make([]byte, 64)
			n, err := c.Read(buf)
			fmt.Println(string(buf[:n]))
			return err
		})
		if err != nil {
			fmt.Println(err)
		}
	}
	s := p.Stats()
	fmt.Println("dials:", s.Dials, "acquires:", s.Acquires)
	// Output:
	// hello 0
	// hello 1
	// hello 2
	// dials: 1 acquires: 3
}

// An acquire that times out says what state the pool was in.
func ExampleAcquireError() {
	p, _ := pool.New(pool.Config[int]{
		Name:           "tiny",
		Dial:           func(context.Context) (int, error) { return 42, nil },
		MaxSize:        1,
		AcquireTimeout: 10 * time.Millisecond,
	})
	defer p.Close(context.Background())

	c, _ := p.Acquire(context.Background())
	defer c.Release()
	_, err := p.Acquire(context.Background()) // the only connection is borrowed
	fmt.Println(err)
	fmt.Println("timeout:", errors.Is(err, context.DeadlineExceeded))
	// Output:
	// pool "tiny": acquire: context deadline exceeded (max 1, open 1, idle 0, borrowed 1, constructing 0, waiting 1; last dial error: none)
	// timeout: true
}

// One pool per key: here per tenant's database.
func ExampleKeyed() {
	k, _ := pool.NewKeyed(pool.KeyedConfig[string, string]{
		New: func(tenant string) pool.Config[string] {
			return pool.Config[string]{
				Name: "db-" + tenant,
				Dial: func(context.Context) (string, error) { return "conn to " + tenant, nil },
			}
		},
		MaxKeys:    100,
		IdleKeyTTL: 10 * time.Minute,
	})
	defer k.Close(context.Background())

	_ = k.With(context.Background(), "acme", func(ctx context.Context, conn string) error {
		fmt.Println(conn)
		return nil
	})
	// Output:
	// conn to acme
}

package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/connkit/connkit/lifecycle"
)

// backend is an in-process TCP server that sends every line back: the
// stand-in for a database or a cache. kill ends it as a crash does.
type backend struct {
	ln net.Listener
	wg sync.WaitGroup // the accept loop and the connections' handlers

	mu    sync.Mutex // protects conns
	conns map[net.Conn]struct{}
}

// startBackend listens on addr (host:0 for any free port) and serves.
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
		b.wg.Go(func() {
			_, _ = io.Copy(c, c) // echo until the client or kill closes c
			c.Close()
		})
	}
}

// kill closes the listener and every connection, as a crash would, and
// waits for the handlers. Killing a killed backend does nothing.
func (b *backend) kill() error {
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

// echoConn is a client connection to a backend: one line out, one line back.
type echoConn struct {
	net.Conn
	r *bufio.Reader
}

// dialEcho connects to the backend at addr.
func dialEcho(ctx context.Context, addr string) (*echoConn, error) {
	c, err := lifecycle.NewDialer().DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	return &echoConn{Conn: c, r: bufio.NewReader(c)}, nil
}

// roundTrip sends msg and returns the echo, within ctx's deadline or a
// second. Its errors for a dead backend (io.EOF, a reset, a broken pipe)
// are the ones pool.IsBroken recognizes.
func (c *echoConn) roundTrip(ctx context.Context, msg string) (string, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(time.Second)
	}
	if err := c.SetDeadline(deadline); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	return line[:len(line)-1], nil
}

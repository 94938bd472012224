package faultproxy

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/connkit/connkit/internal/testenv"
)

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		size int
	}{
		{name: "Byte", size: 1},
		{name: "OneChunk", size: chunkSize},
		{name: "ManyChunks", size: 4 << 20},
	}
	p := Start(t, startServer(t, echo).Addr())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, p.Addr())
			_ = c.SetDeadline(time.Now().Add(ioTimeout))
			want := make([]byte, tt.size)
			for i := range want {
				want[i] = byte(rand.IntN(256))
			}
			written := make(chan error, 1)
			go func() {
				_, err := c.Write(want)
				if err == nil {
					err = c.CloseWrite()
				}
				written <- err
			}()
			got, err := io.ReadAll(c) // ends at the echo's half-close
			if werr := <-written; werr != nil || err != nil {
				t.Fatalf("write: %v; read: %v", werr, err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("got %d bytes back, want the %d sent", len(got), len(want))
			}
		})
	}
}

func TestHalfCloseFromTarget(t *testing.T) {
	t.Parallel()
	received := make(chan string, 1)
	srv := startServer(t, func(c *net.TCPConn) {
		// Say hello and half-close first, then read the client's reply.
		_, _ = c.Write([]byte("hello"))
		_ = c.CloseWrite()
		b, _ := io.ReadAll(c)
		received <- string(b)
	})
	p := Start(t, srv.Addr())
	c := dial(t, p.Addr())
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	if got, err := io.ReadAll(c); err != nil || string(got) != "hello" {
		t.Fatalf("read until EOF = %q, %v; want hello", got, err)
	}
	if _, err := c.Write([]byte("bye")); err != nil {
		t.Fatalf("write after the target's half-close: %v", err)
	}
	c.Close()
	if got := <-received; got != "bye" {
		t.Errorf("target read %q, want bye", got)
	}
	waitFor(t, "the connection to be torn down", func() bool { return p.Conns() == 0 })
}

func TestLatency(t *testing.T) {
	t.Parallel()
	const latency = 50 * time.Millisecond
	p := Start(t, startServer(t, echo).Addr())
	open := dial(t, p.Addr())
	roundTrip(t, open, "warm up")

	p.SetLatency(latency) // applies to open connections too
	for name, c := range map[string]net.Conn{"Open": open, "New": dial(t, p.Addr())} {
		start := time.Now()
		roundTrip(t, c, "ping")
		if rtt := time.Since(start); rtt < 2*latency {
			t.Errorf("%s connection: round trip took %v, want at least 2 × %v", name, rtt, latency)
		}
	}
	p.SetLatency(0)
	roundTrip(t, open, "fast again")
}

func TestSetLatencyPanicsOnNegative(t *testing.T) {
	t.Parallel()
	p := Start(t, "127.0.0.1:1")
	defer func() {
		want := "faultproxy: SetLatency(-1ns): negative latency"
		if r := recover(); r != want {
			t.Errorf("recovered %v, want %q", r, want)
		}
	}()
	p.SetLatency(-1)
}

func TestBlackhole(t *testing.T) {
	t.Parallel()
	srv := startServer(t, echo)
	p := Start(t, srv.Addr())
	open := dial(t, p.Addr())
	roundTrip(t, open, "before")

	p.Blackhole()
	p.Blackhole() // no-op
	if _, err := open.Write([]byte("held")); err != nil {
		t.Fatal(err)
	}
	expectStall(t, open, 100*time.Millisecond)
	held := dial(t, p.Addr()) // the connect succeeds...
	if _, err := held.Write([]byte("queued")); err != nil {
		t.Fatal(err)
	}
	expectStall(t, held, 100*time.Millisecond) // ...but nothing comes back
	waitFor(t, "the second connection to be accepted", func() bool { return p.Accepted() == 2 })
	if n := p.Conns(); n != 2 {
		t.Errorf("Conns() = %d during the blackhole, want 2: connections stay open", n)
	}
	if n := srv.accepted.Load(); n != 1 {
		t.Errorf("target accepted %d connections during the blackhole, want 1", n)
	}

	p.Forward()
	expectRead(t, open, "held") // held bytes arrive late, in order
	expectRead(t, held, "queued")
	roundTrip(t, dial(t, p.Addr()), "after")
}

// isReset reports whether err is a connection reset.
func isReset(err error) bool {
	return errors.Is(err, syscall.ECONNRESET)
}

func TestResetAll(t *testing.T) {
	t.Parallel()
	targetErr := make(chan error, 1)
	srv := startServer(t, func(c *net.TCPConn) {
		_, err := io.Copy(c, c)
		targetErr <- err
	})
	p := Start(t, srv.Addr())
	c := dial(t, p.Addr())
	roundTrip(t, c, "ping")

	p.ResetAll()
	if n := p.Conns(); n != 0 {
		t.Errorf("Conns() = %d after ResetAll, want 0", n)
	}
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Read(make([]byte, 1)); !isReset(err) {
		t.Errorf("client read after ResetAll: %v, want connection reset", err)
	}
	if err := <-targetErr; !isReset(err) {
		t.Errorf("target read after ResetAll: %v, want connection reset", err)
	}
	roundTrip(t, dial(t, p.Addr()), "new connections work")
}

func TestResetFromTargetPassesOn(t *testing.T) {
	t.Parallel()
	srv := startServer(t, func(c *net.TCPConn) {
		_, _ = c.Read(make([]byte, 1))
		_ = c.SetLinger(0) // crash: close with RST
	})
	p := Start(t, srv.Addr())
	c := dial(t, p.Addr())
	if _, err := c.Write([]byte("x")); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	if _, err := c.Read(make([]byte, 1)); !isReset(err) {
		t.Errorf("client read: %v, want connection reset", err)
	}
	waitFor(t, "the connection to be torn down", func() bool { return p.Conns() == 0 })
}

func TestUnreachableTargetResets(t *testing.T) {
	t.Parallel()
	p := Start(t, testenv.RefusedAddr(t)) // nothing listens there, and no parallel test can take it
	// The reset can beat the client's connect to completion, which then
	// fails; otherwise the first read fails.
	c, err := net.DialTimeout("tcp", p.Addr(), ioTimeout)
	if err == nil {
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		_, err = c.Read(make([]byte, 1))
	}
	if !isReset(err) {
		t.Errorf("dial and read: %v, want connection reset", err)
	}
	waitFor(t, "the connection to be torn down", func() bool { return p.Conns() == 0 })
}

func TestSetTarget(t *testing.T) {
	t.Parallel()
	named := func(name string) func(*net.TCPConn) {
		return func(c *net.TCPConn) {
			_, _ = c.Write([]byte(name))
			echo(c)
		}
	}
	a, b := startServer(t, named("A")), startServer(t, named("B"))
	p := Start(t, a.Addr())
	onA := dial(t, p.Addr())
	expectRead(t, onA, "A")

	p.SetTarget(b.Addr())
	expectRead(t, dial(t, p.Addr()), "B")
	roundTrip(t, onA, "still on A")
	if n := a.accepted.Load(); n != 1 {
		t.Errorf("A accepted %d connections, want 1", n)
	}
}

func TestCloseEndsEverything(t *testing.T) {
	t.Parallel()
	p, err := New(startServer(t, echo).Addr())
	if err != nil {
		t.Fatal(err)
	}
	delayed := dial(t, p.Addr())
	roundTrip(t, delayed, "ping")
	p.SetLatency(time.Hour)
	if _, err := delayed.Write([]byte("x")); err != nil { // waits an hour in the proxy
		t.Fatal(err)
	}
	p.Blackhole()
	held := dial(t, p.Addr()) // waits for Forward in the proxy
	waitFor(t, "both connections to be accepted", func() bool { return p.Conns() == 2 })

	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	for name, c := range map[string]net.Conn{"Delayed": delayed, "Held": held} {
		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		if _, err := c.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("%s connection: read after Close: %v, want it closed", name, err)
		}
	}
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Error("the proxy accepts connections after Close")
	}
	// TestMain's goleak check covers the goroutines.
}

func TestNewRejectsBadTarget(t *testing.T) {
	t.Parallel()
	for _, give := range []string{"", "localhost", "127.0.0.1:1:2"} {
		if p, err := New(give); err == nil || !strings.Contains(err.Error(), "faultproxy: bad target") {
			if p != nil {
				p.Close()
			}
			t.Errorf("New(%q) error = %v, want a bad target error", give, err)
		}
	}
}

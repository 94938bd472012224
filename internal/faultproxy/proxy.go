package faultproxy

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connkit/connkit/lifecycle"
)

const (
	// dialTimeout bounds a dial to the target. Close and ResetAll cut it
	// short.
	dialTimeout = 10 * time.Second
	// maxAcceptBackoff bounds the pause after a failed Accept, such as
	// EMFILE, before the next try.
	maxAcceptBackoff = time.Second
)

// Proxy forwards TCP connections from 127.0.0.1 to a target address and
// injects faults on command. Create one with [New] or [Start]. Its methods
// are safe for concurrent use.
type Proxy struct {
	ln       net.Listener
	ctx      context.Context    // ends at Close; parent of every link's context
	cancel   context.CancelFunc // ends ctx
	gate     gate               // blocked during a blackhole
	latency  atomic.Int64       // a time.Duration added to every chunk
	accepted atomic.Int64       // connections accepted so far
	wg       sync.WaitGroup     // counts every goroutine the proxy started

	mu     sync.Mutex // protects the fields below; never held during I/O
	target string
	links  map[*link]struct{} // accepted connections not yet torn down
	closed bool
}

// New starts a proxy listening on a free port of 127.0.0.1 and forwarding
// each accepted connection to target, a "host:port" address. It returns an
// error if target is not of that form or the proxy cannot listen. The
// target is dialed per connection, so it need not be up yet.
func New(target string) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(target); err != nil {
		return nil, fmt.Errorf("faultproxy: bad target %q: %w", target, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultproxy: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{ln: ln, ctx: ctx, cancel: cancel, target: target, links: map[*link]struct{}{}}
	p.wg.Go(p.acceptLoop)
	return p, nil
}

// Start is [New] for tests: it fails the test on error and closes the
// proxy when the test ends.
func Start(tb testing.TB, target string) *Proxy {
	tb.Helper()
	p, err := New(target)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := p.Close(); err != nil {
			tb.Errorf("faultproxy: close: %v", err)
		}
	})
	return p
}

// Addr returns the address the proxy listens on, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetTarget changes the address that connections accepted from now on are
// forwarded to; open connections keep theirs. A connection accepted during
// a blackhole is dialed when forwarding resumes, to the target of that
// moment. An unreachable or malformed target resets new connections.
func (p *Proxy) SetTarget(addr string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.target = addr
}

// currentTarget returns the address to dial.
func (p *Proxy) currentTarget() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.target
}

// SetLatency delays every chunk read from now on, on open and new
// connections alike, by d in each direction; 0 removes the delay. Chunks
// already read keep the delay they were read with. SetLatency panics if d
// is negative.
func (p *Proxy) SetLatency(d time.Duration) {
	if d < 0 {
		panic(fmt.Sprintf("faultproxy: SetLatency(%v): negative latency", d))
	}
	p.latency.Store(int64(d))
}

// Blackhole stalls the network: from now on no bytes are forwarded in
// either direction and new connections are accepted but not dialed to the
// target. Nothing is dropped; see the package documentation. A chunk that
// is being written when Blackhole is called still arrives. Blackhole does
// nothing during a blackhole.
func (p *Proxy) Blackhole() { p.gate.block() }

// Forward ends a blackhole: held bytes are delivered and held connections
// are dialed. Forward does nothing when the proxy is forwarding.
func (p *Proxy) Forward() { p.gate.unblock() }

// ResetAll closes every open connection abruptly, with a TCP RST to both
// the client and the target, and waits until they are torn down, so that
// Conns counts only connections accepted after the call. Held and delayed
// bytes are lost, as in a crash. The proxy keeps accepting connections.
func (p *Proxy) ResetAll() {
	links := p.snapshot()
	for _, l := range links {
		l.teardown(true)
	}
	for _, l := range links {
		<-l.done
	}
}

// Conns returns the number of open connections: accepted and not yet torn
// down, including those held by a blackhole.
func (p *Proxy) Conns() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.links)
}

// Accepted returns the number of connections accepted since New.
func (p *Proxy) Accepted() int64 { return p.accepted.Load() }

// Close stops accepting connections, closes every open one (with a FIN;
// call ResetAll first for RSTs) and waits for all the proxy's goroutines to
// exit. Close is idempotent: later calls wait the same way and return nil.
func (p *Proxy) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		p.wg.Wait()
		return nil
	}
	p.closed = true
	links := p.snapshotLocked()
	p.mu.Unlock()

	err := p.ln.Close()
	p.cancel()
	for _, l := range links {
		l.teardown(false)
	}
	p.wg.Wait()
	if err != nil {
		return fmt.Errorf("faultproxy: close listener: %w", err)
	}
	return nil
}

// snapshot returns the open connections.
func (p *Proxy) snapshot() []*link {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.snapshotLocked()
}

// snapshotLocked returns the open connections. The caller holds mu.
func (p *Proxy) snapshotLocked() []*link {
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	return links
}

// acceptLoop accepts connections until the listener is closed, and serves
// each on its own goroutine.
func (p *Proxy) acceptLoop() {
	var backoff time.Duration
	for {
		conn, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || p.ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), maxAcceptBackoff)
			if !lifecycle.Sleep(p.ctx, backoff) {
				return
			}
			continue
		}
		backoff = 0
		p.accepted.Add(1)
		l := p.register(conn)
		if l == nil {
			_ = conn.Close()
			continue
		}
		p.wg.Go(func() { p.serve(l) })
	}
}

// register tracks a new connection. It returns nil if the proxy is closed.
func (p *Proxy) register(conn net.Conn) *link {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	l := newLink(p.ctx, conn)
	p.links[l] = struct{}{}
	return l
}

// unregister forgets a torn-down connection.
func (p *Proxy) unregister(l *link) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.links, l)
}

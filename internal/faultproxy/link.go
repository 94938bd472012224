package faultproxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/connkit/connkit/lifecycle"
)

const (
	// chunkSize is the most one read takes from a connection.
	chunkSize = 32 << 10
	// pipeDepth is how many chunks a direction holds before its reader
	// stops reading: with chunkSize, up to 512 KiB in flight per direction.
	pipeDepth = 16
)

// link is one accepted connection and, once dialed, its connection to the
// target. Five goroutines serve it: serve, and a reader and a writer
// (pipe) per direction.
type link struct {
	client net.Conn
	ctx    context.Context    // ends at teardown or when the proxy closes
	cancel context.CancelFunc // ends ctx
	done   chan struct{}      // closed once serve has unregistered the link

	mu       sync.Mutex // protects the fields below; never held during I/O
	upstream net.Conn   // the connection to the target; nil until dialed
	torn     bool       // whether teardown has run
}

// chunk is bytes read from one side, due on the other side at due.
type chunk struct {
	data []byte
	due  time.Time
}

// newLink returns a link for an accepted client connection.
func newLink(parent context.Context, client net.Conn) *link {
	ctx, cancel := context.WithCancel(parent)
	return &link{client: client, ctx: ctx, cancel: cancel, done: make(chan struct{})}
}

// teardown ends the link: it cancels its context, which stops its
// goroutines' waits, and closes both connections, which stops their I/O.
// With reset, the peers get an RST instead of a FIN. Later calls do
// nothing.
func (l *link) teardown(reset bool) {
	l.mu.Lock()
	if l.torn {
		l.mu.Unlock()
		return
	}
	l.torn = true
	up := l.upstream
	l.mu.Unlock()

	l.cancel()
	for _, c := range []net.Conn{l.client, up} {
		if c == nil {
			continue
		}
		if tc, ok := c.(*net.TCPConn); ok && reset {
			_ = tc.SetLinger(0) // close sends RST
		}
		_ = c.Close()
	}
}

// setUpstream records the connection to the target and reports whether it
// did: a link torn down during the dial keeps none.
func (l *link) setUpstream(up net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.torn {
		return false
	}
	l.upstream = up
	return true
}

// serve dials the target once forwarding is allowed, then forwards until
// both directions have ended. A failed dial resets the client: the nearest
// an accepted connection gets to "connection refused".
func (p *Proxy) serve(l *link) {
	defer close(l.done)
	defer p.unregister(l)
	up, err := p.dial(l)
	if err != nil {
		l.teardown(true)
		return
	}
	p.forward(l, up)
}

// dial waits until the proxy forwards, then connects to the current target.
func (p *Proxy) dial(l *link) (net.Conn, error) {
	if err := p.gate.wait(l.ctx); err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: dialTimeout}
	up, err := d.DialContext(l.ctx, "tcp", p.currentTarget())
	if err != nil {
		return nil, err
	}
	if !l.setUpstream(up) {
		_ = up.Close()
		return nil, net.ErrClosed
	}
	return up, nil
}

// forward runs both directions. The first to fail resets the link, passing
// the failure on to both peers; when both have ended, the link is closed.
func (p *Proxy) forward(l *link, up net.Conn) {
	errc := make(chan error, 2)
	p.wg.Go(func() { errc <- p.pipe(l.ctx, l.client, up) })
	p.wg.Go(func() { errc <- p.pipe(l.ctx, up, l.client) })
	for range 2 {
		if err := <-errc; err != nil {
			l.teardown(true)
		}
	}
	l.teardown(false)
}

// pipe forwards src to dst until src ends. A clean end (EOF) is passed on
// as a half-close of dst, and pipe returns nil; any other end or a failed
// write returns the error. A reader goroutine feeds the chunks so that
// each waits for its own due time, not its predecessor's.
func (p *Proxy) pipe(ctx context.Context, src, dst net.Conn) error {
	chunks := make(chan chunk, pipeDepth)
	var readErr error // written before chunks is closed
	p.wg.Go(func() {
		readErr = p.readChunks(ctx, src, chunks)
		close(chunks)
	})
	for c := range chunks {
		if err := p.deliver(ctx, dst, c); err != nil {
			return err // the caller's teardown stops the reader
		}
	}
	if !errors.Is(readErr, io.EOF) {
		return readErr
	}
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// readChunks reads src into chunks stamped with their due time until src
// ends, returning why. It does not read while the proxy is blackholed.
func (p *Proxy) readChunks(ctx context.Context, src net.Conn, out chan<- chunk) error {
	buf := make([]byte, chunkSize)
	for {
		if err := p.gate.wait(ctx); err != nil {
			return err
		}
		n, err := src.Read(buf)
		if n > 0 {
			c := chunk{data: bytes.Clone(buf[:n]), due: time.Now().Add(time.Duration(p.latency.Load()))}
			select {
			case out <- c:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if err != nil {
			return err
		}
	}
}

// deliver writes c to dst once it is due and the proxy is not blackholed.
func (p *Proxy) deliver(ctx context.Context, dst net.Conn, c chunk) error {
	if d := time.Until(c.due); d > 0 && !lifecycle.Sleep(ctx, d) {
		return ctx.Err()
	}
	if err := p.gate.wait(ctx); err != nil {
		return err
	}
	_, err := dst.Write(c.data)
	return err
}

// gate holds forwarding back while blocked. The zero gate is unblocked.
type gate struct {
	mu        sync.Mutex    // protects the fields below
	blocked   bool          // whether a blackhole is on
	unblocked chan struct{} // closed by unblock; a new one per block
}

// block makes wait block until unblock.
func (g *gate) block() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.blocked {
		g.blocked = true
		g.unblocked = make(chan struct{})
	}
}

// unblock releases every wait.
func (g *gate) unblock() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.blocked {
		g.blocked = false
		close(g.unblocked)
	}
}

// wait blocks while the gate is blocked or until ctx ends.
func (g *gate) wait(ctx context.Context) error {
	for {
		g.mu.Lock()
		blocked, unblocked := g.blocked, g.unblocked
		g.mu.Unlock()
		if !blocked {
			return nil
		}
		select {
		case <-unblocked:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

package connmgr

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"syscall"
)

// Listener returns a listener that gives every connection l accepts a new
// ID and a row named name, with the attributes attrs returns for it (the
// zero A when attrs is nil; attrs sees the raw connection, for its
// addresses). The row is popped when the returned connection is closed,
// whoever closes it: the http.Server, or the handler that hijacked it for a
// WebSocket. Reads and writes go straight to the wrapped connection.
//
// When the table is full, the connection is closed at once, the rejection
// is counted in Stats.FullRejects, and Accept goes on to the next one: a
// server at capacity refuses clients instead of serving them untracked.
// Accept errors are returned as they are.
//
// Closing the connection from NetConn directly skips the Pop; so does a
// hijacking handler that never closes the connection (it also leaks the
// file descriptor).
//
// For TLS, put the table's listener inside: tls.NewListener(t.Listener(l,
// name, attrs), config). The http.Server then sees *tls.Conn, so requests
// carry their TLS state and HTTP/2 is negotiated, and ConnContext finds the
// ID through tls.Conn.NetConn.
func (t *Table[A]) Listener(l net.Listener, name string, attrs func(net.Conn) A) net.Listener {
	return &listener[A]{
		Listener: l,
		t:        t,
		name:     name,
		attrs:    attrs,
		pop:      func(id ID) { t.Pop(id) },
	}
}

// listener is the net.Listener that Table.Listener returns.
type listener[A any] struct {
	net.Listener
	t     *Table[A]
	name  string
	attrs func(net.Conn) A
	pop   func(ID)
}

// Accept waits for a connection that the table has room for.
func (l *listener[A]) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if tc := l.track(c); tc != nil {
			return tc, nil
		}
	}
}

// track pushes a row for c and wraps it, or closes c and returns nil when
// the table is full.
func (l *listener[A]) track(c net.Conn) net.Conn {
	var a A
	if l.attrs != nil {
		a = l.attrs(c)
	}
	id := NextID()
	if err := l.t.Push(id, l.name, a); err != nil {
		c.Close()
		return nil
	}
	return &trackedConn{Conn: c, id: id, pop: l.pop}
}

// trackedConn is a connection with a row: closing it pops the row.
type trackedConn struct {
	net.Conn
	id   ID
	pop  func(ID)
	once sync.Once // pops once, however many times Close is called
}

// Close closes the connection, then pops its row.
func (c *trackedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.pop(c.id) })
	return err
}

// NetConn returns the wrapped connection, as tls.Conn.NetConn does.
func (c *trackedConn) NetConn() net.Conn { return c.Conn }

// ReadFrom passes through to the wrapped connection when it has ReadFrom,
// so that http.Server keeps sendfile and splice for file responses.
func (c *trackedConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{c.Conn}, r)
}

// CloseWrite shuts down the writing side of the wrapped connection, as
// http.Server does before closing one (so that the client reads the whole
// response before a reset), or returns errors.ErrUnsupported when the
// wrapped connection has no CloseWrite.
func (c *trackedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// CloseRead shuts down the reading side of the wrapped connection, or
// returns errors.ErrUnsupported when it has no CloseRead.
func (c *trackedConn) CloseRead() error {
	if cr, ok := c.Conn.(interface{ CloseRead() error }); ok {
		return cr.CloseRead()
	}
	return errors.ErrUnsupported
}

// SyscallConn returns the wrapped connection's raw connection, for socket
// options, or errors.ErrUnsupported when it has none.
func (c *trackedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.ErrUnsupported
}

// ConnID returns the ID of a connection accepted by a Table's Listener,
// looking through wrappers that have a NetConn method (such as *tls.Conn),
// and reports whether it found one.
func ConnID(c net.Conn) (ID, bool) {
	for range 16 { // bounded, in case a NetConn returns its receiver
		switch v := c.(type) {
		case *trackedConn:
			return v.id, true
		case interface{ NetConn() net.Conn }:
			c = v.NetConn()
		default:
			return 0, false
		}
	}
	return 0, false
}

// ConnContext returns ctx carrying the ID of c, when c came from a Table's
// Listener, and ctx itself otherwise. Set it as http.Server.ConnContext so
// that every request's context carries its connection's ID for
// IDFromContext:
//
//	srv := &http.Server{Handler: h, ConnContext: table.ConnContext}
//	srv.Serve(table.Listener(ln, "web", nil))
func (t *Table[A]) ConnContext(ctx context.Context, c net.Conn) context.Context {
	if id, ok := ConnID(c); ok {
		return WithID(ctx, id)
	}
	return ctx
}

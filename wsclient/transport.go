package wsclient

import (
	"context"
	"net"
	"net/http"
	"sync"

	"github.com/connkit/connkit/lifecycle"
)

// socketSlot receives the socket that one connect attempt dials, so that
// the client can close it outright: coder/websocket's CloseNow waits while
// a close handshake is in progress, up to its own 5s, and the client owes
// its caller CloseTimeout and WriteTimeout.
type socketSlot struct {
	mu sync.Mutex // protects conn
	nc net.Conn
}

type socketSlotKey struct{}

func (s *socketSlot) set(nc net.Conn) {
	s.mu.Lock()
	s.nc = nc
	s.mu.Unlock()
}

func (s *socketSlot) get() net.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.nc
}

// recordDials wraps a dial function to put its connection in the attempt's
// slot, found in the dial's context (net/http keeps the request's values).
func recordDials(dial func(ctx context.Context, network, addr string) (net.Conn, error)) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if slot, ok := ctx.Value(socketSlotKey{}).(*socketSlot); ok && err == nil {
			slot.set(nc)
		}
		return nc, err
	}
}

// handshakeClient returns the HTTP client for handshakes: one whose
// transport dials with lifecycle.DefaultKeepAlive and tells the client its
// sockets. A client given in Options keeps its settings (TLS, proxy) in a
// copy of its *http.Transport; one with another RoundTripper is used as is,
// and its sockets are closed through coder/websocket, which may wait up to
// 5s in a close handshake the peer does not answer.
func handshakeClient(given *http.Client) *http.Client {
	if given == nil {
		given = &http.Client{}
	}
	rt := given.Transport
	if rt == nil {
		rt = http.DefaultTransport // which a program may have replaced
	}
	base, ok := rt.(*http.Transport)
	if !ok {
		return given
	}
	t := base.Clone()
	if given.Transport == nil || t.DialContext == nil {
		t.DialContext = lifecycle.NewDialer().DialContext
	}
	t.DialContext = recordDials(t.DialContext)
	if t.DialTLSContext != nil {
		t.DialTLSContext = recordDials(t.DialTLSContext)
	}
	t.DisableKeepAlives = true // a fresh socket per handshake: each one is recorded
	c := *given
	c.Transport = t
	return &c
}

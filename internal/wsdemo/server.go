// Package wsdemo holds the WebSocket scaffolding of connkit's examples and
// benchmarks: an echo server that can be stopped as a restarting server is,
// and a watcher of a wsclient's states to wait on.
package wsdemo

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"
)

// Server is a WebSocket server, on any path, that sends every message back.
// Stop ends it as a server being restarted does: no new connections, and a
// close frame with 1012 (service restart) on each open one, so that clients
// know to come back. To restart it, Start another on the same address.
type Server struct {
	addr   string
	srv    *http.Server
	served chan struct{} // closed when Serve has returned

	mu       sync.Mutex // protects the fields below
	conns    map[*websocket.Conn]struct{}
	stopped  bool
	handlers sync.WaitGroup // the WebSocket handlers running; Add under mu
}

// Start listens on addr (host:0 for any free port) and serves.
func Start(addr string) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &Server{
		addr:   ln.Addr().String(),
		served: make(chan struct{}),
		conns:  make(map[*websocket.Conn]struct{}),
	}
	s.srv = &http.Server{Handler: http.HandlerFunc(s.echo), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(ln) // http.ErrServerClosed after Stop
	}()
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() string { return s.addr }

// echo upgrades the request and echoes messages until the connection ends.
func (s *Server) echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	if !s.track(c) {
		// Hijacked after Stop looked at the connections: the client saw its
		// handshake succeed, so it must hear of the restart too.
		c.Close(websocket.StatusServiceRestart, "restarting")
		return
	}
	defer s.untrack(c)
	for {
		typ, data, err := c.Read(context.Background()) // Stop's Close ends it
		if err != nil {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err = c.Write(ctx, typ, data)
		cancel()
		if err != nil {
			return
		}
	}
}

// track registers c and reports whether the server is still running.
func (s *Server) track(c *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return false
	}
	s.conns[c] = struct{}{}
	s.handlers.Add(1)
	return true
}

func (s *Server) untrack(c *websocket.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.handlers.Done()
}

// Stop closes the listener, then every connection with 1012, and waits for
// the close handshakes and the handlers (http.Server.Close does not know
// the connections that websocket.Accept hijacked). Stopping a stopped
// server does nothing.
func (s *Server) Stop() error {
	err := s.srv.Close()
	<-s.served
	s.mu.Lock()
	s.stopped = true
	conns := make([]*websocket.Conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() { c.Close(websocket.StatusServiceRestart, "restarting") })
	}
	wg.Wait()
	s.handlers.Wait()
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

package connmgr

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// testCtx returns a context that ends with the test, bounded so that a hang
// fails the test instead of the whole run.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newServer starts an http.Server whose connections get rows named name in
// tb, and closes it when the test ends.
func newServer(t *testing.T, tb *Table[attrs], name string, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = tb.Listener(srv.Listener, name, func(c net.Conn) attrs {
		return attrs{User: c.RemoteAddr().Network(), Room: 42}
	})
	srv.Config.ConnContext = tb.ConnContext
	srv.Start()
	t.Cleanup(srv.Close)
	return srv
}

// rowHandler answers with the request's connection ID and its row.
func rowHandler(tb *Table[attrs]) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id, ok := IDFromContext(r.Context())
		e, found := tb.Get(id)
		fmt.Fprintf(w, "%d %v %v %s %s %d", id, ok, found, e.Name, e.Attrs.User, e.Attrs.Room)
	}
}

// Each keep-alive connection of plain HTTP requests gets one row, found by
// the handler, and loses it when the client hangs up.
func TestListenerHTTP(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{})
	srv := newServer(t, tb, "web", rowHandler(tb))
	ids := map[string]bool{}
	clients := []*http.Client{{Transport: &http.Transport{}}, {Transport: &http.Transport{}}}
	for _, c := range clients {
		for range 2 { // the second request reuses the connection
			body := get(t, c, srv.URL)
			id, rest, _ := strings.Cut(body, " ")
			if rest != "true true web tcp 42" {
				t.Fatalf("handler saw %q, want ID true true web tcp 42", body)
			}
			ids[id] = true
		}
	}
	if len(ids) != 2 || tb.Len() != 2 || len(tb.ByName("web")) != 2 {
		t.Fatalf("IDs %v, Len %d: want one row per connection", ids, tb.Len())
	}
	for _, c := range clients {
		c.CloseIdleConnections()
	}
	waitFor(t, "rows popped after the clients hung up", func() bool { return tb.Len() == 0 })
	if st := tb.Stats(); st.Pushes != 2 || st.Pops != 2 {
		t.Fatalf("Stats = %+v, want 2 pushes and 2 pops", st)
	}
}

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// A WebSocket connection, hijacked from the http.Server, keeps its row for
// the session and loses it when the client closes.
func TestListenerWebSocket(t *testing.T) {
	t.Parallel()
	ctx := testCtx(t)
	tb := newTable(t, Options{})
	srv := newServer(t, tb, "ws", func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		defer c.CloseNow()
		id, _ := IDFromContext(r.Context())
		e, _ := tb.Get(id)
		if err := c.Write(ctx, websocket.MessageText, fmt.Appendf(nil, "%d %s", id, e.Name)); err != nil {
			t.Error(err)
			return
		}
		_, _, err = c.Read(ctx) // until the client closes
		if websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("server Read: %v", err)
		}
	})
	c, _, err := websocket.Dial(ctx, srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	_, msg, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var id ID
	var name string
	if _, err := fmt.Sscanf(string(msg), "%d %s", &id, &name); err != nil || name != "ws" {
		t.Fatalf("handler saw %q (%v), want an ID and ws", msg, err)
	}
	if e, ok := tb.Get(id); !ok || e.Name != "ws" || tb.Len() != 1 {
		t.Fatalf("during the session: Get(%d) = %+v, %v; Len %d", id, e, ok, tb.Len())
	}
	if err := c.Close(websocket.StatusNormalClosure, ""); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the WebSocket's row popped", func() bool { _, ok := tb.Get(id); return !ok })
	if tb.Len() != 0 {
		t.Fatalf("Len = %d after the session", tb.Len())
	}
}

// acceptAll accepts from l until it fails, sending each connection on the
// returned channel, and closes the channel with the Accept error last.
func acceptAll(l net.Listener) (<-chan net.Conn, <-chan error) {
	conns, errc := make(chan net.Conn, 16), make(chan error, 1)
	go func() {
		defer close(conns)
		for {
			c, err := l.Accept()
			if err != nil {
				errc <- err
				return
			}
			conns <- c
		}
	}()
	return conns, errc
}

// A full table refuses connections: closed at once, counted, and Accept
// goes on. Accept errors come through. Close pops once, however often it is
// called.
func TestListenerFull(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{Capacity: 1})
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	conns, errc := acceptAll(tb.Listener(raw, "tcp", nil))
	c1 := dial(t, raw.Addr())
	s1 := <-conns
	c2 := dial(t, raw.Addr()) // refused: the table is full
	c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := c2.Read(make([]byte, 1)); err == nil {
		t.Fatal("a connection beyond capacity was served")
	}
	if st := tb.Stats(); st.FullRejects != 1 || st.Rows != 1 {
		t.Fatalf("Stats = %+v, want 1 reject and 1 row", st)
	}
	s1.Close()
	s1.Close()
	c1.Close()
	dial(t, raw.Addr())
	s3 := <-conns // there is room again
	defer s3.Close()
	if st := tb.Stats(); st.Pops != 1 || st.Rows != 1 {
		t.Fatalf("Stats = %+v, want 1 pop and 1 row", st)
	}
	raw.Close()
	if err := <-errc; !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Accept error = %v, want net.ErrClosed", err)
	}
}

func dial(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial(addr.Network(), addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ConnID finds the ID through wrappers such as *tls.Conn, and ConnContext
// leaves the context alone for a connection that has no ID.
func TestConnID(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{})
	a, b := net.Pipe()
	defer b.Close()
	id := NextID()
	tc := &trackedConn{Conn: a, id: id, pop: func(id ID) { tb.Pop(id) }}
	defer tc.Close()
	tests := []struct {
		name string
		give net.Conn
		want ID
		ok   bool
	}{
		{"tracked", tc, id, true},
		{"tls over tracked", tls.Server(tc, &tls.Config{}), id, true},
		{"plain", b, 0, false},
		{"tls over plain", tls.Server(b, &tls.Config{}), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ConnID(tt.give)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("ConnID = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
			got, ok = IDFromContext(tb.ConnContext(context.Background(), tt.give))
			if got != tt.want || ok != tt.ok {
				t.Fatalf("IDFromContext(ConnContext) = %d, %v; want %d, %v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

// A tracked TCP connection keeps what http.Server and socket options look
// for on the connection: CloseWrite half-closes it (the client reads EOF
// and can still write), and SyscallConn reaches the socket. On a
// connection without them, each returns errors.ErrUnsupported.
func TestTrackedConnPassesThrough(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tl := tb.Listener(ln, "tcp", nil)
	defer tl.Close()
	client := dial(t, ln.Addr())
	server, err := tl.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()

	cw, ok := server.(interface{ CloseWrite() error })
	if !ok {
		t.Fatal("the tracked connection has no CloseWrite")
	}
	if err := cw.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	client.SetDeadline(time.Now().Add(5 * time.Second))
	if n, err := client.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		t.Fatalf("client Read after CloseWrite = %d, %v; want 0, EOF", n, err)
	}
	if _, err := client.Write([]byte("x")); err != nil {
		t.Fatalf("client Write after the server's CloseWrite: %v", err)
	}
	server.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(server, make([]byte, 1)); err != nil {
		t.Fatalf("server Read after its CloseWrite: %v", err)
	}
	raw, err := server.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatalf("SyscallConn: %v", err)
	}
	var fd uintptr
	if err := raw.Control(func(f uintptr) { fd = f }); err != nil || fd == 0 {
		t.Fatalf("Control: fd %d, %v", fd, err)
	}

	a, b := net.Pipe()
	defer b.Close()
	piped := &trackedConn{Conn: a, id: NextID(), pop: func(ID) {}}
	defer piped.Close()
	if err := piped.CloseWrite(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("CloseWrite on a pipe = %v, want ErrUnsupported", err)
	}
	if err := piped.CloseRead(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("CloseRead on a pipe = %v, want ErrUnsupported", err)
	}
	if _, err := piped.SyscallConn(); !errors.Is(err, errors.ErrUnsupported) {
		t.Errorf("SyscallConn on a pipe = %v, want ErrUnsupported", err)
	}
}

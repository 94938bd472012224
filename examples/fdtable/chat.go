package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/connkit/connkit/connmgr"
)

// Member is a connection's row in the table. The row's name is the member's
// room, so table.ByName(room) is the room's broadcast list.
type Member struct {
	User   string    `connmgr:"size=32"` // longer names are cut to 32 bytes
	Room   string    `connmgr:"size=32"`
	Addr   string    `connmgr:"size=64"` // the client's address, set by the Listener
	Joined time.Time // zero until the WebSocket handshake
}

// unjoined names the rows of connections that have not joined a room: each
// connection the Listener accepts has a row from the start, plain HTTP
// requests included. No room can take this name (see validRoom).
const unjoined = "(http)"

// writeTimeout bounds a broadcast's write to one member: a member who stops
// reading holds up the room for at most this long, then is disconnected
// (coder/websocket closes a connection whose write outlives its context).
const writeTimeout = time.Second

// chatServer is a WebSocket chat server: GET /chat?user=NAME&room=ROOM joins
// a room, and every text message is sent to the room's other members.
type chatServer struct {
	addr   string
	table  *connmgr.Table[Member]
	logf   func(format string, args ...any) // joins and leaves; nil: quiet
	srv    *http.Server
	served chan struct{} // closed when Serve has returned

	// conns maps a row's ID to its WebSocket. The table holds attributes
	// only: it copies a row on every read, so its schema refuses pointers,
	// and a live connection cannot be copied. The example keeps the sockets
	// here, under the same IDs: ByName(room) gives the IDs, conns the
	// sockets to write to.
	mu       sync.Mutex // protects the fields below
	conns    map[connmgr.ID]*websocket.Conn
	closing  bool
	handlers sync.WaitGroup // the WebSocket handlers running; Add under mu
}

// startChat listens on addr and serves the chat, tracking every connection
// in a table of at most capacity rows.
func startChat(addr string, capacity int, logf func(string, ...any)) (*chatServer, error) {
	table, err := connmgr.New[Member](connmgr.Options{Capacity: capacity})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	s := &chatServer{
		addr:   ln.Addr().String(),
		table:  table,
		logf:   logf,
		served: make(chan struct{}),
		conns:  make(map[connmgr.ID]*websocket.Conn),
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /chat", s.serveChat)
	mux.HandleFunc("GET /table", s.serveTable)
	mux.HandleFunc("GET /{$}", servePage)
	s.srv = &http.Server{
		Handler:           mux,
		ConnContext:       table.ConnContext, // every request's ctx carries its connection's ID
		ReadHeaderTimeout: 5 * time.Second,
	}
	// Every accepted connection gets a row named unjoined, popped when the
	// connection closes: by the server, or by the WebSocket handler that
	// hijacked it.
	tracked := table.Listener(ln, unjoined, func(c net.Conn) Member {
		return Member{Addr: c.RemoteAddr().String()}
	})
	go func() {
		defer close(s.served)
		_ = s.srv.Serve(tracked) // http.ErrServerClosed after shutdown
	}()
	return s, nil
}

// serveChat joins the connection to a room and relays its messages to the
// room until it closes.
func (s *chatServer) serveChat(w http.ResponseWriter, r *http.Request) {
	user, room := r.URL.Query().Get("user"), r.URL.Query().Get("room")
	if user == "" || !validRoom(room) {
		http.Error(w, "want /chat?user=NAME&room=ROOM, ROOM of 1 to 32 letters, digits, - and _", http.StatusBadRequest)
		return
	}
	id, ok := connmgr.IDFromContext(r.Context())
	if !ok {
		http.Error(w, "connection not tracked: ConnContext is not set", http.StatusInternalServerError)
		return
	}
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow() // closes the tracked connection: the Listener pops the row
	if !s.add(id, c) {
		c.Close(websocket.StatusGoingAway, "server shutting down")
		return
	}
	defer s.handlers.Done()
	me, err := s.join(id, user, room)
	if err != nil { // the row is gone: the connection closed under us
		s.remove(id)
		return
	}
	s.logPrintf("%s joined %s (row %d)", me.User, room, id)
	s.broadcast(id, room, fmt.Sprintf("* %s joined %s", me.User, room))
	for {
		_, data, err := c.Read(context.Background()) // ends when the connection does
		if err != nil {
			break
		}
		s.broadcast(id, room, fmt.Sprintf("%s: %s", me.User, data))
	}
	s.remove(id)
	s.logPrintf("%s left %s (row %d)", me.User, room, id)
	s.broadcast(id, room, fmt.Sprintf("* %s left %s", me.User, room))
}

// join fills in the row of connection id and renames it to the room, and
// returns the member as stored: user cut to its cap. Update, then SetName:
// a row found by ByName(room) already has its user.
func (s *chatServer) join(id connmgr.ID, user, room string) (Member, error) {
	now := time.Now()
	err := s.table.Update(id, func(m *Member) { m.User, m.Room, m.Joined = user, room, now })
	if err != nil {
		return Member{}, err
	}
	if err := s.table.SetName(id, room); err != nil {
		return Member{}, err
	}
	e, _ := s.table.Get(id)
	return e.Attrs, nil
}

// broadcast sends text to the members of room other than from, one after
// the other. A failed write closes that member's connection (its handler
// then leaves); the others still get the message.
func (s *chatServer) broadcast(from connmgr.ID, room, text string) {
	for _, e := range s.table.ByName(room) {
		if e.ID == from {
			continue
		}
		c := s.conn(e.ID)
		if c == nil {
			continue // leaving, or between its rename and add
		}
		ctx, cancel := context.WithTimeout(context.Background(), writeTimeout)
		_ = c.Write(ctx, websocket.MessageText, []byte(text))
		cancel()
	}
}

// add records c as the socket of row id, and reports false when the server
// is shutting down.
func (s *chatServer) add(id connmgr.ID, c *websocket.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[id] = c
	s.handlers.Add(1)
	return true
}

func (s *chatServer) remove(id connmgr.ID) {
	s.mu.Lock()
	delete(s.conns, id)
	s.mu.Unlock()
}

func (s *chatServer) conn(id connmgr.ID) *websocket.Conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns[id]
}

func (s *chatServer) logPrintf(format string, args ...any) {
	if s.logf != nil {
		s.logf(format, args...)
	}
}

// shutdown stops accepting, then closes every WebSocket with 1001 (going
// away) and waits for the handlers; when ctx ends first, the connections
// are closed without the handshake. http.Server.Shutdown alone would not
// do: it no longer knows the connections that websocket.Accept hijacked.
func (s *chatServer) shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	<-s.served
	s.mu.Lock()
	s.closing = true
	conns := make([]*websocket.Conn, 0, len(s.conns))
	for _, c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	var closes sync.WaitGroup
	for _, c := range conns {
		closes.Go(func() { c.Close(websocket.StatusGoingAway, "server shutting down") })
	}
	done := make(chan struct{})
	go func() {
		closes.Wait()
		s.handlers.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		for _, c := range conns {
			c.CloseNow()
		}
		<-done
		err = errors.Join(err, fmt.Errorf("chat: close handshakes: %w", ctx.Err()))
	}
	return err
}

// rows returns the table's rows in ID order (Range's order is the shards').
func (s *chatServer) rows() []connmgr.Entry[Member] {
	var rows []connmgr.Entry[Member]
	s.table.Range(func(e connmgr.Entry[Member]) bool {
		rows = append(rows, e)
		return true
	})
	slices.SortFunc(rows, func(a, b connmgr.Entry[Member]) int { return cmp.Compare(a.ID, b.ID) })
	return rows
}

// printTable writes the table's rows, then its stats.
func (s *chatServer) printTable(w io.Writer, indent string) {
	fmt.Fprintf(w, "%s%-4s %-7s %-7s %-5s %-21s %s\n", indent, "ID", "NAME", "USER", "ROOM", "ADDR", "JOINED")
	for _, e := range s.rows() {
		joined := "-"
		if !e.Attrs.Joined.IsZero() {
			joined = e.Attrs.Joined.Format("15:04:05.000")
		}
		fmt.Fprintf(w, "%s%-4d %-7s %-7s %-5s %-21s %s\n", indent, e.ID, e.Name, e.Attrs.User, e.Attrs.Room, e.Attrs.Addr, joined)
	}
	fmt.Fprintf(w, "%s%s\n", indent, formatStats(s.table.Stats()))
}

// serveTable shows the table as text: curl http://ADDR/table.
func (s *chatServer) serveTable(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	s.printTable(w, "")
}

// formatStats returns the figures of st on one line.
func formatStats(st connmgr.Stats) string {
	return fmt.Sprintf("stats: rows=%d pushes=%d pops=%d updates=%d truncations=%d names=%v",
		st.Rows, st.Pushes, st.Pops, st.Updates, st.Truncations, st.Names)
}

// validRoom reports whether room is 1 to 32 ASCII letters, digits, - and _.
func validRoom(room string) bool {
	if room == "" || len(room) > 32 {
		return false
	}
	for _, r := range room {
		ok := r == '-' || r == '_' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
		if !ok {
			return false
		}
	}
	return true
}

// servePage serves a page to chat from in a browser.
func servePage(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	io.WriteString(w, page)
}

const page = `<!doctype html>
<title>connkit fdtable chat</title>
<form id=join>user <input id=user value=alice> room <input id=room value=go> <button>join</button></form>
<form id=say hidden><input id=text autofocus> <button>send</button></form>
<pre id=log></pre>
<script>
let ws;
const show = line => log.textContent += line + "\n";
join.onsubmit = e => {
  e.preventDefault();
  const q = new URLSearchParams({user: user.value, room: room.value});
  ws = new WebSocket("ws://" + location.host + "/chat?" + q);
  ws.onmessage = m => show(m.data);
  ws.onclose = c => show("closed: " + c.code + " " + c.reason);
  join.hidden = true; say.hidden = false;
};
say.onsubmit = e => { e.preventDefault(); ws.send(text.value); show("me: " + text.value); text.value = ""; };
</script>
`

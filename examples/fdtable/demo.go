package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/connkit/connkit/connmgr"
	"github.com/connkit/connkit/lifecycle"
)

// demo starts the chat server and runs four in-process clients in two rooms
// against it, showing who receives what and the table behind it.
func demo(ctx context.Context, say func(string, ...any)) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()

	s, err := startChat("127.0.0.1:0", 100, nil)
	if err != nil {
		return err
	}
	clients := &roster{}
	var group lifecycle.Group
	group.Add("demo clients", clients.close) // closed last: they see the server go
	group.Add("chat server", s.shutdown)
	defer shutdown(ctx, &group) // on an early return; a no-op after the one below
	say("chat server on ws://%s/chat?user=NAME&room=ROOM", s.addr)

	say("\n1. four members join two rooms; each row gets its user and room, and is named after the room")
	for _, m := range []struct{ user, room string }{{"alice", "go"}, {"bob", "go"}, {"carol", "rust"}, {"dave", "rust"}} {
		c, err := clients.join(ctx, s, m.user, m.room)
		if err != nil {
			return err
		}
		say("   %s joined %s (row %d)", c.user, c.room, c.id)
	}

	say("\n2. a message goes to the other members of its room: table.ByName(room)")
	for _, m := range []struct{ from, text string }{{"alice", "hi gophers"}, {"carol", "hi crabs"}, {"bob", "anyone on Go 1.26 yet?"}} {
		if err := clients.say(ctx, m.from, m.text); err != nil {
			return err
		}
		say("   %s says %q", m.from, m.text)
	}
	say("   what each member received:")
	for _, c := range clients.all() {
		say("   %-6s <- %s", c.user, quoteAll(c.received()))
	}

	say("\n3. the table, as GET /table shows it (Range, in ID order): the (http) row is that request's own connection")
	text, err := getTable(ctx, s)
	if err != nil {
		return err
	}
	say("%s", indent(text, "   "))

	say("\n4. alice disconnects: closing her connection pops her row")
	alice := clients.get("alice")
	if err := clients.leave(ctx, s, "alice"); err != nil {
		return err
	}
	bob := clients.get("bob")
	if err := bob.waitFor(ctx, "* alice left go"); err != nil {
		return err
	}
	_, held := s.table.Get(alice.id)
	say("   row %d held: %v; ByName(\"go\"): %s", alice.id, held, usersIn(s, "go"))
	say("   bob    <- %s", quoteAll(bob.received()[1:]))
	say("   %s", formatStats(s.table.Stats()))

	say("\n5. shutdown (lifecycle.Group): the server closes every WebSocket with 1001, then the clients end")
	if err := shutdown(ctx, &group); err != nil {
		return err
	}
	for _, c := range clients.all()[1:] {
		say("   %-6s closed by the server: %v %q", c.user, c.closeStatus, c.closeReason)
	}
	say("   rows left: %d; %s", s.table.Len(), formatStats(s.table.Stats()))
	return nil
}

// shutdown shuts group down within 5s, even when ctx has ended.
func shutdown(ctx context.Context, group *lifecycle.Group) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return group.Shutdown(ctx)
}

// getTable fetches /table on a connection of its own, then closes the
// connection and waits until its row is gone.
func getTable(ctx context.Context, s *chatServer) (string, error) {
	tr := &http.Transport{}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.addr+"/table", nil)
	if err != nil {
		return "", err
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return "", err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return "", err
	}
	rows := s.table.Len()
	tr.CloseIdleConnections() // the server sees the hang-up and pops the row
	return string(body), poll(ctx, "the (http) row to go", func() bool { return s.table.Len() == rows-1 })
}

// indent prefixes each line of text with prefix, and drops the last newline.
func indent(text, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\n"+prefix)
}

// usersIn returns the users of the rows named room.
func usersIn(s *chatServer, room string) []string {
	var users []string
	for _, e := range s.table.ByName(room) {
		users = append(users, e.Attrs.User)
	}
	return users
}

func quoteAll(msgs []string) string {
	q := make([]string, len(msgs))
	for i, m := range msgs {
		q[i] = fmt.Sprintf("%q", m)
	}
	return strings.Join(q, " ")
}

// roster holds the demo's clients in the order they joined.
type roster struct {
	mu      sync.Mutex // protects clients
	clients []*client
}

// join connects user to room and waits until the server has the row named
// room for it, and until the room's members were told.
func (r *roster) join(ctx context.Context, s *chatServer, user, room string) (*client, error) {
	c, err := dial(ctx, s.addr, user, room)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	others := r.inRoomLocked(room)
	r.clients = append(r.clients, c)
	r.mu.Unlock()
	err = poll(ctx, "the row of "+user, func() bool {
		for _, e := range s.table.ByName(room) {
			if e.Attrs.User == user {
				c.id = e.ID
				return true
			}
		}
		return false
	})
	for _, o := range others {
		if err == nil {
			err = o.waitFor(ctx, fmt.Sprintf("* %s joined %s", user, room))
		}
	}
	return c, err
}

// say sends text from user and waits until the other members of the room
// received it.
func (r *roster) say(ctx context.Context, user, text string) error {
	c := r.get(user)
	if err := c.ws.Write(ctx, websocket.MessageText, []byte(text)); err != nil {
		return err
	}
	r.mu.Lock()
	others := r.inRoomLocked(c.room)
	r.mu.Unlock()
	for _, o := range others {
		if o != c {
			if err := o.waitFor(ctx, user+": "+text); err != nil {
				return err
			}
		}
	}
	return nil
}

// leave closes user's connection normally and waits until its row is gone.
func (r *roster) leave(ctx context.Context, s *chatServer, user string) error {
	c := r.get(user)
	if err := c.ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		return err
	}
	<-c.done
	return poll(ctx, "the row of "+user+" to go", func() bool {
		_, ok := s.table.Get(c.id)
		return !ok
	})
}

func (r *roster) inRoomLocked(room string) []*client {
	var in []*client
	for _, c := range r.clients {
		if c.room == room {
			in = append(in, c)
		}
	}
	return in
}

func (r *roster) get(user string) *client {
	for _, c := range r.all() {
		if c.user == user {
			return c
		}
	}
	panic("demo: no client " + user)
}

func (r *roster) all() []*client {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]*client(nil), r.clients...)
}

// close waits for every client's reader, closing the connections that are
// still open when ctx ends.
func (r *roster) close(ctx context.Context) error {
	for _, c := range r.all() {
		select {
		case <-c.done:
		case <-ctx.Done():
			c.ws.CloseNow()
			<-c.done
		}
	}
	return nil
}

// client is a chat member in the demo: it records what it receives.
type client struct {
	user, room string
	ws         *websocket.Conn
	id         connmgr.ID    // its row's ID, once joined
	done       chan struct{} // closed when the reader has ended

	mu          sync.Mutex // protects the fields below
	inbox       []string
	wake        chan struct{} // closed and replaced on every message
	closeStatus websocket.StatusCode
	closeReason string
}

func dial(ctx context.Context, addr, user, room string) (*client, error) {
	q := url.Values{"user": {user}, "room": {room}}
	ws, _, err := websocket.Dial(ctx, "ws://"+addr+"/chat?"+q.Encode(), nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", user, err)
	}
	c := &client{user: user, room: room, ws: ws, done: make(chan struct{}), wake: make(chan struct{})}
	go c.read()
	return c, nil
}

// read records the messages until the connection ends, then how it ended.
func (c *client) read() {
	defer close(c.done)
	defer c.ws.CloseNow()
	for {
		_, data, err := c.ws.Read(context.Background())
		c.mu.Lock()
		if err != nil {
			var ce websocket.CloseError
			if errors.As(err, &ce) {
				c.closeStatus, c.closeReason = ce.Code, ce.Reason
			}
		} else {
			c.inbox = append(c.inbox, string(data))
		}
		close(c.wake)
		c.wake = make(chan struct{})
		c.mu.Unlock()
		if err != nil {
			return
		}
	}
}

func (c *client) received() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.inbox...)
}

// waitFor waits until c has received msg.
func (c *client) waitFor(ctx context.Context, msg string) error {
	for {
		c.mu.Lock()
		got, wake := c.inbox, c.wake
		c.mu.Unlock()
		if slices.Contains(got, msg) {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s waiting for %q (got %q): %w", c.user, msg, got, ctx.Err())
		case <-wake:
		case <-c.done:
			if slices.Contains(c.received(), msg) {
				return nil
			}
			return fmt.Errorf("%s waiting for %q (got %q): connection closed", c.user, msg, got)
		}
	}
}

// poll waits until cond holds, checking every millisecond.
func poll(ctx context.Context, what string, cond func() bool) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

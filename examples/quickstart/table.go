package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/connkit/connkit/connmgr"
)

// visitor is a connection's row in the table: the schema is its exported
// fields. The row's name is the visitor's team, so ByName(team) lists them.
type visitor struct {
	User     string `connmgr:"size=32"` // longer names are cut to 32 bytes
	Addr     string `connmgr:"size=64"` // the client's address, set by the Listener
	Requests int
}

// tableClient is an HTTP client with one keep-alive connection of its own.
type tableClient struct {
	user, team string
	tr         *http.Transport
	id         connmgr.ID // its connection's row, as the server said
}

// table shows a connmgr.Table filled by a listener: every connection an
// http.Server accepts gets a row, its handlers find the row through the
// request's context, and the row goes when the connection closes.
func (d *demo) table(ctx context.Context) error {
	table, err := connmgr.New[visitor](connmgr.Options{Capacity: 100})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           hello(table),
		ConnContext:       table.ConnContext, // every request's ctx carries its connection's ID
		ReadHeaderTimeout: 5 * time.Second,
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		_ = srv.Serve(table.Listener(ln, "(new)", func(c net.Conn) visitor { return visitor{Addr: c.RemoteAddr().String()} }))
	}()
	d.closeLater("http server (table)", func(ctx context.Context) error {
		err := srv.Shutdown(ctx)
		<-served
		return err
	})
	d.section("connmgr: a table of the connections of an http.Server on " + ln.Addr().String())

	clients := []*tableClient{{user: "ann", team: "ops"}, {user: "bob", team: "dev"}, {user: "cid", team: "dev"}}
	d.closeLater("http clients", func(context.Context) error {
		for _, c := range clients {
			c.tr.CloseIdleConnections()
		}
		return nil
	})
	for _, c := range clients {
		c.tr = &http.Transport{}
		if err := c.get(ctx, "http://"+ln.Addr().String()); err != nil {
			return err
		}
	}
	d.say("   3 clients connected; each handler named its row after the team (SetName) and set its user (Update)")
	d.printTable(table)
	d.say("   ByName(%q): %v", "dev", users(table.ByName("dev")))

	bob := clients[1]
	bob.tr.CloseIdleConnections()
	if err := poll(ctx, "bob's row to go", func() bool { _, ok := table.Get(bob.id); return !ok }); err != nil {
		return err
	}
	st := table.Stats()
	d.say("   bob hung up: row %d popped by the listener; ByName(%q): %v; rows %d (pushes %d, pops %d)",
		bob.id, "dev", users(table.ByName("dev")), st.Rows, st.Pushes, st.Pops)
	return nil
}

// hello is the server's handler: it fills in the row of the request's
// connection and answers with the row's ID.
func hello(table *connmgr.Table[visitor]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, ok := connmgr.IDFromContext(r.Context())
		if !ok {
			http.Error(w, "connection not tracked: ConnContext is not set", http.StatusInternalServerError)
			return
		}
		user, team := r.URL.Query().Get("user"), r.URL.Query().Get("team")
		err := table.Update(id, func(v *visitor) { v.User, v.Requests = user, v.Requests+1 })
		if err == nil {
			err = table.SetName(id, team)
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprint(w, id)
	})
}

// get sends c's request and records the ID of its connection's row.
func (c *tableClient) get(ctx context.Context, base string) error {
	q := url.Values{"user": {c.user}, "team": {c.team}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/?"+q.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Transport: c.tr}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s: %s", c.user, resp.Status, body)
	}
	id, err := strconv.ParseUint(string(body), 10, 64)
	c.id = connmgr.ID(id)
	return err
}

// printTable prints every row (Range), in ID order.
func (d *demo) printTable(table *connmgr.Table[visitor]) {
	var rows []connmgr.Entry[visitor]
	table.Range(func(e connmgr.Entry[visitor]) bool {
		rows = append(rows, e)
		return true
	})
	slices.SortFunc(rows, func(a, b connmgr.Entry[visitor]) int { return cmp.Compare(a.ID, b.ID) })
	d.outMu.Lock()
	defer d.outMu.Unlock()
	tw := tabwriter.NewWriter(d.out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "   id\tname\tuser\trequests\tclient")
	for _, e := range rows {
		fmt.Fprintf(tw, "   %d\t%s\t%s\t%d\t%s\n", e.ID, e.Name, e.Attrs.User, e.Attrs.Requests, e.Attrs.Addr)
	}
	tw.Flush()
}

// users returns the users of rows.
func users(rows []connmgr.Entry[visitor]) []string {
	var us []string
	for _, e := range rows {
		us = append(us, e.Attrs.User)
	}
	return us
}

package connmgr_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/connkit/connkit/connmgr"
)

// Bot is the schema: one typed field per attribute.
type Bot struct {
	Token string `connmgr:"size=8"` // longer tokens are cut to 8 bytes
	Room  int
	Admin bool
}

// A bot server tracks its connections: Push on open, Pop on close, and the
// name index to find every connection of a bot.
func Example() {
	table, err := connmgr.New[Bot](connmgr.Options{Capacity: 1000})
	if err != nil {
		fmt.Println(err)
		return
	}
	a, b := connmgr.NextID(), connmgr.NextID()
	table.Push(a, "bot-1", Bot{Token: "secret-token-123", Room: 1})
	table.Push(b, "bot-1", Bot{Room: 2})

	e, _ := table.Get(a)
	fmt.Printf("%s in room %d, token %q\n", e.Name, e.Attrs.Room, e.Attrs.Token)

	table.Update(b, func(bot *Bot) { bot.Admin = true })
	for _, e := range table.ByName("bot-1") {
		fmt.Println(e.Attrs.Room, e.Attrs.Admin)
	}

	table.Pop(a)
	err = table.SetName(a, "bot-2") // popped: nothing is created
	fmt.Println(errors.Is(err, connmgr.ErrNotFound), table.Len())
	// Output:
	// bot-1 in room 1, token "secret-t"
	// 1 false
	// 2 true
	// true 1
}

// New rejects a schema it cannot store, naming the field.
func ExampleNew() {
	type Session struct {
		User  string
		Perms []string
	}
	_, err := connmgr.New[Session](connmgr.Options{})
	fmt.Println(err)
	// Output:
	// connmgr: connmgr_test.Session field Perms: type []string cannot be stored: use a string, bool, integer, float or time.Time
}

// Listener fills the table from an http.Server; each handler finds its
// connection's row through the request context.
func ExampleTable_Listener() {
	type Client struct{ Addr string }
	table, _ := connmgr.New[Client](connmgr.Options{Capacity: 10000})
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id, _ := connmgr.IDFromContext(r.Context())
			e, _ := table.Get(id)
			fmt.Fprintf(w, "hello, %s client", e.Name)
		}),
		ConnContext: table.ConnContext,
	}
	go srv.Serve(table.Listener(ln, "web", func(c net.Conn) Client {
		return Client{Addr: c.RemoteAddr().String()}
	}))
	defer srv.Close()

	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Get("http://" + ln.Addr().String())
	if err != nil {
		fmt.Println(err)
		return
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fmt.Println(string(body))
	fmt.Println("rows named web:", len(table.ByName("web")))

	tr.CloseIdleConnections() // the server sees the hang-up and pops the row
	for deadline := time.Now().Add(5 * time.Second); table.Len() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	fmt.Println("rows after hang-up:", table.Len())
	// Output:
	// hello, web client
	// rows named web: 1
	// rows after hang-up: 0
}

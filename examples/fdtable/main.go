// Command fdtable is a WebSocket chat server that keeps each connection's
// user and room in a connmgr table, and sends each message to the room's
// members, found with ByName.
//
// Every connection the server accepts gets a row from the table's Listener;
// the chat handler finds its row through the request context
// (connmgr.IDFromContext), sets the user and the room, and names the row
// after the room. The row goes when the connection closes.
//
//	go run ./examples/fdtable             # demo: four clients in two rooms, about a second
//	go run ./examples/fdtable -addr :8080 # the server alone, until Ctrl-C
//
// With -addr, open http://localhost:8080/ in a browser (or
// wscat -c 'ws://localhost:8080/chat?user=ann&room=go'), and see the table at
// http://localhost:8080/table.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/connkit/connkit/lifecycle"
)

func main() {
	// Signals are caught from the start, not only once lifecycle.Run is
	// called: a Ctrl-C during start-up or during the demo also ends cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fdtable:", err)
		os.Exit(1)
	}
}

// run parses args and runs the demo, or the server alone for -addr until ctx
// ends or a signal comes. It writes its narration to out.
func run(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("fdtable", flag.ContinueOnError)
	fs.SetOutput(out)
	addr := fs.String("addr", "", "`host:port` to serve on, without the demo (:8080 for every interface)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: the only flag is -addr", fs.Args())
	}
	var outMu sync.Mutex // the server's handlers print too
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}
	if *addr != "" {
		return serve(ctx, say, *addr)
	}
	return demo(ctx, say)
}

// serve runs the chat server on addr until ctx ends or SIGINT or SIGTERM.
func serve(ctx context.Context, say func(string, ...any), addr string) error {
	s, err := startChat(addr, 10000, say)
	if err != nil {
		return err
	}
	var group lifecycle.Group
	group.Add("chat server", s.shutdown)
	say("chat server listening on %s", s.addr)
	say("  page:  http://%s/", s.addr)
	say("  chat:  ws://%s/chat?user=NAME&room=ROOM", s.addr)
	say("  table: http://%s/table", s.addr)
	say("Ctrl-C to stop")
	err = lifecycle.Run(ctx, &group, 10*time.Second)
	say("stopped; %s", formatStats(s.table.Stats()))
	return err
}

// Command wsreconnect shows wsclient keeping a WebSocket connection through a
// server restart. It gets the endpoint's client from a wsclient.Registry,
// prints every state change, sends while the server is down (the Sends wait
// in the queue) and shows them delivered, in order, once the client has
// reconnected.
//
//	go run ./examples/wsreconnect                     # self-contained demo, about a second
//	go run ./examples/wsreconnect -url ws://host/path # against your server: a message a second until Ctrl-C
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
	"github.com/connkit/connkit/wsclient"
)

func main() {
	// Signals are caught from the start, not only once lifecycle.Run is
	// called: a Ctrl-C during start-up or during the demo also ends cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "wsreconnect:", err)
		os.Exit(1)
	}
}

// run parses args and runs the demo, or the client for -url until ctx ends
// or a signal comes. It writes its narration to out.
func run(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("wsreconnect", flag.ContinueOnError)
	fs.SetOutput(out)
	url := fs.String("url", "", "`ws://...` endpoint to use instead of the in-process demo server")
	every := fs.Duration("every", time.Second, "with -url: how often to send a message")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: flags are -url and -every", fs.Args())
	}
	var outMu sync.Mutex // OnStateChange prints from the client's goroutines too
	say := func(format string, args ...any) {
		outMu.Lock()
		defer outMu.Unlock()
		fmt.Fprintf(out, format+"\n", args...)
	}
	if *url != "" {
		if *every <= 0 {
			return fmt.Errorf("-every must be positive, got %v", *every)
		}
		return external(ctx, say, *url, *every)
	}
	return demo(ctx, say)
}

// external connects to url, prints the state changes, sends a message every
// interval and prints what comes back, until ctx ends or SIGINT or SIGTERM.
func external(ctx context.Context, say func(string, ...any), url string, every time.Duration) error {
	reg := wsclient.NewRegistry(func(url string) wsclient.Options {
		return wsclient.Options{
			URL:           url,
			OnStateChange: func(from, to lifecycle.State) { say("state: %s -> %s", from, to) },
		}
	})
	var group lifecycle.Group
	group.Add("wsclient registry", reg.Close) // closed last: writes what is queued, then 1000
	c, err := reg.Get(url)
	if err != nil {
		_ = group.Shutdown(ctx)
		return err
	}
	say("connecting to %s; Ctrl-C to stop", url)

	var wg sync.WaitGroup
	wg.Go(func() { receive(c, say) }) // ends once the client is closed
	sendCtx, stopSending := context.WithCancel(ctx)
	var sender sync.WaitGroup
	sender.Go(func() { sendEvery(sendCtx, c, say, every) })
	group.Add("sender", func(context.Context) error { // closed first
		stopSending()
		sender.Wait()
		return nil
	})

	err = lifecycle.Run(ctx, &group, 5*time.Second)
	wg.Wait()
	st := c.Stats()
	say("stopped: %s", formatStats(st))
	return err
}

// sendEvery sends "tick N" every interval until ctx ends. While the client
// is disconnected a Send waits in the queue; ctx ending takes it back.
func sendEvery(ctx context.Context, c *wsclient.Client, say func(string, ...any), every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for n := 1; ; n++ {
		msg := fmt.Sprintf("tick %d", n)
		err := c.Send(ctx, wsclient.MessageText, []byte(msg))
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			say("send %q: %v", msg, err)
		default:
			say("sent %q", msg)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// receive prints each message received until the client is closed.
func receive(c *wsclient.Client, say func(string, ...any)) {
	for {
		m, err := c.Recv(context.Background()) // Close ends it with ErrClosed
		if err != nil {
			return
		}
		say("received %q", m.Data)
	}
}

// formatStats returns the figures of st on one line.
func formatStats(st wsclient.Stats) string {
	return fmt.Sprintf("state=%s connects=%d reconnects=%d dial_errors=%d out=%d in=%d queued=%d dropped=%d write_errors=%d",
		st.State, st.Connects, st.Reconnects, st.DialErrors, st.MessagesOut, st.MessagesIn,
		st.QueueDepth, st.Dropped, st.WriteErrors)
}

package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connkit/connkit/internal/exampletest"

	"github.com/coder/websocket"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// demoWants are lines of the demo's output, as regular expressions.
var demoWants = []string{
	`(?m)^chat server on ws://127\.0\.0\.1:\d+/chat\?user=NAME&room=ROOM$`,
	`(?s)alice joined go \(row \d+\)\s+bob joined go \(row \d+\)\s+carol joined rust \(row \d+\)\s+dave joined rust \(row \d+\)`,
	// Each message reached the rest of its room, and no one else.
	`(?m)^   alice  <- "\* bob joined go" "bob: anyone on Go 1\.26 yet\?"$`,
	`(?m)^   bob    <- "alice: hi gophers"$`,
	`(?m)^   carol  <- "\* dave joined rust"$`,
	`(?m)^   dave   <- "carol: hi crabs"$`,
	`(?m)^   \d+ +go +alice +go +127\.0\.0\.1:\d+ +\d\d:\d\d:\d\d\.\d{3}$`,
	`(?m)^   \d+ +rust +dave +rust +127\.0\.0\.1:\d+ +\d\d:\d\d:\d\d\.\d{3}$`,
	`(?m)^   \d+ +\(http\) +127\.0\.0\.1:\d+ +-$`,
	`stats: rows=5 pushes=5 pops=0 updates=8 truncations=0 names=map\[\(http\):1 go:2 rust:2\]`,
	`row \d+ held: false; ByName\("go"\): \[bob\]`,
	`(?m)^   bob    <- "\* alice left go"$`,
	`stats: rows=3 pushes=5 pops=2 updates=8 truncations=0 names=map\[go:1 rust:2\]`,
	`(?m)^   dave   closed by the server: StatusGoingAway "server shutting down"$`,
	`rows left: 0; stats: rows=0 pushes=5 pops=5 updates=8 truncations=0 names=map\[\]\n$`,
}

func TestDemo(t *testing.T) {
	t.Parallel()
	exampletest.Match(t, exampletest.Run(t, run, 10*time.Second), demoWants)
}

// TestServe runs the -addr mode with clients of the test's own, until its
// ctx ends, as a signal would end it.
func TestServe(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := exampletest.NewOutput()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(runCtx, out, []string{"-addr", "127.0.0.1:0"}) }()
	out.WaitFor(t, "Ctrl-C to stop")
	addr := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(out.String())[1]

	if code := get(t, ctx, "http://"+addr+"/chat?user=ann"); code != http.StatusBadRequest {
		t.Errorf("GET /chat without a room: %d, want 400", code)
	}
	ann := dialTest(t, ctx, addr, "ann", "x")
	out.WaitFor(t, "ann joined x") // else she may miss ben's join
	ben := dialTest(t, ctx, addr, "ben", "x")
	cy := dialTest(t, ctx, addr, "cy", "y")
	if got := read(t, ctx, ann); got != "* ben joined x" {
		t.Errorf("ann got %q, want ben's join", got)
	}
	if err := ann.Write(ctx, websocket.MessageText, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, ctx, ben); got != "ann: hello" {
		t.Errorf("ben got %q", got)
	}
	if err := cy.Write(ctx, websocket.MessageText, []byte("alone")); err != nil {
		t.Fatal(err)
	}
	if err := ben.Write(ctx, websocket.MessageText, []byte("hi ann")); err != nil {
		t.Fatal(err)
	}
	if got := read(t, ctx, ann); got != "ben: hi ann" {
		t.Errorf("ann got %q", got)
	}

	var closes []<-chan error
	for _, c := range []*websocket.Conn{ann, ben, cy} {
		closes = append(closes, readClose(ctx, c)) // the close handshake needs a reader
	}
	stop()
	if err := <-done; err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	for _, closed := range closes {
		if err := <-closed; websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Errorf("after shutdown, Read = %v, want a close with 1001", err)
		}
	}
	exampletest.Match(t, out.String(), []string{
		`ann joined x \(row \d+\)`, `cy joined y \(row \d+\)`,
		`stopped; stats: rows=0 pushes=4 pops=4 updates=6`, // 3 members and the 400
	})
}

func TestServeTable(t *testing.T) {
	t.Parallel()
	s, err := startChat("127.0.0.1:0", 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	defer s.shutdown(ctx)
	long := strings.Repeat("é", 20) // 40 bytes: cut to 32, at a rune boundary
	c := dialTest(t, ctx, s.addr, long, "x")
	defer c.CloseNow()
	if err := poll(ctx, "the join", func() bool { return s.table.Stats().Updates >= 2 }); err != nil {
		t.Fatal(err)
	}
	body := getBody(t, ctx, "http://"+s.addr+"/table")
	exampletest.Match(t, body, []string{
		`(?m)^\d+ +x +` + strings.Repeat("é", 16) + ` +x +127\.0\.0\.1:\d+ `,
		`(?m)^\d+ +\(http\) `,
		`truncations=1`,
	})
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-nope"}, {"extra"}, {"-addr", "256.0.0.1:0"}} {
		var out bytes.Buffer
		if err := run(context.Background(), &out, args); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}

// TestBinary builds the command and runs it as a user would: the demo must
// exit 0 within a few seconds, and the server must stop cleanly on SIGINT.
func TestBinary(t *testing.T) {
	t.Parallel()
	bin := exampletest.Build(t, "fdtable")

	t.Run("Demo", func(t *testing.T) {
		t.Parallel()
		exampletest.Match(t, exampletest.RunBinary(t, bin, 10*time.Second), demoWants)
	})

	t.Run("SIGINT", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-addr", "127.0.0.1:0")
		out := exampletest.Start(t, cmd)
		out.WaitFor(t, "Ctrl-C to stop")
		addr := regexp.MustCompile(`listening on (\S+)`).FindStringSubmatch(out.String())[1]
		c := dialTest(t, ctx, addr, "ann", "x")
		defer c.CloseNow()
		out.WaitFor(t, "ann joined x")
		closed := readClose(ctx, c)
		exampletest.Interrupt(t, cmd, out)
		if err := <-closed; websocket.CloseStatus(err) != websocket.StatusGoingAway {
			t.Errorf("after SIGINT, Read = %v, want a close with 1001", err)
		}
		exampletest.Match(t, out.String(), []string{`ann left x`, `stopped; stats: rows=0 pushes=1 pops=1`})
	})
}

func dialTest(t *testing.T, ctx context.Context, addr, user, room string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.Dial(ctx, "ws://"+addr+"/chat?user="+user+"&room="+room, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// readClose reads c until it fails, as the close handshake needs, and
// returns the error.
func readClose(ctx context.Context, c *websocket.Conn) <-chan error {
	closed := make(chan error, 1)
	go func() {
		for {
			if _, _, err := c.Read(ctx); err != nil {
				closed <- err
				return
			}
		}
	}()
	return closed
}

func read(t *testing.T, ctx context.Context, c *websocket.Conn) string {
	t.Helper()
	_, data, err := c.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// get returns the status of a GET on a connection of its own.
func get(t *testing.T, ctx context.Context, url string) int {
	t.Helper()
	code, _ := fetch(t, ctx, url)
	return code
}

func getBody(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	_, body := fetch(t, ctx, url)
	return body
}

func fetch(t *testing.T, ctx context.Context, url string) (int, string) {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(body)
}

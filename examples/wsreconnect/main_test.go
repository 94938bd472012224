package main

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/connkit/connkit/internal/exampletest"
	"github.com/connkit/connkit/internal/wsdemo"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// demoWants are lines of the demo's output, as regular expressions.
var demoWants = []string{
	`(?m)^echo server listening on ws://127\.0\.0\.1:\d+/echo$`,
	`(?s)state: idle -> connecting\s+state: connecting -> connected\s+` +
		`one client per endpoint: a second Get returns the same client: true\s+sent "message 1", echo "message 1"`,
	`(?s)1012 \(service restart\)\s+state: connected -> backoff\s+state: backoff -> connecting\s+state: connecting -> backoff`,
	`last error: .*connection refused`,
	`Send\("message 8"\) is waiting \(queue depth 5\)`,
	`(?s)state: connecting -> connected\s+delivered 5 queued messages after the restart`,
	`(?s)echo "message 4"\s+echo "message 5"\s+echo "message 6"\s+echo "message 7"\s+echo "message 8"`,
	`state=connected connects=2 reconnects=1 dial_errors=\d+ out=8 in=8 queued=0 dropped=0 write_errors=0`,
	`(?s)state: connected -> closing\s+state: closing -> closed\s+done: final state closed\n$`,
}

func TestDemo(t *testing.T) {
	t.Parallel()
	exampletest.Match(t, exampletest.Run(t, run, 10*time.Second), demoWants)
}

// TestExternal runs the -url mode against an echo server of the test's own
// until its ctx ends, as a signal would end it.
func TestExternal(t *testing.T) {
	t.Parallel()
	srv, err := wsdemo.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	url := "ws://" + srv.Addr() + "/"
	if err := run(ctx, &out, []string{"-url", url, "-every", "200ms"}); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	exampletest.Match(t, out.String(), []string{
		`connecting to ` + regexp.QuoteMeta(url) + `; Ctrl-C to stop`,
		`state: connecting -> connected`,
		`sent "tick 1"`,
		`received "tick 1"`,
		`received "tick 3"`,
		`state: closing -> closed`,
		`stopped: state=closed connects=1 reconnects=0`,
	})
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-nope"}, {"extra"}, {"-url", "ws://x", "-every", "0s"}} {
		var out bytes.Buffer
		if err := run(context.Background(), &out, args); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
}

// TestBinary builds the command and runs it as a user would: the demo must
// exit 0 within a few seconds, and the -url mode must stop cleanly on
// SIGINT.
func TestBinary(t *testing.T) {
	t.Parallel()
	bin := exampletest.Build(t, "wsreconnect")

	t.Run("Demo", func(t *testing.T) {
		t.Parallel()
		exampletest.Match(t, exampletest.RunBinary(t, bin, 10*time.Second), demoWants)
	})

	t.Run("SIGINT", func(t *testing.T) {
		t.Parallel()
		srv, err := wsdemo.Start("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-url", "ws://"+srv.Addr()+"/")
		out := exampletest.Start(t, cmd)
		out.WaitFor(t, `received "tick 1"`)
		exampletest.Interrupt(t, cmd, out)
		exampletest.Match(t, out.String(), []string{`state: closing -> closed`, `stopped: state=closed connects=1`})
	})
}

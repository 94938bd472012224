package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

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
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, nil); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	checkOutput(t, out.String(), demoWants)
}

// TestExternal runs the -url mode against an echo server of the test's own
// until its ctx ends, as a signal would end it.
func TestExternal(t *testing.T) {
	t.Parallel()
	srv, err := startEchoServer("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop()
	ctx, cancel := context.WithTimeout(context.Background(), 700*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	url := "ws://" + srv.addr + "/"
	if err := run(ctx, &out, []string{"-url", url, "-every", "200ms"}); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	checkOutput(t, out.String(), []string{
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
	bin := build(t)

	t.Run("Demo", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, bin).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", bin, err, out)
		}
		checkOutput(t, string(out), demoWants)
	})

	t.Run("SIGINT", func(t *testing.T) {
		t.Parallel()
		srv, err := startEchoServer("127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer srv.stop()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, bin, "-url", "ws://"+srv.addr+"/")
		out := newLines()
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		out.waitFor(t, `received "tick 1"`)
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("after SIGINT: %v\n%s", err, out.text())
		}
		checkOutput(t, out.text(), []string{`state: closing -> closed`, `stopped: state=closed connects=1`})
	})
}

// build compiles the command into a temporary directory.
func build(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build with:", err)
	}
	bin := filepath.Join(t.TempDir(), "wsreconnect")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a cold build cache is slow
	defer cancel()
	if out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func checkOutput(t *testing.T, out string, wants []string) {
	t.Helper()
	for _, want := range wants {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", want, out)
		}
	}
}

// lines collects output as it comes, for waitFor. It is an io.Writer safe
// for concurrent use.
type lines struct {
	mu   sync.Mutex // protects the fields below
	buf  strings.Builder
	wake chan struct{} // closed and replaced on every Write
}

func newLines() *lines { return &lines{wake: make(chan struct{})} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	close(l.wake)
	l.wake = make(chan struct{})
	return len(p), nil
}

func (l *lines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// waitFor waits up to 5s for output that contains s.
func (l *lines) waitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		l.mu.Lock()
		got, wake := l.buf.String(), l.wake
		l.mu.Unlock()
		if strings.Contains(got, s) {
			return
		}
		select {
		case <-deadline:
			t.Fatalf("no %q in the output after 5s:\n%s", s, got)
		case <-wake:
		}
	}
}

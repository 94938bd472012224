// Package exampletest runs the example programs in their tests: it builds
// a command as a user would, matches its output, and collects the output of
// a command that keeps running.
package exampletest

import (
	"bytes"
	"context"
	"io"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Build compiles the package in the test's directory into a binary called
// name in a temporary directory, and returns its path.
func Build(t *testing.T, name string) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("exampletest: the go command must be on PATH to build %s: %v", name, err)
	}
	bin := filepath.Join(t.TempDir(), name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // a cold build cache is slow
	defer cancel()
	if out, err := exec.CommandContext(ctx, goBin, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// RunFunc is an example's run: its flags in args, its narration to out.
type RunFunc func(ctx context.Context, out io.Writer, args []string) error

// Run calls run with args, bounded by timeout, and returns its output; an
// error fails the test, showing the output.
func Run(t *testing.T, run RunFunc, timeout time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var out bytes.Buffer
	if err := run(ctx, &out, args); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	return out.String()
}

// RunBinary runs bin with args, bounded by timeout, and returns its
// combined output; a failure fails the test, showing the output.
func RunBinary(t *testing.T, bin string, timeout time.Duration, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", bin, err, out)
	}
	return string(out)
}

// Start starts cmd with its output collected, for a command that keeps
// running (a server) until Interrupt.
func Start(t *testing.T, cmd *exec.Cmd) *Output {
	t.Helper()
	out := NewOutput()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return out
}

// Interrupt sends cmd SIGINT, as Ctrl-C does, and fails the test, showing
// out, unless cmd then exits with status 0.
func Interrupt(t *testing.T, cmd *exec.Cmd, out *Output) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("after SIGINT: %v\n%s", err, out.String())
	}
}

// Match fails the test for each regular expression in wants that out does
// not match.
func Match(t *testing.T, out string, wants []string) {
	t.Helper()
	for _, want := range wants {
		if !regexp.MustCompile(want).MatchString(out) {
			t.Errorf("output does not match %s:\n%s", want, out)
		}
	}
}

// Output collects a program's output as it comes. It is an io.Writer safe
// for concurrent use.
type Output struct {
	mu   sync.Mutex // protects the fields below
	buf  strings.Builder
	wake chan struct{} // closed and replaced on every Write
}

// NewOutput returns an empty Output.
func NewOutput() *Output { return &Output{wake: make(chan struct{})} }

// Write appends p.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.buf.Write(p)
	close(o.wake)
	o.wake = make(chan struct{})
	return len(p), nil
}

// String returns everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// WaitFor waits up to 5s for output that contains s, and fails the test
// without it.
func (o *Output) WaitFor(t *testing.T, s string) {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		o.mu.Lock()
		got, wake := o.buf.String(), o.wake
		o.mu.Unlock()
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

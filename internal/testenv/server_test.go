package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeTB records Skip and Fatal, which end the calling goroutine like the
// real ones do.
type fakeTB struct {
	testing.TB // nil: calling anything else panics
	skipped    string
	failed     string
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Skip(args ...any) {
	f.skipped = fmt.Sprint(args...)
	runtime.Goexit()
}

func (f *fakeTB) Fatal(args ...any) {
	f.failed = fmt.Sprint(args...)
	runtime.Goexit()
}

// runFake runs fn on its own goroutine, as Skip and Fatal end it, and
// returns what fn's fakeTB recorded.
func runFake(fn func(tb testing.TB)) *fakeTB {
	f := &fakeTB{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	return f
}

func TestRequireBinary(t *testing.T) {
	tests := []struct {
		name        string
		give        []string // name, then candidates
		env         string
		wantPath    string
		wantSkip    bool
		wantFailure bool
	}{
		{name: "OnPath", give: []string{"sh"}, wantPath: "sh"},
		{name: "Candidate", give: []string{"connkit-missing", "/no/such/bin", "/bin/sh"}, wantPath: "/bin/sh"},
		{name: "MissingSkips", give: []string{"connkit-missing", "/no/such/bin"}, wantSkip: true},
		{name: "MissingFailsWhenRequired", give: []string{"connkit-missing"}, env: "1", wantFailure: true},
		{name: "OtherValuesSkip", give: []string{"connkit-missing"}, env: "true", wantSkip: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(envRequireServices, tt.env)
			var got string
			f := runFake(func(tb testing.TB) {
				got = requireBinary(tb, tt.give[0], "connkit-pkg", tt.give[1:]...)
			})
			if tt.wantPath != "" && !strings.HasSuffix(got, tt.wantPath) {
				t.Errorf("path = %q, want suffix %q", got, tt.wantPath)
			}
			if (f.skipped != "") != tt.wantSkip || (f.failed != "") != tt.wantFailure {
				t.Fatalf("skipped = %q, failed = %q; want skip %v, failure %v",
					f.skipped, f.failed, tt.wantSkip, tt.wantFailure)
			}
			if msg := f.skipped + f.failed; msg != "" && !strings.Contains(msg, "apt-get install -y connkit-pkg") {
				t.Errorf("message %q does not say how to install the package", msg)
			}
		})
	}
}

func TestFreePort(t *testing.T) {
	t.Parallel()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatalf("port %d from freePort cannot be bound: %v", port, err)
	}
	ln.Close()
}

func TestReadLogTail(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "log")
	content := "first run\n" + strings.Repeat("x", 2*logTailBytes) + "\nlast line\n"
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	size := int64(len(content))
	tests := []struct {
		name    string
		give    int64 // offset
		wantLen int
	}{
		{name: "FromOffset", give: size - int64(len("last line\n")), wantLen: len("last line\n")},
		{name: "Bounded", give: 0, wantLen: logTailBytes},
		{name: "PastEnd", give: size + 1, wantLen: 0},
	}
	for _, tt := range tests {
		got := readLogTail(path, tt.give)
		if len(got) != tt.wantLen || tt.wantLen > 0 && !strings.HasSuffix(got, "last line\n") {
			t.Errorf("%s: got %d bytes (%q...), want the last %d", tt.name, len(got), got[:min(len(got), 20)], tt.wantLen)
		}
	}
	if got := readLogTail(filepath.Join(t.TempDir(), "missing"), 0); !strings.Contains(got, "no log") {
		t.Errorf("missing log: got %q", got)
	}
}

// isRefused reports whether err is a refused connection.
func isRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED)
}

// dialRefused reports whether nothing listens on addr.
func dialRefused(t *testing.T, addr string) bool {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err == nil {
		conn.Close()
		return false
	}
	if !isRefused(err) {
		t.Fatalf("dial %s: %v, want connection refused", addr, err)
	}
	return true
}

// testTimeout bounds each test's context; the whole package runs in a few
// seconds.
const testTimeout = time.Minute

// testContext returns a context that ends with the test or after
// testTimeout.
func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// waitFor polls cond until it holds, failing the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-tick.C
	}
}

func TestRefusedAddr(t *testing.T) {
	t.Parallel()
	addr := RefusedAddr(t)
	for range 3 {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			t.Fatalf("a connect to RefusedAddr %s succeeded", addr)
		}
		if !errors.Is(err, syscall.ECONNREFUSED) {
			t.Fatalf("connect to RefusedAddr = %v, want connection refused", err)
		}
	}
}

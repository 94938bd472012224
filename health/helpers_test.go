package health_test

import (
	"bytes"
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/connkit/connkit/health"
	"github.com/connkit/connkit/pool"
)

// testCtx returns a context that ends with the test, or after 60 s.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// newMonitor returns a Monitor closed at the end of the test.
func newMonitor(t *testing.T, opts health.MonitorOptions) *health.Monitor {
	t.Helper()
	m, err := health.NewMonitor(opts)
	if err != nil {
		t.Fatalf("NewMonitor: %v", err)
	}
	t.Cleanup(m.Close)
	return m
}

// mustAdd adds a required check, or an optional one, failing the test on
// error.
func mustAdd(t *testing.T, m *health.Monitor, name string, c health.Checker, required bool) {
	t.Helper()
	add := m.Add
	if !required {
		add = m.AddOptional
	}
	if err := add(name, c); err != nil {
		t.Fatalf("Add(%q): %v", name, err)
	}
}

// fakeClock is a clock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex // protects now
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// switchChecker is a Checker whose result the test sets.
type switchChecker struct {
	mu  sync.Mutex // protects err
	err error
}

func (s *switchChecker) Check(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *switchChecker) Set(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

// fakePool is a pool.Inspector with fixed stats.
type fakePool struct {
	name     string
	stats    pool.Stats
	borrowed []pool.Borrow
}

func (p *fakePool) Name() string            { return p.name }
func (p *fakePool) Stats() pool.Stats       { return p.stats }
func (p *fakePool) Borrowed() []pool.Borrow { return p.borrowed }

// logBuffer is a concurrency-safe buffer for a slog handler.
type logBuffer struct {
	mu  sync.Mutex // protects buf
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// newLogger returns a logger writing every level as text into a buffer.
func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// waitFor polls cond until it holds, failing the test after timeout.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(time.Millisecond)
	}
}

// checkStatus returns the status of the named check in m's report.
func checkStatus(m *health.Monitor, name string) health.Status {
	return m.Report().Checks[name].Status
}

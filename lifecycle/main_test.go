package lifecycle

import (
	"context"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(runChildEnv); mode != "" {
		os.Exit(runChild(mode))
	}
	goleak.VerifyTestMain(m)
}

// conn is a connection for tests: it counts its closes.
type conn struct {
	id     int
	closes atomic.Int32
}

func (c *conn) close() error {
	c.closes.Add(1)
	return nil
}

// testCtx returns a context that ends with the test, bounded so that a hang
// fails the test instead of the whole run.
func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// closeGuard closes g when the test ends and fails it on error.
func closeGuard[T comparable](t *testing.T, g *Guard[T]) {
	t.Helper()
	t.Cleanup(func() {
		if err := g.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
}

// waitFor polls cond until it holds or the test's deadline comes near.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

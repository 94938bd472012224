package connmgr

import (
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// attrs is the attribute struct most tests use.
type attrs struct {
	User  string `connmgr:"size=8"`
	Room  int
	Admin bool
}

// newTable returns a table of attrs or fails the test.
func newTable(t testing.TB, opts Options) *Table[attrs] {
	t.Helper()
	tb, err := New[attrs](opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return tb
}

// waitFor polls cond until it holds, failing the test after 10 seconds.
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

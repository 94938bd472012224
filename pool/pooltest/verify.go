package pooltest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/connkit/connkit/pool"
	"go.uber.org/goleak"
)

// VerifyNone fails t if any of the pools has a connection borrowed, with one
// report block per borrow: pool, label, age, and the acquisition stack when
// the pool captures stacks (pool.LeakConfig.Stacks). Call it at the end of a
// test, or in t.Cleanup, after the code under test should have returned
// everything.
func VerifyNone(t testing.TB, pools ...pool.Inspector) {
	t.Helper()
	if report := borrowReport(pools); report != "" {
		t.Error(report)
	}
}

// borrowReport describes the borrows outstanding in pools, or returns "".
func borrowReport(pools []pool.Inspector) string {
	var blocks []string
	for _, p := range pools {
		for _, b := range p.Borrowed() {
			blocks = append(blocks, b.String())
		}
	}
	if len(blocks) == 0 {
		return ""
	}
	return fmt.Sprintf("pooltest: %d connection(s) still borrowed:\n\n%s\n", len(blocks), strings.Join(blocks, "\n\n"))
}

// closer is what VerifyTestMain needs to close a pool after checking it.
type closer interface {
	Close(ctx context.Context) error
}

// VerifyTestMain runs the tests of m, then fails the run when they passed
// but left anything behind: a connection still borrowed from one of the
// pools, a goroutine still running (goleak), or a file descriptor opened
// during the run and still open, each reported with what it points to. It
// closes the pools after looking at their borrows (they cannot be closed
// after it: it calls os.Exit), so that their own goroutines and connections
// are not reported. Use it as the whole of TestMain:
//
//	func TestMain(m *testing.M) {
//		testPool = newPool()
//		pooltest.VerifyTestMain(m, testPool)
//	}
func VerifyTestMain(m *testing.M, pools ...pool.Inspector) {
	os.Exit(verifyTestMain(m, pools))
}

func verifyTestMain(m *testing.M, pools []pool.Inspector) int {
	fds, fdErr := SnapshotFDs()
	code := m.Run()

	var problems []string
	wait := 10 * time.Second // for the pools' own goroutines and connections
	if report := borrowReport(pools); report != "" {
		problems = append(problems, report)
		wait = 0 // reported: take the borrowed connections back at once
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	for _, p := range pools {
		if c, ok := p.(closer); ok {
			_ = c.Close(ctx) // borrows were reported above
		}
	}
	if err := goleak.Find(); err != nil {
		problems = append(problems, fmt.Sprintf("pooltest: goroutines still running after the tests:\n%v\n", err))
	}
	if fdErr == nil {
		leaked, err := fds.Leaked()
		switch {
		case err != nil:
			problems = append(problems, err.Error())
		case len(leaked) > 0:
			var sb strings.Builder
			fmt.Fprintf(&sb, "pooltest: %d file descriptor(s) opened during the tests and still open:\n", len(leaked))
			for _, fd := range leaked {
				fmt.Fprintf(&sb, "\t%v\n", fd)
			}
			problems = append(problems, sb.String())
		}
	}
	if code != 0 || len(problems) == 0 {
		return code // a failing run says why already
	}
	for _, p := range problems {
		fmt.Fprintln(os.Stderr, p)
	}
	fmt.Fprintln(os.Stderr, "FAIL: pooltest.VerifyTestMain found leaks")
	return 1
}

package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"testing"
	"time"

	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/pool/pooltest"
)

// testPool is shared by the tests; VerifyTestMain checks it after they run.
var testPool *pool.Pool[*session]

// leakEnv makes this test binary run the buggy lookup, so that
// VerifyTestMain fails the run and prints its report. Without it the suite
// stays green.
const leakEnv = "CONNKIT_EXAMPLE_LEAK"

// TestMain is all it takes: after the tests, VerifyTestMain fails the run if
// a connection is still borrowed from testPool, a goroutine is still running,
// or a file descriptor opened by the tests is still open.
func TestMain(m *testing.M) {
	var err error
	if testPool, err = newPool(0, nil); err != nil {
		panic(err)
	}
	pooltest.VerifyTestMain(m, testPool)
}

func TestLookupUser(t *testing.T) {
	got, err := lookupUser(context.Background(), testPool, 7)
	if err != nil || got != "user 7 via session 1" {
		t.Fatalf("lookupUser = %q, %v", got, err)
	}
	if os.Getenv(leakEnv) == "1" {
		_, _ = lookupUser(context.Background(), testPool, -1) // the buggy path
	}
}

// TestLeakIsReported runs this package's tests again with the buggy path on,
// and checks that the run fails with a report naming the borrower and the
// line that acquired.
func TestLeakIsReported(t *testing.T) {
	if os.Getenv(leakEnv) == "1" {
		return // in the child: TestLookupUser leaks
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestLookupUser$")
	cmd.Env = append(os.Environ(), leakEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("the leaking run passed:\n%s", out)
	}
	want := regexp.MustCompile(`(?s)pooltest: 1 connection\(s\) still borrowed:\s+` +
		`pool "users" borrow \d+ by "lookupUser", held \S+\s+` +
		`acquired at:\s+\S*leakreport\.lookupUser\s+\S+/main\.go:\d+\s+\S*leakreport\.TestLookupUser`)
	if !want.Match(out) {
		t.Errorf("the report does not match %v:\n%s", want, out)
	}
}

func TestDemo(t *testing.T) {
	if os.Getenv(leakEnv) == "1" {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "run", ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go run: %v\n%s", err, out)
	}
	for _, want := range []string{
		`level=WARN msg="pool: connection borrowed longer than the leak threshold"`,
		`by \"lookupUser\", held`,
		`main.lookupUser`,
		`closed with 1 connection(s) still borrowed`,
	} {
		if !regexp.MustCompile(regexp.QuoteMeta(want)).Match(out) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

package main

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connkit/connkit/internal/exampletest"

	"github.com/connkit/connkit/internal/testenv"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wants are lines of every run's output, as regular expressions: one or two
// per section, and the summary.
var wants = []string{
	// 1. guard
	`100 goroutines called Get at once: 1 dial\n`,
	`(?s)50 Gets while it is down: 1 dial; the others failed fast:\s+lifecycle: connect failed \(1 in a row\), next attempt in \d+ms: .*connection refused`,
	`guard: backoff -> connecting`,
	`backend restarted: reconnected \d+ms later`,
	// 2. pool
	`(?m)^   640 borrows in \S+: 640 ok$`,
	`32 goroutines keep borrowing, one borrow each 10ms \(up to 500ms\)\.\.\.`,
	`1600 borrows in \S+: 0 ok, \d+ on a dead connection \(destroyed\), \d+ failed fast with the backoff error, 0 other`,
	`dials while it was down: ([1-9]|1[0-2]) for 1600 borrows`, // a first wave of up to 8, then one per delay
	`a borrower's error: pool "echo": lifecycle: dial failed \(\d in a row\), next attempt in \d+ms: .*connection refused`,
	`waiting for the pool's backoff: its next dial is due in \S+\.\.\.\s+recovered \d+ms after the restart`,
	`under load again: 640 borrows in \S+: 640 ok`,
	// 3. wsclient
	`sent "hello", echo "hello"`,
	`Send\("queued 3"\) waits in the queue \(depth 3\)`,
	`(?s)wsclient: connecting -> connected\s+the 3 queued Sends returned nil`,
	`(?s)echo "queued 1"\s+echo "queued 2"\s+echo "queued 3"\s+stats: state connected; connects 2, dial errors \d+; messages out 4, in 4; queued 0, dropped 0`,
	// 4. connmgr
	`(?m)^   id\s+name\s+user\s+requests\s+client\n   \d+\s+ops\s+ann\s+1\s+127\.0\.0\.1:\d+\n   \d+\s+dev\s+bob\s+1\s+127\.0\.0\.1:\d+\n   \d+\s+dev\s+cid\s+1\s+127\.0\.0\.1:\d+$`,
	`ByName\("dev"\): \[bob cid\]`,
	`bob hung up: row \d+ popped by the listener; ByName\("dev"\): \[cid\]; rows 2 \(pushes 3, pops 1\)`,
	// 5. leak: the report names the label and the line of leak.go that acquired
	`(?s)OnLeak:\s+\| pool "checkout" borrow 1 by "forgotten in handleCheckout", held \d+ms\s+\|\s+acquired at:\s+\|\s+\S*\bhandleCheckout\s+\|\s+\S+/examples/quickstart/leak\.go:\d+`,
	`(?s)Close within 50ms .*closed with 1 connection\(s\) still borrowed .*by "forgotten in handleCheckout"`,
	// shutdown and summary
	`(?s)closed http clients .*closed wsclient .*closed websocket server .*closed echo pool .*closed echo backend .*closed guard .*closed guard's backend`,
	`(?m)^   pool\s+acquires\s+dials\s+dial errors\s+resets\s+destroyed\s+\(why\)\n   echo\s+12\d\d\s+\d+\s+\d+\s+0\s+\d+\s+broken \d+, close [1-8]\n   checkout\s+1\s+1\s+0\s+0\s+1\s+close 1$`,
	`(?m)^   wsclient\s+connects\s+dial errors\s+messages out\s+messages in\s+dropped\n   echo\s+2\s+\d+\s+4\s+4\s+0$`,
}

func TestQuickstart(t *testing.T) {
	t.Parallel()
	out := runDemo(t)
	exampletest.Match(t, out, wants)
}

// TestRedis runs the -redis part against a private redis-server.
func TestRedis(t *testing.T) {
	t.Parallel()
	srv := testenv.StartRedis(t, nil)
	out := runDemo(t, "-redis", srv.Addr())
	exampletest.Match(t, out, append(wants,
		`pool against Redis at `+regexp.QuoteMeta(srv.Addr()),
		`health\.Redis check: ok in `,
		`borrower 1: SELECT 3; CLIENT ID (\d+), db 3: dirty`,
		`borrower 2: CLIENT ID \d+, db 0: the same connection, reset in place`,
		`(?m)^   redis\s+\d+\s+1\s+0\s+1\s+1\s+close 1$`,
	))
	ids := regexp.MustCompile(`CLIENT ID (\d+)`).FindAllStringSubmatch(out, -1)
	if len(ids) != 2 || ids[0][1] != ids[1][1] {
		t.Errorf("want the same CLIENT ID for both borrowers, got %q", ids)
	}
}

// TestMySQL runs the -mysql part against a private mariadbd, and checks that
// the password is never printed.
func TestMySQL(t *testing.T) {
	t.Parallel()
	srv := testenv.StartMariaDB(t, nil)
	out := runDemo(t, "-mysql", srv.DSN())
	exampletest.Match(t, out, append(wants,
		`pool against MySQL at `+regexp.QuoteMeta(srv.User()+"@"+srv.Addr()+"/"+srv.Database()),
		`health\.SQL check: ok in `,
		`borrower 1: connection (\d+), time_zone SYSTEM; SET time_zone = '\+05:00': \+05:00, dirty`,
		`borrower 2: connection \d+, time_zone SYSTEM: the same connection, reset in place`,
		`(?m)^   mysql\s+\d+\s+1\s+0\s+1\s+1\s+close 1$`,
	))
	ids := regexp.MustCompile(`borrower \d: connection (\d+)`).FindAllStringSubmatch(out, -1)
	if len(ids) != 2 || ids[0][1] != ids[1][1] {
		t.Errorf("want the same connection for both borrowers, got %q", ids)
	}
	if strings.Contains(out, srv.Password()) {
		t.Errorf("the output shows the password:\n%s", out)
	}
}

func TestRedactf(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, give, want string }{
		{"password", "app:s3cret@tcp(db:3306)/x", "open app:REDACTED@tcp(db:3306)/x"},
		{"no password", "app@tcp(db:3306)/x", "open app@tcp(db:3306)/x"},
		{"colon in the address only", "tcp(db:3306)/x", "open tcp(db:3306)/x"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := redactf(tt.give, "open %s", tt.give).Error(); got != tt.want {
				t.Errorf("redactf(%q) = %q, want %q", tt.give, got, tt.want)
			}
		})
	}
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"-nope"}, {"extra"}, {"-mysql", "user:s3cret@tcp(host:1)/db?badparam=%zz"}} {
		var out bytes.Buffer
		err := run(context.Background(), &out, args)
		if err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		} else if strings.Contains(err.Error()+out.String(), "s3cret") {
			t.Errorf("run(%q) shows the password: %v\n%s", args, err, out.String())
		}
	}
}

// TestBinary builds the command and runs it as the README says: it must exit
// 0 in under 15s.
func TestBinary(t *testing.T) {
	t.Parallel()
	bin := exampletest.Build(t, "quickstart")

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	start := time.Now()
	out, err := exec.CommandContext(ctx, bin).CombinedOutput()
	took := time.Since(start)
	if err != nil {
		t.Fatalf("%s: %v after %v\n%s", bin, err, took, out)
	}
	if took >= 15*time.Second {
		t.Errorf("the demo took %v, want under 15s", took)
	}
	exampletest.Match(t, string(out), wants)
}

// runDemo runs the demo with args and returns its output.
func runDemo(t *testing.T, args ...string) string {
	t.Helper()
	return exampletest.Run(t, run, 30*time.Second, args...)
}

package pooltest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/connkit/connkit/pool"
)

// childEnv makes the test binary a child that leaks on purpose, for the
// tests that check what a failing run reports.
const childEnv = "CONNKIT_POOLTEST_CHILD"

// childPool is the pool the "borrow" child leaks from.
var childPool *pool.Pool[int]

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "" {
		VerifyTestMain(m) // dogfood: this package must leave nothing behind
		return
	}
	childPool = newIntPool()
	VerifyTestMain(m, childPool)
}

func newIntPool() *pool.Pool[int] {
	p, err := pool.New(pool.Config[int]{
		Name: "ints",
		Dial: func(context.Context) (int, error) { return 1, nil },
		Leak: pool.LeakConfig{Stacks: pool.StacksAlways},
	})
	if err != nil {
		panic(err)
	}
	return p
}

// runChild runs test name of this binary as a child in mode, and returns
// its output and whether it failed.
func runChild(t *testing.T, name, mode string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+name+"$", "-test.v")
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
	out, err := cmd.CombinedOutput()
	if _, isExit := err.(*exec.ExitError); err != nil && !isExit {
		t.Fatalf("running the child: %v", err)
	}
	return string(out), err != nil
}

// leakyStore is the code under test in the child: it forgets to Release.
func leakyStore(p *pool.Pool[int]) {
	c, err := p.Acquire(pool.WithLabel(context.Background(), "leakyStore"))
	if err != nil {
		panic(err)
	}
	_ = c.Value()
	keep = append(keep, c) // still referenced: a leak, not a dropped handle
}

var keep []*pool.Conn[int]

func TestVerifyNoneReportsLeak(t *testing.T) {
	if os.Getenv(childEnv) == "verifynone" {
		p := newIntPool()
		leakyStore(p)
		VerifyNone(t, p) // must fail this test
		expired, cancel := context.WithCancel(context.Background())
		cancel()
		_ = p.Close(expired) // takes the leaked connection back at once
		return
	}
	t.Parallel()
	out, failed := runChild(t, "TestVerifyNoneReportsLeak", "verifynone")
	if !failed {
		t.Fatalf("the leaking child passed:\n%s", out)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`pooltest: 1 connection\(s\) still borrowed:`),
		regexp.MustCompile(`pool "ints" borrow 1 by "leakyStore", held \d`),
		regexp.MustCompile(`acquired at:\s+github.com/connkit/connkit/pool/pooltest.leakyStore\s+\S+/pooltest_test.go:\d+`),
		regexp.MustCompile(`--- FAIL: TestVerifyNoneReportsLeak`),
	} {
		if !want.MatchString(out) {
			t.Errorf("child output lacks %v:\n%s", want, out)
		}
	}
}

func TestVerifyNonePassesWhenAllReturned(t *testing.T) {
	t.Parallel()
	p := newIntPool()
	defer p.Close(context.Background())
	c, _ := p.Acquire(context.Background())
	c.Release()
	VerifyNone(t, p) // fails this test if it reports anything
}

func TestVerifyTestMain(t *testing.T) {
	switch os.Getenv(childEnv) {
	case "borrow":
		leakyStore(childPool)
		return
	case "fd":
		ln, _ := net.Listen("tcp", "127.0.0.1:0")
		conn, _ := net.Dial("tcp", ln.Addr().String())
		leakedFDs = append(leakedFDs, ln, conn)
		return
	case "clean":
		c, _ := childPool.Acquire(context.Background())
		c.Release()
		return
	}
	t.Parallel()
	tests := []struct {
		mode       string
		wantFailed bool
		want       string
	}{
		{"borrow", true, `(?s)pooltest: 1 connection\(s\) still borrowed:.*borrow 1 by "leakyStore".*pooltest.leakyStore`},
		{"fd", true, `(?s)file descriptor\(s\) opened during the tests and still open:.*fd \d+: tcp 127\.0\.0\.1:\d+ LISTEN.*fd \d+: tcp 127\.0\.0\.1:\d+ -> 127\.0\.0\.1:\d+ ESTABLISHED`},
		{"clean", false, `--- PASS: TestVerifyTestMain`},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			t.Parallel()
			out, failed := runChild(t, "TestVerifyTestMain", tt.mode)
			if failed != tt.wantFailed {
				t.Errorf("child failed = %v, want %v:\n%s", failed, tt.wantFailed, out)
			}
			if !regexp.MustCompile(tt.want).MatchString(out) {
				t.Errorf("child output does not match %s:\n%s", tt.want, out)
			}
		})
	}
}

var leakedFDs []interface{ Close() error }

func TestSnapshotFDsSeesTCPConnection(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	snap, err := SnapshotFDs()
	if err != nil {
		t.Fatal(err)
	}
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	leaked, err := snap.Leaked()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"tcp " + conn.LocalAddr().String() + " -> " + ln.Addr().String() + " ESTABLISHED": false,
		"tcp " + ln.Addr().String() + " -> " + conn.LocalAddr().String() + " ESTABLISHED": false,
	}
	for _, fd := range leaked {
		if _, ok := want[fd.Desc]; ok {
			want[fd.Desc] = true
		}
		if strings.Contains(fd.Desc, "LISTEN") {
			t.Errorf("the listener, open before the snapshot, is reported: %v", fd)
		}
	}
	for desc, seen := range want {
		if !seen {
			t.Errorf("Leaked() = %v; lacks %q", leaked, desc)
		}
	}
	conn.Close()
	server.Close()
	leaked, _ = snap.Leaked()
	for _, fd := range leaked {
		if strings.HasPrefix(fd.Desc, "tcp ") {
			t.Errorf("a closed connection is still reported: %v", fd)
		}
	}
}

func TestLeakedOnZeroSnapshot(t *testing.T) {
	t.Parallel()
	if _, err := (FDSnapshot{}).Leaked(); err == nil {
		t.Error("Leaked on a zero FDSnapshot returned no error")
	}
}

func TestHexAddr(t *testing.T) {
	t.Parallel()
	tests := []struct{ give, want string }{
		{"0100007F:18EB", "127.0.0.1:6379"},
		{"00000000:0050", "0.0.0.0:80"},
		{"00000000000000000000000001000000:0CEA", "[::1]:3306"},
		{"0000000000000000FFFF00000100007F:1F90", "127.0.0.1:8080"},
		{"garbage", "garbage"},
		{"ZZ:1", "ZZ:1"},
	}
	for _, tt := range tests {
		if got := hexAddr(tt.give); got != tt.want {
			t.Errorf("hexAddr(%q) = %q, want %q", tt.give, got, tt.want)
		}
	}
}

func TestFDString(t *testing.T) {
	t.Parallel()
	if got := (FD{Num: 7, Desc: "/tmp/x"}).String(); got != "fd 7: /tmp/x" {
		t.Errorf("String = %q", got)
	}
}

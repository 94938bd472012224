package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// redisDo runs one command on a new connection to addr.
func redisDo(ctx context.Context, addr string, args ...string) (string, error) {
	c, err := dialRedis(ctx, addr)
	if err != nil {
		return "", err
	}
	defer c.Close()
	return c.do(args...)
}

// mustPing fails the test unless the server on addr answers PING.
func mustPing(t *testing.T, ctx context.Context, addr string) {
	t.Helper()
	if got, err := redisDo(ctx, addr, "PING"); err != nil || got != "PONG" {
		t.Fatalf("PING %s = %q, %v; want PONG", addr, got, err)
	}
}

func TestRedisPing(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	r := StartRedis(t, nil)
	mustPing(t, ctx, r.Addr())
	if !r.Running() {
		t.Error("Running() = false for a started server")
	}
	if host, _, _ := net.SplitHostPort(r.Addr()); host != "127.0.0.1" {
		t.Errorf("Addr() = %q, want 127.0.0.1", r.Addr())
	}
}

func TestRedisKillAndRestart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	r := StartRedis(t, nil)
	addr := r.Addr()
	open, err := dialRedis(ctx, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Close()

	r.Kill()
	if r.Running() {
		t.Error("Running() = true after Kill")
	}
	if _, err := open.do("PING"); err == nil {
		t.Error("PING on a connection opened before Kill succeeded")
	}
	if !dialRefused(t, addr) {
		t.Fatal("a killed server still accepts connections")
	}
	r.Restart()
	if r.Addr() != addr {
		t.Errorf("Addr() = %q after Restart, want %q", r.Addr(), addr)
	}
	mustPing(t, ctx, addr)
	r.Restart() // from running: stops first
	mustPing(t, ctx, addr)
}

func TestRedisStopAndStart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	r := StartRedis(t, nil)
	if _, err := redisDo(ctx, r.Addr(), "SET", "k", "v"); err != nil {
		t.Fatal(err)
	}
	r.Stop()
	r.Stop() // no-op
	if r.Running() || !dialRefused(t, r.Addr()) {
		t.Fatal("server still up after Stop")
	}
	r.Start()
	mustPing(t, ctx, r.Addr())
	if got, err := redisDo(ctx, r.Addr(), "GET", "k"); err != nil || got != "" {
		t.Errorf("GET k after restart = %q, %v; want nil: no persistence", got, err)
	}
}

func TestRedisPassword(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	r := StartRedis(t, &RedisOptions{Password: "s3cret"})
	if r.Password() != "s3cret" {
		t.Errorf("Password() = %q", r.Password())
	}
	if _, err := redisDo(ctx, r.Addr(), "PING"); err == nil || !strings.HasPrefix(err.Error(), "NOAUTH") {
		t.Fatalf("unauthenticated PING: err = %v, want NOAUTH", err)
	}
	if _, err := redisDo(ctx, r.Addr(), "AUTH", "wrong"); err == nil || !strings.HasPrefix(err.Error(), "WRONGPASS") {
		t.Fatalf("AUTH with a wrong password: err = %v, want WRONGPASS", err)
	}
	c, err := dialRedis(ctx, r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.do("AUTH", "s3cret"); err != nil {
		t.Fatal(err)
	}
	if got, err := c.do("PING"); err != nil || got != "PONG" {
		t.Fatalf("authenticated PING = %q, %v", got, err)
	}
	r.Kill()
	r.Start() // the probe authenticates too
}

func TestRedisArgsAndOptionsCopy(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	opts := &RedisOptions{Args: []string{"--databases", "2"}}
	r := StartRedis(t, opts)
	if _, err := redisDo(ctx, r.Addr(), "SELECT", "1"); err != nil {
		t.Errorf("SELECT 1: %v", err)
	}
	if _, err := redisDo(ctx, r.Addr(), "SELECT", "2"); err == nil {
		t.Error("SELECT 2 succeeded; --databases 2 was not applied")
	}
	if opts.StartTimeout != 0 || !slices.Equal(opts.Args, []string{"--databases", "2"}) {
		t.Errorf("StartRedis changed the caller's options: %+v", opts)
	}
}

func TestRedisCrashIsNoticed(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	r := StartRedis(t, nil)
	if err := r.current().cmd.Process.Signal(os.Kill); err != nil { // not through testenv
		t.Fatal(err)
	}
	waitFor(t, "Running() to notice the crash", func() bool { return !r.Running() })
	r.Start()
	mustPing(t, ctx, r.Addr())
}

func TestRedisStartRetriesBusyPort(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	r := StartRedis(t, nil)
	r.Stop()
	ln, err := net.Listen("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	// Free the port once a start has failed on it, while Start retries.
	offset := fileSize(r.LogPath())
	released := make(chan struct{})
	go func() {
		defer close(released)
		defer ln.Close()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) &&
			!strings.Contains(readLogTail(r.LogPath(), offset), "Address already in use") {
			<-time.After(5 * time.Millisecond)
		}
	}()
	r.Start()
	<-released
	mustPing(t, ctx, r.Addr())
}

func TestRedisStartOnBusyPortReportsIt(t *testing.T) {
	t.Parallel()
	r := StartRedis(t, nil)
	r.Stop()
	ln, err := net.Listen("tcp", r.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	r.opMu.Lock()
	err = r.startOnLocked(testContext(t), ln.Addr().(*net.TCPAddr).Port)
	r.opMu.Unlock()
	if !errors.Is(err, errAddrInUse) || !strings.Contains(err.Error(), "Address already in use") {
		t.Fatalf("start on a busy port: %v; want errAddrInUse with the log", err)
	}
	if r.Running() {
		t.Error("Running() = true after a failed start")
	}
}

func TestRedisParallelInstances(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	a, b := StartRedis(t, nil), StartRedis(t, nil)
	if a.Addr() == b.Addr() {
		t.Fatalf("two servers share %s", a.Addr())
	}
	if _, err := redisDo(ctx, a.Addr(), "SET", "k", "a"); err != nil {
		t.Fatal(err)
	}
	if got, err := redisDo(ctx, b.Addr(), "GET", "k"); err != nil || got != "" {
		t.Errorf("b sees a's key: %q, %v", got, err)
	}
}

func TestAppendCommand(t *testing.T) {
	t.Parallel()
	got := string(appendCommand(nil, []string{"SET", "k", ""}))
	if want := "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"; got != want {
		t.Errorf("appendCommand = %q, want %q", got, want)
	}
}

func TestReadReply(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    string
		want    string
		wantErr string
	}{
		{name: "Simple", give: "+PONG\r\n", want: "PONG"},
		{name: "Integer", give: ":42\r\n", want: "42"},
		{name: "Bulk", give: "$5\r\na\r\nbc\r\n", want: "a\r\nbc"},
		{name: "NilBulk", give: "$-1\r\n", want: ""},
		{name: "Error", give: "-NOAUTH Authentication required.\r\n", wantErr: "NOAUTH Authentication required."},
		{name: "Array", give: "*1\r\n$1\r\na\r\n", wantErr: "unsupported"},
		{name: "Empty", give: "\r\n", wantErr: "empty"},
		{name: "HugeBulk", give: "$999999999\r\n", wantErr: "bulk length"},
		{name: "Truncated", give: "$5\r\nab", wantErr: "EOF"},
	}
	for _, tt := range tests {
		c := &respConn{r: bufio.NewReader(strings.NewReader(tt.give))}
		got, err := c.readReply()
		if got != tt.want || (err == nil) != (tt.wantErr == "") ||
			err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: readReply = %q, %v; want %q, error containing %q", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}

func FuzzReadReply(f *testing.F) {
	for _, seed := range []string{"+OK\r\n", "-ERR x\r\n", ":1\r\n", "$3\r\nabc\r\n", "$-1\r\n", "*0\r\n", "\n"} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := &respConn{r: bufio.NewReader(bytes.NewReader(data))}
		got, err := c.readReply()
		if err == nil && len(got) > len(data) {
			t.Errorf("reply %q longer than the input %q", got, data)
		}
	})
}

func BenchmarkRedisRestart(b *testing.B) {
	r := StartRedis(b, nil)
	for b.Loop() {
		r.Kill()
		r.Start()
	}
}

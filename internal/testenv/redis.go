package testenv

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// defaultRedisStartTimeout is RedisOptions.StartTimeout's default. Redis is
// ready in a few milliseconds; the margin is for loaded CI machines.
const defaultRedisStartTimeout = 10 * time.Second

// RedisOptions configures a server started by [StartRedis]. A nil
// *RedisOptions is the same as a zero RedisOptions.
type RedisOptions struct {
	// Password is required from clients (requirepass) when not empty.
	// Zero: no password, any client may run commands.
	Password string

	// Args are extra redis-server flags, appended after testenv's own so
	// they override them, e.g. []string{"--maxclients", "10"}; --port and
	// --bind must stay testenv's. Zero: none.
	Args []string

	// StartTimeout bounds every start, including restarts and retries on a
	// busy port. Zero: 10 s.
	StartTimeout time.Duration
}

// withDefaults returns a copy of o with zero fields set to their defaults.
func (o *RedisOptions) withDefaults() RedisOptions {
	var c RedisOptions
	if o != nil {
		c = *o
		c.Args = append([]string(nil), o.Args...)
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = defaultRedisStartTimeout
	}
	return c
}

// Redis is a private redis-server for one test. It runs without
// persistence, so a restarted server starts empty.
type Redis struct {
	*Server
	password string
}

// StartRedis starts a redis-server on a free port of 127.0.0.1 and waits
// until it answers, which takes about 15 ms. The server keeps its files in
// t.TempDir and is killed when the test ends. StartRedis skips the test when redis-server is not
// installed (fails it under CONNKIT_REQUIRE_SERVICES=1) and fails it when
// the server does not start; the log's tail is in the failure message.
func StartRedis(tb testing.TB, opts *RedisOptions) *Redis {
	tb.Helper()
	o := opts.withDefaults()
	bin := requireBinary(tb, "redis-server", "redis-server",
		"/usr/bin/redis-server", "/usr/local/bin/redis-server")
	dir := tb.TempDir()
	srv := newServer(tb, serverConfig{
		name:         "redis-server",
		bin:          bin,
		logPath:      filepath.Join(dir, "redis.log"),
		startTimeout: o.StartTimeout,
		args:         func(port int) []string { return redisArgs(o, dir, port) },
		probe: func(ctx context.Context, addr string, pid int) error {
			return probeRedis(ctx, addr, o.Password, pid)
		},
	})
	return &Redis{Server: srv, password: o.Password}
}

// Password returns the password clients must send with AUTH, or "" if the
// server has none.
func (r *Redis) Password() string { return r.password }

// redisArgs returns redis-server's command line. The server logs to
// stdout, which spawn sends to the log file.
func redisArgs(o RedisOptions, dir string, port int) []string {
	args := []string{
		"--port", strconv.Itoa(port),
		"--bind", "127.0.0.1",
		"--dir", dir,
		"--daemonize", "no",
		"--save", "",
		"--appendonly", "no",
		"--logfile", "",
	}
	if o.Password != "" {
		args = append(args, "--requirepass", o.Password)
	}
	return append(args, o.Args...)
}

// probeRedis checks that the server on addr answers and is process pid: a
// server of another test that took the port would report another pid.
func probeRedis(ctx context.Context, addr, password string, pid int) error {
	c, err := dialRedis(ctx, addr)
	if err != nil {
		return err
	}
	defer c.Close()
	if password != "" {
		if _, err := c.do("AUTH", password); err != nil {
			return err
		}
	}
	info, err := c.do("INFO", "server")
	if err != nil {
		return err
	}
	if want := "process_id:" + strconv.Itoa(pid) + "\r\n"; !strings.Contains(info, want) {
		return fmt.Errorf("testenv: %s is not pid %d (port taken by another redis-server?)", addr, pid)
	}
	return nil
}

// maxBulkLen bounds the bulk replies respConn accepts; INFO is a few KB.
const maxBulkLen = 1 << 20

// respConn speaks just enough RESP2 for probes and tests: commands in,
// simple strings, errors, integers and bulk strings out.
type respConn struct {
	conn net.Conn
	r    *bufio.Reader
}

// dialRedis connects to addr; ctx bounds the connection's whole life.
func dialRedis(ctx context.Context, addr string) (*respConn, error) {
	conn, err := dialCtx(ctx, addr)
	if err != nil {
		return nil, err
	}
	return &respConn{conn: conn, r: bufio.NewReader(conn)}, nil
}

// Close closes the connection.
func (c *respConn) Close() error { return c.conn.Close() }

// do sends one command and returns its reply. An error reply is returned
// as an error whose text is the server's, e.g. "NOAUTH Authentication
// required."; a nil bulk string is returned as "".
func (c *respConn) do(args ...string) (string, error) {
	if _, err := c.conn.Write(appendCommand(nil, args)); err != nil {
		return "", err
	}
	return c.readReply()
}

// appendCommand appends args encoded as a RESP array of bulk strings.
func appendCommand(b []byte, args []string) []byte {
	b = fmt.Appendf(b, "*%d\r\n", len(args))
	for _, a := range args {
		b = fmt.Appendf(b, "$%d\r\n%s\r\n", len(a), a)
	}
	return b
}

// readReply reads one reply that is not an array.
func (c *respConn) readReply() (string, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", errors.New("testenv: empty RESP reply")
	}
	switch body := line[1:]; line[0] {
	case '+', ':':
		return body, nil
	case '-':
		return "", errors.New(body)
	case '$':
		return c.readBulk(body)
	default:
		return "", fmt.Errorf("testenv: unsupported RESP reply %q", line)
	}
}

// readBulk reads the payload of a bulk string whose header was "$"+size.
func (c *respConn) readBulk(size string) (string, error) {
	n, err := strconv.Atoi(size)
	if err != nil || n > maxBulkLen {
		return "", fmt.Errorf("testenv: bad RESP bulk length %q", size)
	}
	if n < 0 {
		return "", nil
	}
	b := make([]byte, n+2)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return "", err
	}
	return string(b[:n]), nil
}

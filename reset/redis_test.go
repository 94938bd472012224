package reset_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/connkit/connkit/health"
	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/reset"
	"github.com/redis/go-redis/v9"
)

// Users every test server has besides "default": the application's and
// another one a borrower may switch to with AUTH.
const (
	redisAdminPass = "admin-secret"
	redisAppUser   = "app-user"
	redisAppPass   = "app-secret"
	redisOtherUser = "other"
	redisOtherPass = "other-secret"
)

// redisEnv is a private redis-server, a client of it whose sockets count
// their writes, and a pool of the client's dedicated connections.
type redisEnv struct {
	srv    *testenv.Redis
	opt    *redis.Options
	client *redis.Client
	admin  *redis.Client // another client, for INFO and for writes of "other borrowers"
	r      *reset.Redis
	pool   *pool.Pool[*redis.Conn]
	writes atomic.Int64 // socket writes of client's connections
}

// redisServer starts a redis-server that requires redisAdminPass and has
// the users above, or reuses srv when not nil.
func redisServer(t *testing.T, args ...string) *testenv.Redis {
	t.Helper()
	srv := testenv.StartRedis(t, &testenv.RedisOptions{Password: redisAdminPass, Args: args})
	admin := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: redisAdminPass})
	defer admin.Close()
	ctx := redisCtx(t)
	for _, u := range [][2]string{{redisAppUser, redisAppPass}, {redisOtherUser, redisOtherPass}} {
		if err := admin.Do(ctx, "acl", "setuser", u[0], "on", ">"+u[1], "~*", "&*", "+@all").Err(); err != nil {
			t.Fatalf("ACL SETUSER %s: %v", u[0], err)
		}
	}
	return srv
}

// newRedisEnv returns a pool of MaxSize 1 on a client of srv with opt
// (Addr and Dialer filled in), with no background sweep and no ping on
// acquire, so that the server sees only what the test and the pool send.
func newRedisEnv(t *testing.T, srv *testenv.Redis, opt redis.Options) *redisEnv {
	t.Helper()
	e := &redisEnv{srv: srv}
	opt.Addr = srv.Addr()
	opt.Dialer = func(ctx context.Context, network, addr string) (net.Conn, error) {
		var d net.Dialer
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &redisCountingConn{Conn: c, writes: &e.writes}, nil
	}
	e.client = redis.NewClient(&opt)
	e.opt = e.client.Options() // with go-redis's defaults
	e.admin = redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: redisAdminPass})
	e.r = reset.NewRedis(e.client)
	cfg := e.r.PoolConfig()
	cfg.MaxSize = 1
	cfg.HealthCheckPeriod = -1
	cfg.PingAfterIdle = -1
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.pool = p
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("pool Close: %v", err)
		}
		if n := reset.RedisTracked(e.r); n != 0 {
			t.Errorf("%d connections still tracked after the pool closed them all", n)
		}
		if s := e.client.PoolStats(); s.TotalConns != 0 {
			t.Errorf("client pool holds %d connections after the pool closed them all: Close gave sockets back", s.TotalConns)
		}
		e.client.Close()
		e.admin.Close()
	})
	return e
}

// redisCountingConn counts the writes on a socket: one per round trip, as
// go-redis flushes a command or a pipeline in one write.
type redisCountingConn struct {
	net.Conn
	writes *atomic.Int64
}

func (c *redisCountingConn) Write(b []byte) (int, error) {
	c.writes.Add(1)
	return c.Conn.Write(b)
}

func redisCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func (e *redisEnv) acquire(t *testing.T) *pool.Conn[*redis.Conn] {
	t.Helper()
	c, err := e.pool.Acquire(redisCtx(t))
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return c
}

// clientInfo returns the CLIENT INFO fields of conn.
func clientInfo(t *testing.T, ctx context.Context, conn *redis.Conn) map[string]string {
	t.Helper()
	s, err := conn.Do(ctx, "client", "info").Text()
	if err != nil {
		t.Fatalf("CLIENT INFO: %v", err)
	}
	m := map[string]string{}
	for _, f := range strings.Fields(s) {
		k, v, _ := strings.Cut(f, "=")
		m[k] = v
	}
	return m
}

// sessionFields are the CLIENT INFO fields that make up a session.
var sessionFields = []string{"id", "db", "name", "flags", "multi", "sub", "psub", "ssub", "resp", "user"}

// checkFresh fails the test unless conn's session is that of a fresh
// connection of e's client: the fields of fresh (but the id when
// sameConn is false), the client's options, tracking off, no WATCH.
func (e *redisEnv) checkFresh(t *testing.T, ctx context.Context, conn *redis.Conn, fresh map[string]string, sameConn bool) {
	t.Helper()
	info := clientInfo(t, ctx, conn)
	for _, k := range sessionFields {
		if k == "id" && !sameConn {
			if info[k] == fresh[k] {
				t.Errorf("CLIENT ID %s unchanged: want a new connection", info[k])
			}
			continue
		}
		if info[k] != fresh[k] {
			t.Errorf("CLIENT INFO %s=%q; a fresh connection has %q", k, info[k], fresh[k])
		}
	}
	user := e.opt.Username
	if user == "" {
		user = "default"
	}
	want := map[string]string{
		"db": strconv.Itoa(e.opt.DB), "name": e.opt.ClientName, "resp": strconv.Itoa(e.opt.Protocol),
		"user": user, "flags": "N", "multi": "-1", "sub": "0", "psub": "0", "ssub": "0",
	}
	for k, v := range want {
		if info[k] != v {
			t.Errorf("CLIENT INFO %s=%q; want %q", k, info[k], v)
		}
	}
	if flags := trackingFlags(t, ctx, conn); flags != "off" {
		t.Errorf("CLIENT TRACKINGINFO flags = %s; want off", flags)
	}
	// A key the previous borrower may have WATCHed changes: a transaction
	// must still commit.
	if err := e.admin.Set(ctx, "watched", time.Now().String(), 0).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, "tx", "1", 0)
		return nil
	}); err != nil {
		t.Errorf("a transaction after a change of a key watched before the reset: %v", err)
	}
}

// trackingFlags returns CLIENT TRACKINGINFO's flags, joined by commas.
func trackingFlags(t *testing.T, ctx context.Context, conn *redis.Conn) string {
	t.Helper()
	v, err := conn.Do(ctx, "client", "trackinginfo").Result()
	if err != nil {
		t.Fatalf("CLIENT TRACKINGINFO: %v", err)
	}
	var flags any
	switch v := v.(type) {
	case map[any]any: // RESP3
		flags = v["flags"]
	case []any: // RESP2: key, value, ...
		for i := 0; i+1 < len(v); i += 2 {
			if v[i] == "flags" {
				flags = v[i+1]
			}
		}
	}
	fs, _ := flags.([]any)
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprint(f))
	}
	return strings.Join(s, ",")
}

// do returns a pollution that sends args and expects no error.
func do(args ...any) func(ctx context.Context, e *redisEnv, conn *redis.Conn) error {
	return func(ctx context.Context, e *redisEnv, conn *redis.Conn) error {
		return conn.Do(ctx, args...).Err()
	}
}

// redisPollutions are what a borrower can leave on a connection. discard
// marks those that cannot be undone in place: the pool destroys the
// connection and the next borrower gets a new one.
var redisPollutions = []struct {
	name    string
	pollute func(ctx context.Context, e *redisEnv, conn *redis.Conn) error
	discard bool
}{
	{name: "SELECT 3", pollute: do("select", "3")},
	{name: "WATCH", pollute: do("watch", "watched")},
	{name: "MULTI/half-open", pollute: func(ctx context.Context, e *redisEnv, conn *redis.Conn) error {
		if err := conn.Do(ctx, "multi").Err(); err != nil {
			return err
		}
		return conn.Do(ctx, "set", "k", "queued").Err()
	}},
	{name: "CLIENT TRACKING ON", pollute: func(ctx context.Context, e *redisEnv, conn *redis.Conn) error {
		args := []any{"client", "tracking", "on"}
		if e.opt.Protocol == 2 { // RESP2 tracking needs a connection to send invalidations to
			id, err := e.admin.ClientID(ctx).Result()
			if err != nil {
				return err
			}
			args = append(args, "redirect", id)
		}
		if err := conn.Do(ctx, args...).Err(); err != nil {
			return err
		}
		if err := conn.Get(ctx, "tracked").Err(); !errors.Is(err, redis.Nil) { // tracked now
			return err
		}
		return nil
	}},
	{name: "CLIENT SETNAME other", pollute: do("client", "setname", "other")},
	{name: "CLIENT NO-EVICT ON", pollute: do("client", "no-evict", "on")},
	{name: "HELLO/other protocol", pollute: func(ctx context.Context, e *redisEnv, conn *redis.Conn) error {
		return conn.Do(ctx, "hello", 5-e.opt.Protocol).Err()
	}},
	{name: "AUTH other user", pollute: do("auth", redisOtherUser, redisOtherPass)},
	{name: "RESET", pollute: do("reset")},
	{name: "pipeline with SELECT", pollute: func(ctx context.Context, e *redisEnv, conn *redis.Conn) error {
		_, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Get(ctx, "k")
			p.Select(ctx, 4)
			p.Set(ctx, "k", "v", 0)
			return nil
		})
		if errors.Is(err, redis.Nil) {
			return nil
		}
		return err
	}},
	{name: "all at once", pollute: func(ctx context.Context, e *redisEnv, conn *redis.Conn) error {
		for _, args := range [][]any{
			{"select", "5"}, {"client", "setname", "x"}, {"watch", "watched"},
			{"hello", 5 - e.opt.Protocol}, {"auth", redisOtherUser, redisOtherPass}, {"multi"},
		} {
			if err := conn.Do(ctx, args...).Err(); err != nil {
				return fmt.Errorf("%v: %w", args, err)
			}
		}
		return nil
	}},
	{name: "SUBSCRIBE through Do", discard: true, pollute: do("subscribe", "news")},
	{name: "MONITOR", discard: true, pollute: do("monitor")},
	{name: "CLIENT REPLY OFF", discard: true, pollute: func(ctx context.Context, e *redisEnv, conn *redis.Conn) error {
		// The server does not answer: go-redis times out and breaks the
		// connection.
		if err := conn.Do(ctx, "client", "reply", "off").Err(); err == nil {
			return errors.New("CLIENT REPLY OFF answered")
		}
		return nil
	}},
}

// redisConfigs are the client configurations each pollution is tried on.
var redisConfigs = []struct {
	name string
	opt  redis.Options
}{
	{"defaults", redis.Options{Password: redisAdminPass}},
	{"RESP2/user/DB2/name", redis.Options{Protocol: 2, Username: redisAppUser, Password: redisAppPass, DB: 2, ClientName: "app"}},
	{"RESP3/user/DB2/name", redis.Options{Protocol: 3, Username: redisAppUser, Password: redisAppPass, DB: 2, ClientName: "app"}},
	{"RESP2/password/DB7", redis.Options{Protocol: 2, Password: redisAdminPass, DB: 7}},
}

// TestRedisPollutionsAreReset pollutes a pooled connection every way a
// borrower can and checks that the next borrower gets the same connection
// (same CLIENT ID) in the session of a fresh one, or, for what cannot be
// undone in place, a new connection.
func TestRedisPollutionsAreReset(t *testing.T) {
	t.Parallel()
	for _, cfg := range redisConfigs {
		t.Run("Config="+cfg.name, func(t *testing.T) {
			t.Parallel()
			srv := redisServer(t)
			for _, tt := range redisPollutions {
				t.Run(tt.name, func(t *testing.T) {
					opt := cfg.opt
					opt.ReadTimeout = 500 * time.Millisecond // CLIENT REPLY OFF waits for it
					e := newRedisEnv(t, srv, opt)
					ctx := redisCtx(t)

					c := e.acquire(t)
					fresh := clientInfo(t, ctx, c.Value())
					if err := tt.pollute(ctx, e, c.Value()); err != nil {
						c.Destroy()
						t.Fatalf("pollute: %v", err)
					}
					if !e.r.Dirty(c.Value()) {
						t.Error("Dirty = false after the pollution")
					}
					c.Release()

					c = e.acquire(t)
					defer c.Release()
					e.checkFresh(t, ctx, c.Value(), fresh, !tt.discard)
					if e.r.Dirty(c.Value()) {
						t.Error("Dirty = true on the connection handed out after the reset")
					}
					s := e.pool.Stats()
					if tt.discard && (s.Destroyed.Reset != 1 || s.Resets != 0) {
						t.Errorf("stats %+v; want the connection destroyed by its reset", s)
					}
					if !tt.discard && (s.Resets != 1 || s.Destroyed.Total() != 0) {
						t.Errorf("stats %+v; want one reset and nothing destroyed", s)
					}
				})
			}
		})
	}
}

// commandStats returns INFO commandstats as command name → calls.
func commandStats(t *testing.T, ctx context.Context, c *redis.Client) map[string]int {
	t.Helper()
	s, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]int{}
	for _, line := range strings.Split(s, "\r\n") {
		name, rest, ok := strings.Cut(strings.TrimPrefix(line, "cmdstat_"), ":calls=")
		if !ok {
			continue
		}
		calls, _, _ := strings.Cut(rest, ",")
		m[name], _ = strconv.Atoi(calls)
	}
	return m
}

// TestRedisCleanReturnCostsNothing counts what the server receives: a
// borrow, GET and release sends the GET and nothing else, and a dirty
// release costs one round trip of RESET, HELLO and SELECT.
func TestRedisCleanReturnCostsNothing(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, redisServer(t), redis.Options{Username: redisAppUser, Password: redisAppPass, DB: 2, ClientName: "app"})
	ctx := redisCtx(t)
	c := e.acquire(t) // dials
	c.Release()
	if err := e.admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	writes := e.writes.Load()

	for range 100 {
		c := e.acquire(t)
		if err := c.Value().Get(ctx, "k").Err(); !errors.Is(err, redis.Nil) {
			t.Fatalf("GET: %v", err)
		}
		c.Release()
	}
	stats := commandStats(t, ctx, e.admin)
	if w := e.writes.Load() - writes; w != 100 {
		t.Errorf("100 clean borrows wrote %d times to the socket; want 100, one per GET", w)
	}
	if stats["get"] != 100 {
		t.Errorf("GET calls = %d; want 100", stats["get"])
	}
	for name, calls := range stats {
		if name != "get" && name != "config|resetstat" {
			t.Errorf("%s called %d times by clean borrows", name, calls)
		}
	}
	if s := e.pool.Stats(); s.Resets != 0 || s.Dials != 1 {
		t.Errorf("stats %+v; want one dial and no reset", s)
	}

	// One dirty borrow: SELECT, then the reset on release.
	if err := e.admin.ConfigResetStat(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	writes = e.writes.Load()
	c = e.acquire(t)
	if err := c.Value().Do(ctx, "select", "0").Err(); err != nil {
		t.Fatal(err)
	}
	c.Release()
	c = e.acquire(t) // waits for the reset
	c.Release()
	if w := e.writes.Load() - writes; w != 2 {
		t.Errorf("a dirty borrow wrote %d times; want 2: its SELECT and one round trip of reset", w)
	}
	stats = commandStats(t, ctx, e.admin)
	for name, want := range map[string]int{"select": 2, "reset": 1, "hello": 1} {
		if stats[name] != want {
			t.Errorf("%s calls = %d; want %d (all: %v)", name, stats[name], want, stats)
		}
	}
}

// TestRedisTracking checks on a real server which sequences leave a
// connection dirty: a transaction closed by EXEC or DISCARD does not.
func TestRedisTracking(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, redisServer(t), redis.Options{Password: redisAdminPass})
	ctx := redisCtx(t)
	tx := func(ctx context.Context, conn *redis.Conn) error {
		_, err := conn.TxPipelined(ctx, func(p redis.Pipeliner) error {
			p.Incr(ctx, "n")
			return nil
		})
		return err
	}
	tests := []struct {
		name string
		give func(ctx context.Context, conn *redis.Conn) error
		want bool
	}{
		{"data commands", func(ctx context.Context, conn *redis.Conn) error {
			conn.Set(ctx, "k", "v", 0)
			conn.Get(ctx, "k")
			conn.Do(ctx, "client", "id")
			conn.Do(ctx, "CLIENT", "INFO")
			conn.Do(ctx, "swapdb", "0", "0")
			conn.Do(ctx, "no-such-command")
			return conn.Do(ctx, "eval", "redis.call('select', 3) return 1", "0").Err()
		}, false},
		{"TxPipelined", tx, false},
		{"WATCH, TxPipelined", func(ctx context.Context, conn *redis.Conn) error {
			conn.Do(ctx, "watch", "n")
			return tx(ctx, conn)
		}, false},
		{"WATCH, TxPipelined aborted", func(ctx context.Context, conn *redis.Conn) error {
			conn.Do(ctx, "watch", "n")
			e.admin.Incr(ctx, "n")
			if err := tx(ctx, conn); !errors.Is(err, redis.TxFailedErr) {
				return fmt.Errorf("EXEC = %v; want TxFailedErr", err)
			}
			return nil
		}, false},
		{"MULTI, DISCARD", func(ctx context.Context, conn *redis.Conn) error {
			conn.Do(ctx, "MULTI")
			conn.Do(ctx, "incr", "n")
			return conn.Do(ctx, "Discard").Err()
		}, false},
		{"WATCH, UNWATCH", func(ctx context.Context, conn *redis.Conn) error {
			conn.Do(ctx, "watch", "n")
			return conn.Do(ctx, "unwatch").Err()
		}, false},
		{"WATCH, EXEC without MULTI", func(ctx context.Context, conn *redis.Conn) error {
			conn.Do(ctx, "watch", "n")
			conn.Do(ctx, "exec")
			return nil
		}, true},
		{"WATCH, MULTI, UNWATCH, EXEC", func(ctx context.Context, conn *redis.Conn) error {
			conn.Do(ctx, "watch", "n")
			conn.Do(ctx, "multi")
			conn.Do(ctx, "unwatch")
			return conn.Do(ctx, "exec").Err()
		}, false},
		{"MULTI left open", func(ctx context.Context, conn *redis.Conn) error {
			return conn.Do(ctx, "multi").Err()
		}, true},
		{"CLIENT SETNAME as bytes", func(ctx context.Context, conn *redis.Conn) error {
			return conn.Do(ctx, []byte("CLIENT"), []byte("SetName"), "x").Err()
		}, true},
		{"SELECT that failed", func(ctx context.Context, conn *redis.Conn) error {
			conn.Do(ctx, "select", "99")
			return nil
		}, true},
	}
	for _, tt := range tests {
		c := e.acquire(t)
		_ = tt.give(ctx, c.Value())
		if got := e.r.Dirty(c.Value()); got != tt.want {
			t.Errorf("%s: Dirty = %v; want %v", tt.name, got, tt.want)
		}
		c.Release()
	}
	if s := e.pool.Stats(); s.Destroyed.Total() != 0 {
		t.Errorf("stats %+v; want nothing destroyed", s)
	}
}

// TestRedisKilledAndRestarted kills the server under idle connections: the
// pool drops them on their failed pings and recovers when the server is
// back, with connections in the client's configured session.
func TestRedisKilledAndRestarted(t *testing.T) {
	t.Parallel()
	srv := redisServer(t)
	e := newRedisEnv(t, srv, redis.Options{Password: redisAdminPass, DB: 3, MaxRetries: -1})
	ctx := redisCtx(t)
	cfg := e.r.PoolConfig()
	cfg.MaxSize = 4
	cfg.PingAfterIdle = time.Nanosecond
	cfg.PingTimeout = time.Second
	cfg.HealthCheckPeriod = -1
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())

	var held []*pool.Conn[*redis.Conn]
	for range 4 {
		c, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		c.Value().Do(ctx, "select", "1") // dirty: reset on release
		c.Release()
	}
	waitFor(t, "4 idle connections", func() bool { return p.Stats().Idle == 4 })

	srv.Kill()
	if _, err := p.Acquire(ctx); err == nil {
		t.Fatal("Acquire succeeded with the server down: it handed out a dead connection")
	} else if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("Acquire with the server down = %v; want the dial error", err)
	}
	if s := p.Stats(); s.Destroyed.Ping != 4 || s.Open != 0 {
		t.Errorf("after the kill: %+v; want the 4 dead connections destroyed by their pings", s)
	}

	srv.Start() // comes back empty, with the same password
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := p.With(ctx, func(ctx context.Context, c *redis.Conn) error { return c.Ping(ctx).Err() })
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the restart: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for range 20 {
		err := p.With(ctx, func(ctx context.Context, c *redis.Conn) error {
			if info := clientInfo(t, ctx, c); info["db"] != "3" {
				return fmt.Errorf("db=%s; want 3", info["db"])
			}
			return c.Do(ctx, "select", "1").Err() // and dirty again
		})
		if err != nil {
			t.Fatalf("a connection handed out after recovery: %v", err)
		}
	}
}

// TestRedisWithoutRESET runs on a server where RESET does not exist, as on
// Redis < 6.2: a dirty connection is destroyed instead of reset, and after
// the first "unknown command" the adapter no longer tries.
func TestRedisWithoutRESET(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, redisServer(t, "--rename-command", "RESET", ""), redis.Options{Password: redisAdminPass, DB: 1})
	ctx := redisCtx(t)
	for i := range 2 {
		c := e.acquire(t)
		id := clientInfo(t, ctx, c.Value())["id"]
		if err := c.Value().Do(ctx, "select", "4").Err(); err != nil {
			t.Fatal(err)
		}
		if i == 0 { // the first reset finds out
			if err := e.r.Reset(ctx, c.Value()); !errors.Is(err, reset.ErrDiscard) {
				t.Fatalf("Reset = %v; want ErrDiscard", err)
			}
		}
		writes := e.writes.Load()
		c.Release()
		waitFor(t, "the destroy", func() bool { return e.pool.Stats().Destroyed.Reset == int64(i+1) })
		if w := e.writes.Load() - writes; w != 0 {
			t.Errorf("the release of dirty connection %d wrote %d times; want no reset attempt", i, w)
		}
		c = e.acquire(t)
		info := clientInfo(t, ctx, c.Value())
		if info["id"] == id || info["db"] != "1" {
			t.Errorf("borrow %d after a dirty release: id %s (was %s), db %s; want a new connection on db 1", i, info["id"], id, info["db"])
		}
		c.Release()
	}
	if s := e.pool.Stats(); s.Destroyed.Reset != 2 || s.Resets != 0 {
		t.Errorf("stats %+v; want both dirty connections destroyed", s)
	}
}

// TestRedisResetErrorsSaySo checks Reset's errors for a connection it does
// not know and for a server that rejects the client's credentials.
func TestRedisResetErrorsSaySo(t *testing.T) {
	t.Parallel()
	srv := redisServer(t)
	e := newRedisEnv(t, srv, redis.Options{Username: redisAppUser, Password: redisAppPass})
	ctx := redisCtx(t)

	stranger := e.client.Conn()
	defer stranger.Close()
	if !e.r.Dirty(stranger) {
		t.Error("Dirty = false for a connection the adapter did not dial")
	}
	if err := e.r.Reset(ctx, stranger); !errors.Is(err, reset.ErrDiscard) {
		t.Errorf("Reset of a stranger = %v; want ErrDiscard", err)
	}

	c := e.acquire(t)
	defer c.Release()
	if err := e.admin.Do(ctx, "acl", "setuser", redisAppUser, "resetpass", ">rotated").Err(); err != nil {
		t.Fatal(err)
	}
	err := e.r.Reset(ctx, c.Value())
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") || strings.Contains(err.Error(), redisAppPass) {
		t.Errorf("Reset with a rotated password = %v; want WRONGPASS, without the password", err)
	}
	if !e.r.Dirty(c.Value()) {
		t.Error("Dirty = false after a failed reset")
	}
	c.Destroy()
}

// TestRedisBrokenConnectionIsDiscarded breaks a connection under a data
// command: its state is unknown, so it is destroyed, not reset.
func TestRedisBrokenConnectionIsDiscarded(t *testing.T) {
	t.Parallel()
	e := newRedisEnv(t, redisServer(t), redis.Options{Password: redisAdminPass, MaxRetries: -1})
	ctx := redisCtx(t)
	c := e.acquire(t)
	id, err := c.Value().ClientID(ctx).Result()
	if err != nil {
		t.Fatal(err)
	}
	if err := e.admin.ClientKillByFilter(ctx, "id", strconv.FormatInt(id, 10)).Err(); err != nil {
		t.Fatal(err)
	}
	if err := c.Value().Get(ctx, "k").Err(); err == nil || errors.Is(err, redis.Nil) {
		t.Fatalf("GET on a killed connection = %v; want a network error", err)
	}
	if !e.r.Dirty(c.Value()) {
		t.Error("Dirty = false after a network error")
	}
	err = e.r.Reset(ctx, c.Value())
	if !errors.Is(err, reset.ErrDiscard) || !strings.Contains(err.Error(), "get failed") {
		t.Errorf("Reset = %v; want ErrDiscard saying GET failed", err)
	}
	c.Release()
	c = e.acquire(t)
	defer c.Release()
	if id2, err := c.Value().ClientID(ctx).Result(); err != nil || id2 == id {
		t.Errorf("after the release: CLIENT ID %d, %v; want a new connection", id2, err)
	}
}

// waitFor polls cond until it holds, failing the test after a while.
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

// TestPoolConfigLeavesTheClientAConnection: a pool from PoolConfig, at its
// MaxSize after a burst and idle again, leaves the client a connection of
// its own, so a health check through the client still gets one.
func TestPoolConfigLeavesTheClientAConnection(t *testing.T) {
	srv := redisServer(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: redisAdminPass, PoolSize: 4})
	defer client.Close()
	cfg := reset.NewRedis(client).PoolConfig()
	if cfg.MaxSize != 3 {
		t.Errorf("PoolConfig().MaxSize = %d with a PoolSize of 4, want 3", cfg.MaxSize)
	}
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	ctx := redisCtx(t)
	var held []*pool.Conn[*redis.Conn]
	for range cfg.MaxSize {
		c, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	for _, c := range held {
		c.Release()
	}
	cctx, cancel := context.WithTimeout(ctx, health.DefaultTimeout)
	defer cancel()
	if err := health.Redis(client).Check(cctx); err != nil {
		t.Errorf("health.Redis through the client, with the pool full and idle: %v", err)
	}
}

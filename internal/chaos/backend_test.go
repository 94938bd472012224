package chaos

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/reset"
	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// errMismatch is a reply that does not answer the request sent: a
// connection out of step with its protocol. It must never happen.
var errMismatch = errors.New("reply does not match the request")

// Dial backoff of the chaos pools: from 50ms, doubling to 1s, ±50%.
const (
	backoffInitial = 50 * time.Millisecond
	backoffMax     = time.Second
)

func chaosBackOff() backoff.BackOff {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.Multiplier, b.MaxInterval, b.RandomizationFactor = backoffInitial, 2, backoffMax, 0.5
	b.MaxElapsedTime = 0
	return b
}

// maxDials is the most dials the chaos backoff allows in d: each delay is
// at least half its nominal value.
func maxDials(d time.Duration) int {
	n, next := 1, backoffInitial
	for elapsed := time.Duration(0); ; n++ {
		elapsed += next / 2
		if elapsed > d {
			return n
		}
		next = min(2*next, backoffMax)
	}
}

// classify names the kind of an error a borrower saw.
func classify(err error) string {
	var be *lifecycle.BackoffError
	var ae *pool.AcquireError
	switch {
	case errors.Is(err, errMismatch):
		return "MISMATCH"
	case errors.As(err, &ae):
		if !strings.Contains(err.Error(), "(max ") {
			return "acquire error without the pool's state"
		}
		return "acquire-timeout"
	case errors.As(err, &be):
		return "backend-down" // dials failing: callers fail fast with the dial error
	case errors.Is(err, context.DeadlineExceeded):
		return "command-timeout"
	case pool.IsBroken(err), errors.Is(err, mysql.ErrInvalidConn), strings.Contains(err.Error(), "connection refused"):
		return "connection-lost"
	case strings.Contains(err.Error(), "LOADING"), strings.Contains(err.Error(), "shutting down"):
		return "server-starting"
	}
	return fmt.Sprintf("unknown (%T)", err)
}

var knownErrors = []string{"acquire-timeout", "backend-down", "command-timeout", "connection-lost", "server-starting"}

// backend is a real server with a connkit pool in front of it.
type backend struct {
	name string
	srv  interface {
		Addr() string
		Kill()
		Start()
	}
	pool   pool.Inspector
	op     op
	owners *owners // every borrow of op claims its connection here
}

// owners catches a connection handed to a second borrower while the first
// still holds it: each borrow claims its connection's owner word with
// CompareAndSwap and clears it before giving the connection back, so a
// failed CompareAndSwap is a connection handed out twice.
type owners struct {
	words   sync.Map      // connection → *atomic.Uint64: the borrow holding it, or 0
	next    atomic.Uint64 // the last borrow's ID: the number of borrows
	doubles atomic.Int64
	example atomic.Value // string: the first double hand-out
}

// claim marks v as held by a new borrow and returns the function that
// clears the mark, to be called before v goes back to its pool.
func (o *owners) claim(v any) (unclaim func()) {
	id := o.next.Add(1)
	w, ok := o.words.Load(v)
	if !ok {
		w, _ = o.words.LoadOrStore(v, new(atomic.Uint64))
	}
	word := w.(*atomic.Uint64)
	if !word.CompareAndSwap(0, id) {
		o.doubles.Add(1)
		o.example.CompareAndSwap(nil, fmt.Sprintf("connection %p handed to borrow %d while borrow %d held it", v, id, word.Load()))
		return func() {} // the mark is the holder's to clear
	}
	return func() { word.Store(0) }
}

// forget wraps cfg.Close so that a closed connection's owner word is
// dropped: a soak dials thousands of connections.
func forget[T any](o *owners, cfg *pool.Config[T]) {
	closeFn := cfg.Close
	cfg.Close = func(v T) error {
		o.words.Delete(v)
		return closeFn(v)
	}
}

// check fails t if a connection was ever handed out twice; prefix starts
// the message.
func (o *owners) check(t *testing.T, prefix string) {
	t.Helper()
	if n := o.doubles.Load(); n != 0 {
		t.Errorf("%s%d of %d borrows got a connection another borrower held: %v", prefix, n, o.next.Load(), o.example.Load())
	}
}

// redisBackend pools dedicated connections of a go-redis client to a
// private redis-server reached at addr (the server's, or a proxy's).
func redisBackend(t *testing.T, srv *testenv.Redis, addr string, tune func(*pool.Config[*redis.Conn])) *backend {
	client := redis.NewClient(&redis.Options{
		Addr: addr, PoolSize: 16, MaxRetries: -1, DialerRetries: 1, // the pool spaces dials (see reset.Redis)
		ReadTimeout: socketTimeout, WriteTimeout: socketTimeout, DialTimeout: 500 * time.Millisecond,
		// Without it, go-redis bounds a command by ReadTimeout and
		// WriteTimeout only, not by its ctx: a ping given the pool's 200ms
		// PingTimeout ran for the whole ReadTimeout in a stall, and a
		// borrower's 500ms op for over a second.
		ContextTimeoutEnabled: true,
		// In its default "auto" mode, go-redis v9.22 turns maintenance
		// notifications off on the first connection that a server before
		// Redis 8 refuses them, writing its Options while other dials read
		// them: a data race in go-redis (seen under -race in this suite;
		// see go-redis PR #3739 for one of its kind). Off from the start,
		// nothing is written.
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	t.Cleanup(func() { client.Close() })
	r := reset.NewRedis(client)
	cfg := r.PoolConfig()
	chaosPoolConfig(&cfg, "redis")
	if tune != nil {
		tune(&cfg)
	}
	o := &owners{}
	forget(o, &cfg)
	p := newPool(t, cfg)
	return &backend{name: cfg.Name, srv: srv, pool: p, owners: o, op: borrowOp(p, o, func(ctx context.Context, c *redis.Conn, w int, began time.Time) error {
		want := strconv.Itoa(w) + ":" + strconv.FormatInt(began.UnixNano(), 36)
		got, err := c.Echo(ctx, want).Result()
		if err == nil && got != want {
			return fmt.Errorf("%w: ECHO %q got %q", errMismatch, want, got)
		}
		return err
	})}
}

// mariadbBackend pools *sql.Conns of a db opened on reset.MySQLConnector,
// to a private mariadbd reached at addr (the server's, or a proxy's).
func mariadbBackend(t *testing.T, srv *testenv.MariaDB, addr string, tune func(*pool.Config[*sql.Conn])) *backend {
	cfg, err := mysql.ParseDSN(srv.DSN("timeout=500ms", "readTimeout="+socketTimeout.String(), "writeTimeout="+socketTimeout.String()))
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = addr
	connector, err := reset.MySQLConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxIdleConns(16)
	t.Cleanup(func() { db.Close() })
	pc := reset.NewSQL(db).PoolConfig()
	chaosPoolConfig(&pc, "mariadb")
	if tune != nil {
		tune(&pc)
	}
	o := &owners{}
	forget(o, &pc)
	p := newPool(t, pc)
	return &backend{name: pc.Name, srv: srv, pool: p, owners: o, op: borrowOp(p, o, func(ctx context.Context, c *sql.Conn, w int, began time.Time) error {
		want := began.UnixNano() + int64(w)
		var got int64
		err := c.QueryRowContext(ctx, "SELECT ?", want).Scan(&got)
		if err == nil && got != want {
			return fmt.Errorf("%w: SELECT %d got %d", errMismatch, want, got)
		}
		return err
	})}
}

// chaosPingTimeout is the chaos pools' PingTimeout.
const chaosPingTimeout = 200 * time.Millisecond

// socketTimeout is the drivers' own read and write timeout: only a
// backstop, well past the ctx of every operation, ping and dial of the
// chaos pools, so that a call that ignores its ctx shows as one that takes
// 2s rather than hiding behind a driver timeout close to its own.
const socketTimeout = 2 * time.Second

// chaosPoolConfig sets what the chaos pools share: a name, 8 connections,
// the chaos backoff, pings after 100ms idle and short timeouts.
func chaosPoolConfig[T any](cfg *pool.Config[T], name string) {
	cfg.Name, cfg.MaxSize, cfg.NewBackOff = name, 8, chaosBackOff
	cfg.PingAfterIdle, cfg.PingTimeout, cfg.ConnectTimeout = 100*time.Millisecond, chaosPingTimeout, time.Second
}

// borrowOp is an op that borrows from p with With, times the wait for the
// connection (until the acquire failed, when it did), claims the connection
// in o for as long as it holds it, and runs do on it; began is when the op
// started.
func borrowOp[T any](p *pool.Pool[T], o *owners, do func(ctx context.Context, c T, w int, began time.Time) error) op {
	return func(ctx context.Context, w int) (time.Duration, error) {
		began := time.Now()
		wait := time.Duration(-1)
		err := p.With(ctx, func(ctx context.Context, c T) error {
			wait = time.Since(began)
			defer o.claim(c)() // cleared before With gives c back
			return do(ctx, c, w, began)
		})
		if wait < 0 { // the acquire failed
			wait = time.Since(began)
		}
		return wait, err
	}
}

// newPool returns a pool closed at the end of the test.
func newPool[T any](t *testing.T, cfg pool.Config[T]) *pool.Pool[T] {
	p, err := pool.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

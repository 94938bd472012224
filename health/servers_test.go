package health_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/connkit/connkit/health"
	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/pool"
)

const redisPassword = "redis-pw-7c1e9a4f"

// backend is a real server and a checker of it, for the tests that take
// servers away.
type backend struct {
	name    string
	server  *testenv.Server
	checker health.Checker
}

// startRedis starts a redis-server with a password and returns it with a
// client, closed at the end of the test.
func startRedis(t *testing.T, password string) (*testenv.Redis, *redis.Client) {
	t.Helper()
	srv := testenv.StartRedis(t, &testenv.RedisOptions{Password: redisPassword})
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), Password: password})
	t.Cleanup(func() { client.Close() })
	return srv, client
}

// openMariaDB opens a database/sql handle on dsn, closed at the end of
// the test.
func openMariaDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// backends starts each kind of server; the ones that are not installed
// skip (testenv's rule).
func backends(t *testing.T) map[string]func(t *testing.T) backend {
	return map[string]func(t *testing.T) backend{
		"Redis": func(t *testing.T) backend {
			srv, client := startRedis(t, redisPassword)
			return backend{"redis", srv.Server, health.Redis(client)}
		},
		"MariaDB": func(t *testing.T) backend {
			srv := testenv.StartMariaDB(t, nil)
			db := openMariaDB(t, srv.DSN())
			return backend{"mariadb", srv.Server, health.SQL(db)}
		},
	}
}

// TestServerKilledStepped kills a real server while the client's
// connections are idle and steps the checks one run at a time: the check
// stays up for Fall-1 failed runs, turns down on the Fall-th, stays down
// for Rise-1 passes after the server returns and turns up on the Rise-th.
func TestServerKilledStepped(t *testing.T) {
	t.Parallel()
	for name, start := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := start(t)
			const rise, fall = 2, 3
			m := newMonitor(t, health.MonitorOptions{Period: -1, Timeout: 10 * time.Second, Rise: rise, Fall: fall})
			mustAdd(t, m, b.name, b.checker, true)
			ctx := testCtx(t)
			step := func(want health.Status, wantErr bool) {
				t.Helper()
				err := m.Check(ctx)
				if (err != nil) != wantErr {
					t.Fatalf("Check = %v; want error %v", err, wantErr)
				}
				if got := m.Report(); got.Checks[b.name].Status != want || got.Status != want {
					t.Fatalf("after a run: %+v; want %s", got, want)
				}
			}
			step(health.StatusUp, false) // leaves an idle connection in the client
			step(health.StatusUp, false)

			b.server.Kill()
			for range fall - 1 {
				step(health.StatusUp, true) // a blip or the start of an outage: no flap
			}
			step(health.StatusDown, true)
			step(health.StatusDown, true)
			if r := m.Report().Checks[b.name]; r.ConsecutiveFailures != fall+1 || r.LastError == "" {
				t.Errorf("down: %+v", r)
			}

			b.server.Start()
			// go-redis, after dials failed, answers with the last dial
			// error until a background dial (once a second) succeeds:
			// runs may fail for a while after the server is back.
			deadline := time.Now().Add(10 * time.Second)
			for m.Check(ctx) != nil {
				if got := m.Report().Checks[b.name].Status; got != health.StatusDown {
					t.Fatalf("a failed run after the restart left the check %s", got)
				}
				if time.Now().After(deadline) {
					t.Fatal("the check still fails 10s after the restart")
				}
				time.Sleep(10 * time.Millisecond)
			}
			if got := m.Report().Checks[b.name].Status; got != health.StatusDown && rise > 1 {
				t.Fatalf("one pass after the restart: %s; want still down (Rise %d)", got, rise)
			}
			for range rise - 2 {
				step(health.StatusDown, false)
			}
			step(health.StatusUp, false)
		})
	}
}

// TestServerKilledPeriodic kills a real server under a Monitor that runs
// on its own every 50ms and watches the report: the check goes down only
// with Fall failures behind it, and comes back up only with Rise passes.
func TestServerKilledPeriodic(t *testing.T) {
	t.Parallel()
	for name, start := range backends(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b := start(t)
			const rise, fall = 2, 3
			log, logs := newLogger()
			m := newMonitor(t, health.MonitorOptions{
				Period: 50 * time.Millisecond, Timeout: 2 * time.Second, Rise: rise, Fall: fall, Logger: log,
			})
			mustAdd(t, m, b.name, b.checker, true)
			waitFor(t, 20*time.Second, "up", func() bool { return checkStatus(m, b.name) == health.StatusUp })

			b.server.Kill()
			sawBlip := false
			waitFor(t, 20*time.Second, "down", func() bool {
				r := m.Report().Checks[b.name]
				switch {
				case r.Status == health.StatusUp && r.ConsecutiveFailures > 0:
					sawBlip = true // failed, not yet Fall times: still up
				case r.Status == health.StatusDown && r.ConsecutiveFailures < fall:
					t.Fatalf("down after %d failures; Fall is %d", r.ConsecutiveFailures, fall)
				}
				return r.Status == health.StatusDown
			})
			t.Logf("saw the check up with failures behind it: %v", sawBlip)

			b.server.Start()
			waitFor(t, 30*time.Second, "up again", func() bool {
				r := m.Report().Checks[b.name]
				if r.Status == health.StatusDown && r.ConsecutiveSuccesses >= rise {
					t.Fatalf("still down after %d passes; Rise is %d", r.ConsecutiveSuccesses, rise)
				}
				if r.Status == health.StatusUp && r.ConsecutiveSuccesses < rise {
					t.Fatalf("up after %d passes; Rise is %d", r.ConsecutiveSuccesses, rise)
				}
				return r.Status == health.StatusUp
			})
			out := logs.String()
			if want := fmt.Sprintf(`msg="health: check down" check=%s from=up to=down required=true`, b.name); strings.Count(out, want) != 1 {
				t.Errorf("logs: want one %q in\n%s", want, out)
			}
			if want := fmt.Sprintf("consecutive_failures=%d\n", fall); !strings.Contains(out, want) {
				t.Errorf("logs: the down line should say %q:\n%s", want, out)
			}
		})
	}
}

// TestPingFuncs checks PingRedis and PingSQL on dedicated connections, up
// and after the server died, and PingRedis as a pool's Ping.
func TestPingFuncs(t *testing.T) {
	t.Parallel()
	t.Run("Redis", func(t *testing.T) {
		t.Parallel()
		srv, client := startRedis(t, redisPassword)
		ctx := testCtx(t)
		p, err := pool.New(pool.Config[*redis.Conn]{
			Name: "redis",
			Dial: func(ctx context.Context) (*redis.Conn, error) {
				c := client.Conn()
				if err := c.Ping(ctx).Err(); err != nil {
					c.Close()
					return nil, err
				}
				return c, nil
			},
			Close:         (*redis.Conn).Close,
			Ping:          health.PingRedis,
			PingAfterIdle: time.Nanosecond, // ping every idle connection before handing it out
			MaxSize:       2,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer p.Close(ctx)
		held, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer held.Destroy()
		idle, err := p.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := health.PingRedis(ctx, held.Value()); err != nil {
			t.Fatalf("PingRedis: %v", err)
		}
		idle.Release()

		srv.Kill()
		err = health.PingRedis(ctx, held.Value())
		if err == nil || !strings.HasPrefix(err.Error(), "health: redis ping: ") {
			t.Errorf("PingRedis with the server dead: %v; want a prefixed error", err)
		}
		if c, err := p.Acquire(ctx); err == nil {
			c.Release()
			t.Error("Acquire succeeded with the server dead: the pool handed out a connection PingRedis should have failed")
		}
		if d := p.Stats().Destroyed.Ping; d != 1 {
			t.Errorf("Destroyed.Ping = %d; want the dead idle connection destroyed by PingRedis", d)
		}
	})
	t.Run("SQL", func(t *testing.T) {
		t.Parallel()
		srv := testenv.StartMariaDB(t, nil)
		db := openMariaDB(t, srv.DSN())
		ctx := testCtx(t)
		conn, err := db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		if err := health.PingSQL(ctx, conn); err != nil {
			t.Fatalf("PingSQL: %v", err)
		}
		srv.Kill()
		err = health.PingSQL(ctx, conn)
		if err == nil || !strings.HasPrefix(err.Error(), "health: sql ping: ") {
			t.Errorf("PingSQL with the server dead: %v; want a prefixed error", err)
		}
	})
}

// TestNoSecretsShown gives the Monitor checks with passwords and tokens in
// their configuration, makes them fail in every way the test can cause
// (wrong password, wrong token, server down, an error quoting a DSN or a
// URL), and scans every response, plain and verbose, every metric, every
// log line, every error Check returns and the Report for the secrets.
// Only the Redis passwords, which no pattern can spot, are given to
// MonitorOptions.Secrets: the DSN and URL secrets must go by pattern.
func TestNoSecretsShown(t *testing.T) {
	t.Parallel()
	const wrongRedis, wrongSQL = "wrong-redis-pw-3d2c1b", "wrong-sql-pw-8e7f6a"
	redisSrv, goodRedis := startRedis(t, redisPassword)
	_, badRedis := startRedis(t, wrongRedis)
	maria := testenv.StartMariaDB(t, nil)
	goodDSN := maria.DSN()
	badDSN := strings.Replace(goodDSN, maria.Password(), wrongSQL, 1)
	ws := startWSServer(t)
	goodWS := ws.url(ws.user, ws.pass, ws.token)
	badWS := ws.url(ws.user, ws.pass, "wrong-ws-token-5a4b")
	deadWS := "ws://" + ws.user + ":" + ws.pass + "@127.0.0.1:1/x?token=" + ws.token
	secrets := []string{redisPassword, wrongRedis, maria.Password(), maria.RootPassword(), wrongSQL,
		ws.token, ws.pass, "wrong-ws-token-5a4b"}

	log, logs := newLogger()
	m := newMonitor(t, health.MonitorOptions{
		Period: -1, Timeout: 5 * time.Second, Fall: 1, Rise: 1, Logger: log,
		Secrets: []string{redisPassword, wrongRedis},
	})
	careless := func(err error) error { return err }
	checks := map[string]health.Checker{
		"redis":          health.Redis(goodRedis),
		"redis-wrong-pw": health.Redis(badRedis),
		"sql":            health.SQL(openMariaDB(t, goodDSN)),
		"sql-wrong-pw":   health.SQL(openMariaDB(t, badDSN)),
		"ws":             health.WebSocket(goodWS),
		"ws-wrong-token": health.WebSocket(badWS),
		"ws-down":        health.WebSocket(deadWS),
		"ws-invalid":     health.WebSocket("ws://u:" + ws.pass + "@bad host/?token=" + ws.token),
		"careless-dsn":   health.CheckerFunc(func(context.Context) error { return careless(fmt.Errorf("open %s: refused", badDSN)) }),
		"careless-url":   health.CheckerFunc(func(context.Context) error { return careless(fmt.Errorf("dial %s: EOF", goodWS)) }),
		"careless-redis": health.CheckerFunc(func(context.Context) error { return errors.New("AUTH " + redisPassword + " rejected") }),
	}
	for name, c := range checks {
		mustAdd(t, m, name, c, !strings.HasPrefix(name, "careless"))
	}
	if err := m.AddPool(&fakePool{name: "app", stats: pool.Stats{LastDialError: "dial " + goodDSN + ": token=" + ws.token}}); err != nil {
		t.Fatal(err)
	}

	var texts []string
	capture := func(stage string) {
		ctx := testCtx(t)
		if err := m.Check(ctx); err != nil {
			for i, text := range chainTexts(err) { // what a reporter that walks the chain prints
				texts = append(texts, fmt.Sprintf("%s Check error, link %d of its chain:\n%s", stage, i, text))
			}
		}
		for _, target := range []string{"/healthz", "/healthz?verbose"} {
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
			texts = append(texts, stage+" "+target+":\n"+rec.Body.String())
		}
		texts = append(texts, stage+" metrics:\n"+string(gatherText(t, m)), fmt.Sprintf("%s Report:\n%+v", stage, m.Report()))
	}
	capture("all running")
	redisSrv.Kill()
	maria.Kill()
	capture("servers down")
	texts = append(texts, "logs:\n"+logs.String())

	all := strings.Join(texts, "\n\n")
	for _, text := range texts {
		assertNoSecret(t, strings.SplitN(text, "\n", 2)[0], text, secrets)
	}
	// The errors really happened, so their texts were scanned.
	for _, want := range []string{
		"WRONGPASS", "Access denied for user", "server answered 401", "connection refused",
		"invalid URL", "REDACTED@tcp(", "ws://REDACTED@", "AUTH REDACTED rejected",
		`msg="health: check down"`,
	} {
		if !strings.Contains(all, want) {
			t.Errorf("no %q in what the Monitor showed: the failure it stands for did not happen", want)
		}
	}
	if t.Failed() {
		t.Logf("everything scanned:\n%s", all)
	}
}

// chainTexts returns the text of err and of every error it wraps, through
// Unwrap() error and Unwrap() []error.
func chainTexts(err error) []string {
	if err == nil {
		return nil
	}
	texts := []string{err.Error()}
	switch u := err.(type) {
	case interface{ Unwrap() error }:
		texts = append(texts, chainTexts(u.Unwrap())...)
	case interface{ Unwrap() []error }:
		for _, e := range u.Unwrap() {
			texts = append(texts, chainTexts(e)...)
		}
	}
	return texts
}

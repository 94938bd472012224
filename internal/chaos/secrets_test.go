package chaos

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connkit/connkit/health"
	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/reset"
	"github.com/connkit/connkit/wsclient"
	"github.com/go-sql-driver/mysql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// syncBuffer is a log sink for many goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestSecretsNeverShown gives every backend and client a secret, drives
// each into its error paths (wrong passwords, servers down, refused
// handshakes, leaks, timeouts) and scans everything a user or operator can
// see: errors, Stats, log lines, leak reports, the health endpoint and the
// metrics. No secret may appear in any of it.
func TestSecretsNeverShown(t *testing.T) {
	const (
		redisPassword = "redis-Secret-7731"
		wrongPassword = "wrong-Secret-9154"
		wsToken       = "tok-Secret-4419"
		wsPassword    = "ws-Secret-2280"
	)
	logs := &syncBuffer{}
	logger := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	var seen []string // every text shown
	show := func(what string, v any) {
		switch v := v.(type) {
		case error:
			if v != nil {
				seen = append(seen, what+": "+v.Error())
			}
		case string:
			seen = append(seen, what+": "+v)
		default:
			b, _ := json.Marshal(v)
			seen = append(seen, what+": "+string(b))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Redis: a right password, then a wrong one, then the server down.
	rsrv := testenv.StartRedis(t, &testenv.RedisOptions{Password: redisPassword})
	newRedisPool := func(password string) (*redis.Client, *pool.Pool[*redis.Conn]) {
		client := redis.NewClient(&redis.Options{Addr: rsrv.Addr(), Password: password, MaxRetries: -1,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}})
		t.Cleanup(func() { client.Close() })
		cfg := reset.NewRedis(client).PoolConfig()
		cfg.MaxSize, cfg.AcquireTimeout, cfg.Logger, cfg.NewBackOff = 2, 300*time.Millisecond, logger, chaosBackOff
		cfg.Leak = pool.LeakConfig{Threshold: 50 * time.Millisecond, Stacks: pool.StacksAlways}
		return client, newPool(t, cfg)
	}
	good, goodPool := newRedisPool(redisPassword)
	bad, badPool := newRedisPool(wrongPassword)
	_, err := badPool.Acquire(ctx)
	show("acquire with a wrong Redis password", err)
	show("pool stats", badPool.Stats())
	leaked, err := goodPool.Acquire(pool.WithLabel(ctx, "leaky handler"))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond) // the leak report goes to the log
	for _, b := range goodPool.Borrowed() {
		show("borrow report", b.String())
	}
	leaked.Release()

	// MariaDB: a wrong password, through the reset connector.
	msrv := testenv.StartMariaDB(t, nil)
	cfg, err := mysql.ParseDSN(msrv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	mysqlPassword := cfg.Passwd
	cfg.Passwd = wrongPassword
	connector, err := reset.MySQLConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	mcfg := reset.NewSQL(db).PoolConfig()
	mcfg.MaxSize, mcfg.AcquireTimeout, mcfg.Logger, mcfg.NewBackOff = 2, 300*time.Millisecond, logger, chaosBackOff
	mysqlPool := newPool(t, mcfg)
	_, err = mysqlPool.Acquire(ctx)
	show("acquire with a wrong MariaDB password", err)
	show("mysql pool stats", mysqlPool.Stats())
	show("db ping with a wrong password", db.PingContext(ctx))

	// WebSocket: a token in the query, a password in the URL and in a
	// header, against a server that refuses them and then is gone.
	refusing := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no", http.StatusUnauthorized)
	}))
	t.Cleanup(refusing.Close)
	wsURL := "ws://user:" + wsPassword + "@" + strings.TrimPrefix(refusing.URL, "http://") + "/feed?token=" + wsToken
	client, err := wsclient.New(wsclient.Options{URL: wsURL, Header: http.Header{"Authorization": {"Bearer " + wsToken}}, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	show("wsclient connect refused", client.Connect(ctx))
	show("wsclient stats", client.Stats())
	show("wsclient send after giving up", client.Send(ctx, wsclient.MessageText, []byte("x")))
	show("wsclient close", client.Close(ctx))
	refusing.Close()
	gone, err := wsclient.New(wsclient.Options{URL: wsURL, Logger: logger, MaxAttempts: 2})
	if err != nil {
		t.Fatal(err)
	}
	show("wsclient connect to a server that is gone", gone.Connect(ctx))
	show("wsclient stats", gone.Stats())
	show("wsclient close", gone.Close(ctx))

	// Health: every check failing, then the endpoint and the metrics.
	m, err := health.NewMonitor(health.MonitorOptions{Period: -1, Timeout: time.Second, Logger: logger})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	m.Add("redis-bad", health.Redis(bad))
	m.Add("redis-good", health.Redis(good))
	m.Add("mysql", health.SQL(db))
	m.Add("ws", health.WebSocket(wsURL))
	m.AddPool(goodPool)
	m.AddPool(mysqlPool)
	show("health check", m.Check(ctx))
	rsrv.Kill()
	show("health check with Redis down", m.Check(ctx))
	if c, err := goodPool.Acquire(ctx); err != nil {
		show("acquire with Redis down", err)
	} else {
		show("a command with Redis down", c.Value().Ping(ctx).Err())
		c.Destroy()
	}
	for _, q := range []string{"", "?verbose"} {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz"+q, nil))
		body, _ := io.ReadAll(rec.Body)
		show("GET /healthz"+q, string(body))
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collector())
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var metrics bytes.Buffer
	for _, mf := range mfs {
		expfmt.NewEncoder(&metrics, expfmt.NewFormat(expfmt.TypeTextPlain)).Encode(mf)
	}
	show("metrics", metrics.String())
	show("logs", logs.String())

	all := strings.Join(seen, "\n")
	for _, want := range []string{"WRONGPASS", "Access denied", "401", "leaky handler", "acquired at", "down", "connection refused"} {
		if !strings.Contains(all, want) {
			t.Errorf("the error paths were not all reached: no %q in what was shown", want)
		}
	}
	for _, secret := range []string{redisPassword, wrongPassword, wsToken, wsPassword, mysqlPassword} {
		for _, s := range seen {
			if strings.Contains(s, secret) {
				t.Errorf("secret %q shown in %s", secret, s)
			}
		}
	}
}

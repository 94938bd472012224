package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connkit/connkit/internal/exampletest"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
	"go.uber.org/goleak"

	"github.com/connkit/connkit/health"
	"github.com/connkit/connkit/internal/testenv"
)

func TestMain(m *testing.M) {
	redis.SetLogger(&logging.VoidLogger{}) // as main does
	goleak.VerifyTestMain(m)
}

// redisPassword is the private Redis's password, given to the service in
// REDIS_PASSWORD.
const redisPassword = "redis-pw-httphandlers-5e1b"

// env is a private Redis and MariaDB for one test.
type env struct {
	redis *testenv.Redis
	maria *testenv.MariaDB
}

func startEnv(t *testing.T) *env {
	t.Helper()
	return &env{
		redis: testenv.StartRedis(t, &testenv.RedisOptions{Password: redisPassword}),
		maria: testenv.StartMariaDB(t, nil),
	}
}

// args returns the flags that point the service at e, on a free port.
func (e *env) args(extra ...string) []string {
	return append([]string{"-addr", "127.0.0.1:0", "-redis", e.redis.Addr(), "-mysql", e.maria.DSN()}, extra...)
}

// checkNoSecret fails the test if text shows a password of e.
func (e *env) checkNoSecret(t *testing.T, what, text string) {
	t.Helper()
	for _, s := range []string{e.maria.Password(), e.maria.RootPassword(), redisPassword} {
		if strings.Contains(text, s) {
			t.Errorf("%s shows the password %q:\n%s", what, s, text)
		}
	}
}

// TestServe runs the service against private servers, as main does, until
// its ctx ends. It cannot be parallel: it sets REDIS_PASSWORD.
func TestServe(t *testing.T) {
	t.Setenv("REDIS_PASSWORD", redisPassword)
	e := startEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := exampletest.NewOutput()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- run(runCtx, out, e.args("-health-period", "100ms")) }()
	shutdown := sync.OnceValue(func() error { stop(); return <-done })
	t.Cleanup(func() { shutdown() }) // before the servers are killed: cleanups run last first
	c := newClient(t, ctx, serviceURL(t, out))
	defer func() { e.checkNoSecret(t, "a response", c.bodies()) }()

	testVisits(t, c)
	testUsers(t, c)
	testTimeZoneReset(t, c)
	testHealthUp(t, c)
	testRedisDown(t, c, e)

	if err := shutdown(); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	exampletest.Match(t, out.String(), []string{
		`level=WARN msg="health: check down" check=redis from=up to=down`,
		`level=WARN msg="request failed" method=GET path=/visits/home status=503`,
		`stopped; redis pool: dials=\d+ acquires=\d+ resets=0 destroyed=\d+; mysql pool: dials=\d+ acquires=\d+ resets=[1-9]\d* destroyed=\d+\n$`,
	})
	e.checkNoSecret(t, "the output", out.String())
}

func testVisits(t *testing.T, c *client) {
	for i, want := range []int64{1, 2, 3} {
		var v struct{ Visits int64 }
		c.getJSON("/visits/home", http.StatusOK, &v)
		if v.Visits != want {
			t.Errorf("visit %d of /visits/home: count %d, want %d", i+1, v.Visits, want)
		}
	}
	var v struct{ Visits int64 }
	c.getJSON("/visits/about", http.StatusOK, &v)
	if v.Visits != 1 {
		t.Errorf("first visit of /visits/about: count %d, want 1", v.Visits)
	}
	c.getJSON("/visits/a.b", http.StatusBadRequest, nil)
}

func testUsers(t *testing.T, c *client) {
	var u user
	c.getJSON("/users/2", http.StatusOK, &u)
	if want := (user{2, "Grace Hopper", "grace@example.com"}); u != want {
		t.Errorf("/users/2 = %+v, want %+v", u, want)
	}
	c.getJSON("/users/99", http.StatusNotFound, nil)
	c.getJSON("/users/x", http.StatusBadRequest, nil)
}

// testTimeZoneReset changes the time zone of a session and checks that the
// next borrowers of that connection get the DSN's time zone back.
func testTimeZoneReset(t *testing.T, c *client) {
	var fresh, dirty session
	c.getJSON("/tz", http.StatusOK, &fresh)
	c.getJSON("/tz?zone=+05:00", http.StatusOK, &dirty) // the + arrives as a space
	if dirty.TimeZone != "+05:00" || fresh.TimeZone == "+05:00" {
		t.Fatalf("/tz: time zone %q, then %q after setting +05:00", fresh.TimeZone, dirty.TimeZone)
	}
	// The reset runs in the background after the release: wait for it, so
	// that the next request does not dial a connection of its own meanwhile.
	waitMetric(t, c, `(?m)^connkit_pool_resets_total\{pool="mysql"\} 1$`)
	// Idle connections are handed out last in, first out, so the reset one
	// comes first; looping over the pool's size holds for any order.
	for i := 0; ; i++ {
		var next session
		c.getJSON("/tz", http.StatusOK, &next)
		if next.TimeZone != fresh.TimeZone {
			t.Fatalf("connection %d after the SET on %d: time zone %q, want the DSN's %q",
				next.ConnectionID, dirty.ConnectionID, next.TimeZone, fresh.TimeZone)
		}
		if next.ConnectionID == dirty.ConnectionID {
			if next.PoolResets != 1 {
				t.Errorf("pool_resets = %d, want 1", next.PoolResets)
			}
			break
		}
		if i == poolSize {
			t.Fatalf("connection %d never borrowed again", dirty.ConnectionID)
		}
	}
	c.getJSON("/tz?zone=Mars", http.StatusBadRequest, nil)
	c.getJSON("/tz?zone=%2B99:00", http.StatusBadRequest, nil) // rejected by the server
}

func testHealthUp(t *testing.T, c *client) {
	var h healthz
	c.getJSON("/healthz", http.StatusOK, &h)
	if h.Status != "up" || h.Checks["redis"].Status != "up" || h.Checks["mysql"].Status != "up" {
		t.Errorf("/healthz: %+v, want both checks up", h)
	}
	var v struct{ Pools map[string]json.RawMessage }
	c.getJSON("/healthz?verbose", http.StatusOK, &v)
	if v.Pools["redis"] == nil || v.Pools["mysql"] == nil {
		t.Errorf("/healthz?verbose: pools %v, want redis and mysql", v.Pools)
	}
	_, metrics := c.get("/metrics")
	exampletest.Match(t, metrics, []string{
		`(?m)^connkit_pool_connections\{pool="redis",state="idle"\} [1-9]`,
		`(?m)^connkit_pool_connections\{pool="mysql",state="borrowed"\} 0$`,
		`(?m)^connkit_check_up\{check="mysql"\} 1$`,
		`(?m)^connkit_check_up\{check="redis"\} 1$`,
		`(?m)^connkit_pool_resets_total\{pool="mysql"\} [1-9]`,
		`(?m)^connkit_health_up 1$`,
	})
}

// testRedisDown kills Redis: /visits fails with 503 at once, /healthz turns
// 503 after Fall failed checks, and both recover when Redis is back.
func testRedisDown(t *testing.T, c *client, e *env) {
	e.redis.Kill()
	var fail struct{ Error string }
	c.getJSON("/visits/home", http.StatusServiceUnavailable, &fail)
	if fail.Error == "" {
		t.Error("/visits/home with Redis down: no error text")
	}
	var h healthz
	waitStatus(t, c, "/healthz?verbose", http.StatusServiceUnavailable, &h)
	if r := h.Checks["redis"]; r.Status != "down" || r.ConsecutiveFailures < health.DefaultFall || r.LastError == "" {
		t.Errorf("redis check after Kill: %+v, want down after %d failures", r, health.DefaultFall)
	}
	if h.Checks["mysql"].Status != "up" {
		t.Errorf("mysql check: %+v, want up", h.Checks["mysql"])
	}
	_, metrics := c.get("/metrics")
	exampletest.Match(t, metrics, []string{`(?m)^connkit_check_up\{check="redis"\} 0$`, `(?m)^connkit_health_up 0$`})

	e.redis.Start()
	waitStatus(t, c, "/healthz", http.StatusOK, nil)
	var v struct{ Visits int64 }
	c.getJSON("/visits/home", http.StatusOK, &v) // a new server: counts from 1
	if v.Visits != 1 {
		t.Errorf("first visit after the restart: count %d, want 1", v.Visits)
	}
}

// healthz is what /healthz?verbose shows of the checks.
type healthz struct {
	Status string
	Checks map[string]struct {
		Status              string
		ConsecutiveFailures int    `json:"consecutive_failures"`
		LastError           string `json:"last_error"`
	}
}

// waitMetric polls /metrics until it matches the regular expression want.
func waitMetric(t *testing.T, c *client, want string) {
	t.Helper()
	re := regexp.MustCompile(want)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		_, body := c.get("/metrics")
		if re.MatchString(body) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics does not match %s after 10s:\n%s", want, body)
		}
	}
}

// waitStatus polls path until it answers code, and decodes that answer.
func waitStatus(t *testing.T, c *client, path string, code int, v any) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, body := c.get(path)
		if got == code {
			if v != nil {
				decode(t, path, body, v)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s still answers %d after 10s, want %d:\n%s", path, got, code, body)
		}
	}
}

func TestBadFlags(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"-nope"}, {"extra"}, {"-health-period", "0s"},
		{"-mysql", "not a dsn", "-redis", "127.0.0.1:1"}, // fails before dialing anything
	} {
		var out bytes.Buffer
		if err := run(context.Background(), &out, args); err == nil {
			t.Errorf("run(%q) = nil, want an error", args)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), &out, []string{"-help"}); err != nil || !strings.Contains(out.String(), "REDIS_PASSWORD") {
		t.Errorf("run(-help) = %v, output:\n%s", err, out.String())
	}
}

// TestStartFailures starts the service with nothing listening on the
// backends' address: it must fail without showing the DSN's password, or
// return nil when it was interrupted.
func TestStartFailures(t *testing.T) {
	t.Parallel()
	const password = "start-pw-0b7d"
	refused := testenv.RefusedAddr(t)
	args := []string{"-addr", "127.0.0.1:0", "-redis", refused, "-mysql", "u:" + password + "@tcp(" + refused + ")/x"}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, &out, args)
	if err == nil || !strings.Contains(err.Error(), "mysql: create table "+usersTable) {
		t.Errorf("run with MySQL down = %v, want the table's error", err)
	}
	if text := out.String() + errString(err); strings.Contains(text, password) {
		t.Errorf("the password shows:\n%s", text)
	}

	interrupted, stop := context.WithCancel(ctx)
	stop()
	if err := run(interrupted, &out, args); err != nil {
		t.Errorf("run interrupted during start-up = %v, want nil", err)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// TestBinary builds the command and runs it as a user would: it must serve,
// and stop cleanly with exit status 0 on SIGINT.
func TestBinary(t *testing.T) {
	t.Parallel()
	e := startEnv(t)
	bin := exampletest.Build(t, "httphandlers")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, e.args()...)
	cmd.Env = append(os.Environ(), "REDIS_PASSWORD="+redisPassword)
	out := exampletest.Start(t, cmd)
	c := newClient(t, ctx, serviceURL(t, out))
	c.getJSON("/visits/binary", http.StatusOK, nil)
	c.getJSON("/users/1", http.StatusOK, nil)
	exampletest.Interrupt(t, cmd, out)
	exampletest.Match(t, out.String(), []string{`stopped; redis pool: dials=1 acquires=1 .*; mysql pool: dials=1 acquires=2 `})
	e.checkNoSecret(t, "the output", out.String()+c.bodies())
}

// serviceURL waits for the service to listen and returns its base URL.
func serviceURL(t *testing.T, out *exampletest.Output) string {
	t.Helper()
	out.WaitFor(t, "Ctrl-C to stop")
	return "http://" + regexp.MustCompile(`listening on http://(\S+)`).FindStringSubmatch(out.String())[1]
}

// client makes requests to the service and keeps every body it got.
type client struct {
	t    *testing.T
	ctx  context.Context
	base string
	http *http.Client

	mu   sync.Mutex // protects seen
	seen strings.Builder
}

func newClient(t *testing.T, ctx context.Context, base string) *client {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	return &client{t: t, ctx: ctx, base: base, http: &http.Client{Transport: tr}}
}

// get returns the status and body of a GET of path.
func (c *client) get(path string) (int, string) {
	c.t.Helper()
	r := c.fetch(path)
	if r.err != nil {
		c.t.Fatal(r.err)
	}
	return r.code, r.body
}

// response is the outcome of a GET.
type response struct {
	code int
	body string
	err  error
}

// fetch makes a GET of path.
func (c *client) fetch(path string) response {
	req, err := http.NewRequestWithContext(c.ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return response{err: err}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	c.mu.Lock()
	c.seen.Write(body)
	c.mu.Unlock()
	return response{resp.StatusCode, string(body), err}
}

// bodies returns every body received so far.
func (c *client) bodies() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.seen.String()
}

// getJSON checks that a GET of path answers code, and decodes the body into
// v unless v is nil.
func (c *client) getJSON(path string, code int, v any) {
	c.t.Helper()
	got, body := c.get(path)
	if got != code {
		c.t.Fatalf("GET %s: %d, want %d:\n%s", path, got, code, body)
	}
	if v != nil {
		decode(c.t, path, body, v)
	}
}

func decode(t *testing.T, path, body string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v:\n%s", path, err, body)
	}
}

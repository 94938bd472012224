package health_test

import (
	"bytes"
	"errors"
	"flag"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/connkit/connkit/health"
	"github.com/connkit/connkit/pool"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenMonitor returns a Monitor in a fixed state, on a fake clock: a
// required check up, one down whose error quotes a DSN, an optional one
// down whose error quotes a URL with a token, one up after a blip, one
// not run yet, and a pool.
func goldenMonitor(t *testing.T) *health.Monitor {
	t.Helper()
	clock := newFakeClock()
	m := newMonitor(t, health.MonitorOptions{Period: -1, Now: clock.Now})
	blip := &switchChecker{}
	mustAdd(t, m, "redis", &switchChecker{}, true)
	mustAdd(t, m, "mysql", &switchChecker{err: errors.New("open app:mysql-pw@tcp(10.0.0.5:3306)/app: connection refused")}, true)
	mustAdd(t, m, "search", &switchChecker{err: errors.New(`Get "https://search.internal/ping?key=search-key": EOF`)}, false)
	mustAdd(t, m, "blip", blip, true)
	if err := m.AddPool(&fakePool{
		name: "sessions",
		stats: pool.Stats{
			Name: "sessions", MaxSize: 8, Open: 5, Idle: 2, Borrowed: 2, Constructing: 1, Waiting: 3,
			Acquires: 1000, EmptyAcquires: 40, AcquireWait: 1500 * time.Millisecond, CanceledAcquires: 2,
			Timeouts: 1, Dials: 12, DialErrors: 4,
			LastDialError: "dial redis://:pool-pw@10.0.0.6:6379: i/o timeout", Resets: 7,
			Destroyed: pool.DestroyStats{Idle: 1, Lifetime: 2, Ping: 3, Reset: 4, Broken: 5, Dropped: 6, Close: 7},
		},
		borrowed: []pool.Borrow{{ID: 1, Pool: "sessions", Label: "GET /cart", Since: clock.Now().Add(-90 * time.Second)}},
	}); err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	for _, blipErr := range []error{nil, errors.New("read: connection reset by peer"), nil} {
		blip.Set(blipErr)
		_ = m.Check(ctx)
		clock.Advance(10 * time.Second)
	}
	mustAdd(t, m, "late", &switchChecker{}, true)
	return m
}

func TestGoldenHandler(t *testing.T) {
	t.Parallel()
	m := goldenMonitor(t)
	for _, tt := range []struct {
		name, target string
	}{
		{"report.golden", "/healthz"},
		{"report_verbose.golden", "/healthz?verbose"},
	} {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", tt.target, nil))
		if rec.Code != http.StatusServiceUnavailable {
			t.Errorf("GET %s = %d; want 503", tt.target, rec.Code)
		}
		for k, want := range map[string]string{"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store"} {
			if got := rec.Header().Get(k); got != want {
				t.Errorf("GET %s: %s = %q; want %q", tt.target, k, got, want)
			}
		}
		golden(t, tt.name, rec.Body.Bytes())
	}
}

func TestGoldenMetrics(t *testing.T) {
	t.Parallel()
	m := goldenMonitor(t)
	golden(t, "metrics.golden", gatherText(t, m))

	problems, err := testutil.CollectAndLint(m.Collector())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}
}

// gatherText returns m's metrics in the Prometheus text format, gathered
// through a registry of their own.
func gatherText(t *testing.T, m *health.Monitor) []byte {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(m.Collector()); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.Bytes()
}

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	if len(got) == 0 {
		t.Fatalf("%s: nothing to compare", name)
	}
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs (run go test -update to accept):\n--- got\n%s\n--- want\n%s", path, got, want)
	}
}

func TestHandlerRequests(t *testing.T) {
	t.Parallel()
	m := newMonitor(t, health.MonitorOptions{Period: -1})
	mustAdd(t, m, "dep", &switchChecker{}, true)
	_ = m.Check(testCtx(t))
	for _, tt := range []struct {
		method, target string
		wantCode       int
		wantBody       string
	}{
		{"GET", "/", 200, "{\n  \"status\": \"up\",\n  \"checks\": {\n    \"dep\": {\n      \"status\": \"up\",\n      \"required\": true\n    }\n  }\n}\n"},
		{"GET", "/?verbose=0", 200, "{\n  \"status\": \"up\",\n  \"checks\": {\n    \"dep\": {\n      \"status\": \"up\",\n      \"required\": true\n    }\n  }\n}\n"},
		{"GET", "/?verbose=false", 200, "{\n  \"status\": \"up\",\n  \"checks\": {\n    \"dep\": {\n      \"status\": \"up\",\n      \"required\": true\n    }\n  }\n}\n"},
		{"HEAD", "/", 200, ""},
		{"POST", "/", 405, "health: method not allowed\n"},
	} {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest(tt.method, tt.target, nil))
		if rec.Code != tt.wantCode || rec.Body.String() != tt.wantBody {
			t.Errorf("%s %s = %d %q; want %d %q", tt.method, tt.target, rec.Code, rec.Body, tt.wantCode, tt.wantBody)
		}
	}
	for _, target := range []string{"/?verbose", "/?verbose=1", "/?verbose=true"} {
		rec := httptest.NewRecorder()
		m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		if !strings.Contains(rec.Body.String(), `"runs": 1,`) {
			t.Errorf("GET %s: %s; want the verbose report", target, rec.Body)
		}
	}
}

// TestCollectorRegistries checks that each Monitor's collector stands
// alone: two Monitors with the same check names register in two
// registries, and one registry takes a Monitor's collector only once.
func TestCollectorRegistries(t *testing.T) {
	t.Parallel()
	for i := range 2 {
		m := newMonitor(t, health.MonitorOptions{Period: -1})
		mustAdd(t, m, "dep", &switchChecker{}, true)
		_ = m.Check(testCtx(t))
		reg := prometheus.NewPedanticRegistry()
		if err := reg.Register(m.Collector()); err != nil {
			t.Fatalf("monitor %d: Register: %v", i, err)
		}
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatalf("monitor %d: Gather: %v", i, err)
		}
		if len(mfs) == 0 {
			t.Fatalf("monitor %d: no metrics", i)
		}
		if err := reg.Register(m.Collector()); err == nil {
			t.Errorf("monitor %d: registered twice in one registry", i)
		}
	}
	m := newMonitor(t, health.MonitorOptions{Period: -1})
	want := "# HELP connkit_health_up 1 when every required check is up, else 0.\n# TYPE connkit_health_up gauge\nconnkit_health_up 1\n"
	if err := testutil.CollectAndCompare(m.Collector(), strings.NewReader(want), "connkit_health_up"); err != nil {
		t.Errorf("with no checks: %v", err)
	}
}

package health_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connkit/connkit/health"
)

var errDown = errors.New("connection refused")

// TestHysteresis drives one check through passes and failures with Check
// and asserts its status after each run: the first run decides, then Fall
// consecutive failures turn it down and Rise consecutive passes turn it up,
// and anything shorter does not flap it.
func TestHysteresis(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		rise, fall int
		give       string // one run per letter: P passes, F fails
		want       string // the status after each run: U up, D down
	}{
		{name: "FirstPassDecides", give: "P", want: "U"},
		{name: "FirstFailureDecides", give: "F", want: "D"},
		{name: "DefaultsFallAfter3", give: "PFFF", want: "UUUD"},
		{name: "DefaultsRiseAfter2", give: "FPP", want: "DDU"},
		{name: "BlipsDoNotFlap", give: "PFFPFFPF", want: "UUUUUUUU"},
		{name: "FlakyRecoveryStaysDown", give: "FPFPFP", want: "DDDDDD"},
		{name: "FullCycle", give: "PFFFPFPPFF", want: "UUUDDDDUUU"},
		{name: "Rise1Fall1", rise: 1, fall: 1, give: "PFPF", want: "UDUD"},
		{name: "Rise3Fall2", rise: 3, fall: 2, give: "PFFPPPF", want: "UUDDDUU"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMonitor(t, health.MonitorOptions{Period: -1, Rise: tt.rise, Fall: tt.fall})
			sw := &switchChecker{}
			mustAdd(t, m, "dep", sw, true)
			if got := checkStatus(m, "dep"); got != health.StatusUnknown {
				t.Fatalf("before the first run: %s; want unknown", got)
			}
			var got strings.Builder
			for _, r := range tt.give {
				if r == 'F' {
					sw.Set(errDown)
				} else {
					sw.Set(nil)
				}
				_ = m.Check(testCtx(t))
				got.WriteByte(strings.ToUpper(string(checkStatus(m, "dep")))[0])
			}
			if got.String() != tt.want {
				t.Errorf("runs %s: statuses %s; want %s", tt.give, got.String(), tt.want)
			}
		})
	}
}

// TestCounters checks the counters and times a run records.
func TestCounters(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	m := newMonitor(t, health.MonitorOptions{Period: -1, Now: clock.Now})
	added := clock.Now()
	sw := &switchChecker{}
	slow := health.CheckerFunc(func(context.Context) error {
		clock.Advance(30 * time.Millisecond) // the only check, so the latency is exact
		return sw.Check(context.Background())
	})
	mustAdd(t, m, "dep", slow, true)
	ctx := testCtx(t)

	if err := m.Check(ctx); err != nil {
		t.Fatal(err)
	}
	upAt := clock.Now()
	sw.Set(errDown)
	err := m.Check(ctx)
	if err == nil || !errors.Is(err, errDown) || !strings.Contains(err.Error(), `health: check "dep": connection refused`) {
		t.Fatalf("Check = %v; want the check's error, named and wrapped", err)
	}
	failedAt := clock.Now()
	sw.Set(nil)
	_ = m.Check(ctx)

	got := m.Report().Checks["dep"]
	want := health.CheckReport{
		Status: health.StatusUp, Required: true,
		ConsecutiveFailures: 0, ConsecutiveSuccesses: 1, Runs: 3, Failures: 1,
		Since: upAt, LastCheck: clock.Now(), Latency: 30 * time.Millisecond,
		LastError: `health: check "dep": connection refused`, LastErrorAt: failedAt,
	}
	if got != want {
		t.Errorf("report:\n got %+v\nwant %+v", got, want)
	}
	if upAt == added {
		t.Fatal("the clock did not move")
	}
}

// TestRequiredAndOptional checks which checks make the Monitor down and
// the Handler answer 503.
func TestRequiredAndOptional(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		required []error // nil: passes
		optional []error
		run      bool // run the checks once; else they are unknown
		want     int
	}{
		{name: "NoChecks", want: http.StatusOK},
		{name: "RequiredUp", required: []error{nil, nil}, run: true, want: http.StatusOK},
		{name: "RequiredUnknown", required: []error{nil}, want: http.StatusServiceUnavailable},
		{name: "OptionalUnknown", optional: []error{nil}, want: http.StatusOK},
		{name: "OneRequiredDown", required: []error{nil, errDown}, run: true, want: http.StatusServiceUnavailable},
		{name: "OptionalDown", required: []error{nil}, optional: []error{errDown}, run: true, want: http.StatusOK},
		{name: "OnlyOptionalDown", optional: []error{errDown, errDown}, run: true, want: http.StatusOK},
		{name: "BothDown", required: []error{errDown}, optional: []error{errDown}, run: true, want: http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := newMonitor(t, health.MonitorOptions{Period: -1})
			for i, err := range tt.required {
				mustAdd(t, m, "req"+string(rune('a'+i)), &switchChecker{err: err}, true)
			}
			for i, err := range tt.optional {
				mustAdd(t, m, "opt"+string(rune('a'+i)), &switchChecker{err: err}, false)
			}
			if tt.run {
				_ = m.Check(testCtx(t))
			}
			rec := httptest.NewRecorder()
			m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
			if rec.Code != tt.want {
				t.Errorf("GET = %d; want %d\n%s", rec.Code, tt.want, rec.Body)
			}
			wantStatus := health.StatusUp
			if tt.want != http.StatusOK {
				wantStatus = health.StatusDown
			}
			if got := m.Report().Status; got != wantStatus {
				t.Errorf("Report().Status = %s; want %s", got, wantStatus)
			}
		})
	}
}

// TestTimeout checks that a run ends at Timeout whether or not the checker
// honours its context, and that the other checks are not held.
func TestTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 50 * time.Millisecond
	m := newMonitor(t, health.MonitorOptions{Period: -1, Timeout: timeout})
	mustAdd(t, m, "honours", health.CheckerFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}), true)
	release, returned := make(chan struct{}), make(chan struct{})
	mustAdd(t, m, "ignores", health.CheckerFunc(func(context.Context) error {
		<-release // called once only: see the second run below
		close(returned)
		return nil
	}), true)
	mustAdd(t, m, "fast", &switchChecker{}, true)
	defer func() { close(release); <-returned }()

	start := time.Now()
	err := m.Check(testCtx(t))
	if took := time.Since(start); took > 20*timeout {
		t.Errorf("Check took %v with Timeout %v", took, timeout)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Check = %v; want a deadline error", err)
	}
	r := m.Report()
	for name, want := range map[string]health.Status{"honours": health.StatusDown, "ignores": health.StatusDown, "fast": health.StatusUp} {
		if got := r.Checks[name].Status; got != want {
			t.Errorf("%s: %s; want %s", name, got, want)
		}
	}
	if e := r.Checks["ignores"].LastError; !strings.Contains(e, "no answer within 50ms") {
		t.Errorf("ignores: last error %q; want it to say it timed out", e)
	}

	// The stuck call is still out: the next run fails without a second
	// call, so stuck calls never pile up.
	_ = m.Check(testCtx(t))
	if e := m.Report().Checks["ignores"].LastError; !strings.Contains(e, "previous run has not returned") {
		t.Errorf("second run: last error %q; want it to say the first has not returned", e)
	}
}

// TestCloseWithStuckChecker checks that Close returns after about Timeout
// even when a checker ignores its context, and logs it.
func TestCloseWithStuckChecker(t *testing.T) {
	t.Parallel()
	log, logs := newLogger()
	m, err := health.NewMonitor(health.MonitorOptions{Period: time.Hour, Timeout: 50 * time.Millisecond, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	release, called, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	mustAdd(t, m, "stuck", health.CheckerFunc(func(context.Context) error {
		close(called)
		<-release
		close(returned)
		return nil
	}), true)
	<-called
	closed := make(chan struct{})
	go func() { m.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close is held by a stuck checker")
	}
	if !strings.Contains(logs.String(), "left checks running") || !strings.Contains(logs.String(), "stuck") {
		t.Errorf("logs: %s; want a line naming the stuck check", logs)
	}
	close(release)
	<-returned
	if err := m.Add("late", &switchChecker{}); !errors.Is(err, health.ErrClosed) {
		t.Errorf("Add after Close = %v; want ErrClosed", err)
	}
	if err := m.Check(testCtx(t)); !errors.Is(err, health.ErrClosed) {
		t.Errorf("Check after Close = %v; want ErrClosed", err)
	}
	m.Close() // idempotent
}

// TestCloseCancelsRuns checks that Close ends the runs in flight through
// their contexts, waits for them, and records nothing for them.
func TestCloseCancelsRuns(t *testing.T) {
	t.Parallel()
	m, err := health.NewMonitor(health.MonitorOptions{Period: time.Hour, Timeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var ended bool
	mustAdd(t, m, "slow", health.CheckerFunc(func(ctx context.Context) error {
		close(started)
		<-ctx.Done()
		ended = true // read after Close: Close must wait for this call
		return ctx.Err()
	}), true)
	<-started
	m.Close()
	if !ended {
		t.Error("Close returned before the run it cancelled")
	}
	if r := m.Report().Checks["slow"]; r.Runs != 0 || r.Status != health.StatusUnknown {
		t.Errorf("after Close: %+v; want the cancelled run unrecorded", r)
	}
}

// TestCheckCancelled checks that a run cut short by Check's caller is not
// held against the dependency.
func TestCheckCancelled(t *testing.T) {
	t.Parallel()
	m := newMonitor(t, health.MonitorOptions{Period: -1})
	mustAdd(t, m, "slow", health.CheckerFunc(func(ctx context.Context) error {
		<-ctx.Done()
		return ctx.Err()
	}), true)
	ctx, cancel := context.WithTimeout(testCtx(t), 10*time.Millisecond)
	defer cancel()
	if err := m.Check(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Check = %v; want the caller's deadline", err)
	}
	if r := m.Report().Checks["slow"]; r.Runs != 0 {
		t.Errorf("report %+v; want no run recorded", r)
	}
}

// TestPanic checks that a panicking checker fails its check and nothing
// else.
func TestPanic(t *testing.T) {
	t.Parallel()
	m := newMonitor(t, health.MonitorOptions{Period: -1})
	mustAdd(t, m, "buggy", health.CheckerFunc(func(context.Context) error { panic("oops") }), true)
	err := m.Check(testCtx(t))
	if err == nil || !strings.Contains(err.Error(), "checker panicked: oops") {
		t.Errorf("Check = %v; want the panic as an error", err)
	}
}

// TestPeriodic checks that checks run on their own, every Period, and that
// status changes are logged once each, the down one with the failure
// count and the error.
func TestPeriodic(t *testing.T) {
	t.Parallel()
	log, logs := newLogger()
	m := newMonitor(t, health.MonitorOptions{Period: 5 * time.Millisecond, Rise: 2, Fall: 3, Logger: log})
	sw := &switchChecker{}
	mustAdd(t, m, "dep", sw, true)
	waitFor(t, 10*time.Second, "3 passing runs", func() bool { return m.Report().Checks["dep"].Runs >= 3 })
	if s := checkStatus(m, "dep"); s != health.StatusUp {
		t.Fatalf("status %s; want up", s)
	}
	sw.Set(errDown)
	waitFor(t, 10*time.Second, "down", func() bool { return checkStatus(m, "dep") == health.StatusDown })
	sw.Set(nil)
	waitFor(t, 10*time.Second, "up", func() bool { return checkStatus(m, "dep") == health.StatusUp })
	// The line follows the change, which Report may show first.
	const upAgain = `level=INFO msg="health: check up" check=dep from=down to=up`
	waitFor(t, 10*time.Second, "the up line", func() bool { return strings.Contains(logs.String(), upAgain) })

	out := logs.String()
	for _, want := range []string{
		`level=INFO msg="health: check up" check=dep from=unknown to=up required=true`,
		`level=WARN msg="health: check down" check=dep from=up to=down required=true error="health: check \"dep\": connection refused" consecutive_failures=3`,
		upAgain,
		`level=DEBUG msg="health: check failed" check=dep`,
	} {
		if strings.Count(out, want) != 1 && !strings.HasPrefix(want, "level=DEBUG") {
			t.Errorf("logs: want one %q in\n%s", want, out)
		}
		if !strings.Contains(out, want) {
			t.Errorf("logs: no %q in\n%s", want, out)
		}
	}
}

// TestAddErrors checks what Add and AddPool refuse.
func TestAddErrors(t *testing.T) {
	t.Parallel()
	m := newMonitor(t, health.MonitorOptions{Period: -1})
	mustAdd(t, m, "a", &switchChecker{}, true)
	if err := m.AddPool(&fakePool{name: "p"}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name string
		err  error
		want string
	}{
		{"EmptyName", m.Add("", &switchChecker{}), "health: Add: empty check name"},
		{"NilChecker", m.Add("b", nil), `health: Add "b": nil Checker`},
		{"Taken", m.Add("a", &switchChecker{}), `health: Add: a check named "a" exists`},
		{"TakenByOptional", m.AddOptional("a", &switchChecker{}), `health: Add: a check named "a" exists`},
		{"NilPool", m.AddPool(nil), "health: AddPool: nil Inspector"},
		{"PoolTaken", m.AddPool(&fakePool{name: "p"}), `health: AddPool: a pool named "p" exists`},
	} {
		if tt.err == nil || tt.err.Error() != tt.want {
			t.Errorf("%s: %v; want %q", tt.name, tt.err, tt.want)
		}
	}
}

// TestOptionsErrors checks that NewMonitor names the bad field.
func TestOptionsErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		give health.MonitorOptions
		want string
	}{
		{"Timeout", health.MonitorOptions{Timeout: -1}, "health: MonitorOptions.Timeout is negative (-1ns)"},
		{"Rise", health.MonitorOptions{Rise: -1}, "health: MonitorOptions.Rise is negative (-1)"},
		{"Fall", health.MonitorOptions{Fall: -2}, "health: MonitorOptions.Fall is negative (-2)"},
		{"ShortSecret", health.MonitorOptions{Secrets: []string{"long enough", "abc"}}, "health: MonitorOptions.Secrets[1] is shorter than 4 bytes"},
	} {
		m, err := health.NewMonitor(tt.give)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: NewMonitor = %v; want %q", tt.name, err, tt.want)
		}
		if m != nil {
			m.Close()
		}
	}
}

// TestConcurrentUse runs Check, Report, the Handler and Close at once, for
// the race detector.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	m, err := health.NewMonitor(health.MonitorOptions{Period: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	sw := &switchChecker{}
	mustAdd(t, m, "a", sw, true)
	mustAdd(t, m, "b", &switchChecker{err: errDown}, false)
	if err := m.AddPool(&fakePool{name: "p"}); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			for j := range 50 {
				switch (i + j) % 4 {
				case 0:
					_ = m.Check(context.Background())
				case 1:
					_ = m.Report()
				case 2:
					m.Handler().ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/?verbose", nil))
				case 3:
					sw.Set(errDown)
				}
			}
		})
	}
	wg.Go(func() { _ = m.Add("c", &switchChecker{}) })
	wg.Wait()
	var cw sync.WaitGroup
	for range 3 {
		cw.Go(m.Close)
	}
	cw.Wait()
}

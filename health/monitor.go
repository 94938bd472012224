package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/connkit/connkit/pool"
)

// Defaults for the MonitorOptions fields left zero.
const (
	DefaultPeriod  = 10 * time.Second
	DefaultTimeout = 2 * time.Second
	DefaultRise    = 2
	DefaultFall    = 3
)

// ErrClosed is returned by the methods of a Monitor after Close.
var ErrClosed = errors.New("health: monitor closed")

// MonitorOptions configures a Monitor. NewMonitor copies it and fills in
// the defaults; changing it afterwards changes nothing.
type MonitorOptions struct {
	// Period is how often each check runs, from its Add on. Zero means
	// DefaultPeriod (10s); negative means never on a timer: checks run
	// only when Check is called.
	Period time.Duration

	// Timeout bounds each run of a check; a checker that has not returned
	// by then has failed. Zero means DefaultTimeout (2s); it must not be
	// negative. Keep it below Period, or a slow dependency is checked less
	// often than Period says (a check never overlaps itself).
	Timeout time.Duration

	// Rise is how many consecutive passes turn a down check up. Zero means
	// DefaultRise (2); it must not be negative.
	Rise int

	// Fall is how many consecutive failures turn an up check down. Zero
	// means DefaultFall (3); it must not be negative. With the defaults, a
	// dependency that died is reported down after 2 to 3 periods (20-30s),
	// and one blip never flaps the status.
	Fall int

	// Secrets are strings that must never be shown: passwords, tokens, API
	// keys. Every text the monitor shows (check errors, pool dial errors,
	// in reports, responses, logs and metrics) has each of them replaced
	// by "REDACTED", on top of the patterns described in the package
	// documentation. Each must be at least 4 bytes long, or NewMonitor
	// fails: a shorter one would blank out unrelated text. Nil means none.
	Secrets []string

	// Logger receives a line for every change of a check's status (Info
	// when up, Warn when down) and for every failed run (Debug). Nil means
	// no logging.
	Logger *slog.Logger

	// Now returns the current time, for the report's timestamps and the
	// checks' latencies; tests inject a fake clock here. Nil means
	// time.Now. Periods and timeouts always run on the real clock.
	Now func() time.Time
}

// withDefaults returns a copy of o with zero fields set to their
// defaults, or an error naming the first invalid field.
func (o MonitorOptions) withDefaults() (MonitorOptions, error) {
	o.Secrets = append([]string(nil), o.Secrets...)
	for i, s := range o.Secrets {
		if len(s) < minSecretLen {
			return o, fmt.Errorf("health: MonitorOptions.Secrets[%d] is shorter than %d bytes", i, minSecretLen)
		}
	}
	switch {
	case o.Timeout < 0:
		return o, fmt.Errorf("health: MonitorOptions.Timeout is negative (%v)", o.Timeout)
	case o.Rise < 0:
		return o, fmt.Errorf("health: MonitorOptions.Rise is negative (%d)", o.Rise)
	case o.Fall < 0:
		return o, fmt.Errorf("health: MonitorOptions.Fall is negative (%d)", o.Fall)
	}
	if o.Period == 0 {
		o.Period = DefaultPeriod
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Rise == 0 {
		o.Rise = DefaultRise
	}
	if o.Fall == 0 {
		o.Fall = DefaultFall
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o, nil
}

// Monitor runs checks in the background and keeps their status, for a
// health endpoint (Handler), for metrics (Collector) and for code that
// asks (Report). It also reports the state of the pools added with
// AddPool. Its methods are safe for concurrent use.
type Monitor struct {
	opts   MonitorOptions
	redact *redactor
	descs  *descs

	ctx    context.Context // every run's parent; cancelled by Close
	cancel context.CancelFunc
	loops  sync.WaitGroup // the check loops
	calls  sync.WaitGroup // the goroutines calling checkers; Add under mu while !closed
	once   sync.Once      // runs Close; a later Close waits in Do for the first

	mu     sync.Mutex // protects the fields below and every check's state; never held during a check or a pool's Stats
	closed bool
	checks []*check // in the order of Add
	pools  []pool.Inspector
}

// check is one registered Checker.
type check struct {
	name     string
	checker  Checker
	required bool
	sem      chan struct{} // holds a token while checker runs: a check never overlaps itself

	state checkState // protected by Monitor.mu
}

// NewMonitor returns a Monitor with no checks; add them with Add. It
// returns an error naming the field when opts is invalid. Close the
// Monitor to stop its checks.
func NewMonitor(opts MonitorOptions) (*Monitor, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Monitor{
		opts:   o,
		redact: newRedactor(o.Secrets),
		descs:  newDescs(),
		ctx:    ctx,
		cancel: cancel,
	}, nil
}

// Add registers a required check and starts running it: now, then every
// Period. The Monitor is down while a required check is not up. The name
// labels the check in reports, logs and metrics, so it must be unique and
// must not hold a secret. Add returns an error for an empty or taken
// name, a nil Checker or a closed Monitor.
func (m *Monitor) Add(name string, c Checker) error { return m.add(name, c, true) }

// AddOptional registers a check like Add, but an optional one: it shows in
// reports and metrics, and its changes are logged, but it never makes the
// Monitor down. Use it for dependencies the service can run without, such
// as a cache it can bypass.
func (m *Monitor) AddOptional(name string, c Checker) error { return m.add(name, c, false) }

func (m *Monitor) add(name string, c Checker, required bool) error {
	if name == "" {
		return errors.New("health: Add: empty check name")
	}
	if c == nil {
		return fmt.Errorf("health: Add %q: nil Checker", name)
	}
	ch := &check{name: name, checker: c, required: required, sem: make(chan struct{}, 1)}
	ch.state = checkState{status: StatusUnknown, since: m.opts.Now()}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for _, o := range m.checks {
		if o.name == name {
			return fmt.Errorf("health: Add: a check named %q exists", name)
		}
	}
	m.checks = append(m.checks, ch)
	if m.opts.Period > 0 {
		m.loops.Add(1)
		go m.loop(ch)
	}
	return nil
}

// AddPool registers a pool whose state reports and metrics show: every
// *pool.Pool is an Inspector; a pool.Keyed is not. A pool's state never
// makes the Monitor down: add a check for that. AddPool returns an error
// for a nil Inspector, a name another added pool has, or a closed Monitor.
func (m *Monitor) AddPool(p pool.Inspector) error {
	if p == nil {
		return errors.New("health: AddPool: nil Inspector")
	}
	name := p.Name()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	for _, o := range m.pools {
		if o.Name() == name {
			return fmt.Errorf("health: AddPool: a pool named %q exists", name)
		}
	}
	m.pools = append(m.pools, p)
	return nil
}

// Check runs every check once now, concurrently, each bounded by Timeout
// and ctx, and records the results as the periodic runs do (so they count
// towards Rise and Fall). It returns the errors of the checks that
// failed, required or not, joined and redacted, each naming its check;
// nil when all passed. Runs that ctx cut short are not recorded. Use it
// at startup, to wait for dependencies before serving, and in tests.
func (m *Monitor) Check(ctx context.Context) error {
	m.mu.Lock()
	checks := append([]*check(nil), m.checks...)
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return ErrClosed
	}
	errs := make([]error, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Go(func() { errs[i] = m.run(ctx, c) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Close stops the checks: it cancels the runs in flight and waits for
// every goroutine the Monitor started, but for the calls of a Checker that
// ignores its context, which it waits for at most Timeout and then leaves
// behind (each is logged). Close is idempotent; later calls wait for the
// first to finish. The report stays readable after Close.
func (m *Monitor) Close() {
	m.once.Do(func() {
		m.mu.Lock()
		m.closed = true
		m.mu.Unlock()
		m.cancel()
		m.loops.Wait()
		calls := make(chan struct{})
		go func() {
			m.calls.Wait()
			close(calls)
		}()
		t := time.NewTimer(m.opts.Timeout)
		defer t.Stop()
		select {
		case <-calls:
		case <-t.C:
			m.opts.Logger.Warn("health: Close left checks running that ignore their context",
				"checks", m.runningChecks())
		}
	})
}

// runningChecks returns the names of the checks whose checker is running.
func (m *Monitor) runningChecks() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var names []string
	for _, c := range m.checks {
		if len(c.sem) > 0 {
			names = append(names, c.name)
		}
	}
	return names
}

// loop runs c now and then every Period until Close.
func (m *Monitor) loop(c *check) {
	defer m.loops.Done()
	t := time.NewTicker(m.opts.Period)
	defer t.Stop()
	for {
		_ = m.run(m.ctx, c) // recorded in c.state
		select {
		case <-m.ctx.Done():
			return
		case <-t.C:
		}
	}
}

// run runs c once, bounded by Timeout and ctx, and records the result
// unless ctx or Close cut the run short. It returns the redacted error.
func (m *Monitor) run(ctx context.Context, c *check) error {
	rctx, cancel := context.WithTimeout(ctx, m.opts.Timeout)
	defer cancel()
	stop := context.AfterFunc(m.ctx, cancel) // Close cancels every run
	defer stop()
	start := m.opts.Now()
	err := m.call(rctx, c)
	latency := m.opts.Now().Sub(start)
	if errors.Is(err, ErrClosed) {
		return err
	}
	if err != nil {
		err = &redactedError{msg: m.redact.redact(fmt.Sprintf("health: check %q: %v", c.name, err)), err: err}
	}
	if ctx.Err() != nil || m.ctx.Err() != nil {
		return err // cut short by the caller or Close: says nothing of the dependency
	}
	m.record(c, latency, err)
	return err
}

// call calls c's checker in a goroutine of its own and waits for it until
// ctx ends, so that a checker that ignores its context cannot hold the
// caller. It does not call it again while an earlier call still runs.
func (m *Monitor) call(ctx context.Context, c *check) error {
	select {
	case c.sem <- struct{}{}:
	case <-ctx.Done():
		return fmt.Errorf("the previous run has not returned: %w", ctx.Err())
	}
	m.mu.Lock()
	if m.closed { // calls must never be added once Close waits for them
		m.mu.Unlock()
		<-c.sem
		return ErrClosed
	}
	m.calls.Add(1)
	m.mu.Unlock()

	res := make(chan error, 1)
	go func() {
		defer m.calls.Done()
		defer func() { <-c.sem }()
		res <- protect(ctx, c.checker)
	}()
	select {
	case err := <-res:
		return err
	case <-ctx.Done():
		select {
		case err := <-res: // it returned as ctx ended: its own error says more
			return err
		default:
			return fmt.Errorf("no answer within %v: %w", m.opts.Timeout, ctx.Err())
		}
	}
}

// protect returns c.Check(ctx), or an error if it panics: a bug in one
// checker must not bring the service down through its health endpoint.
func protect(ctx context.Context, c Checker) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("checker panicked: %v", r)
		}
	}()
	return c.Check(ctx)
}

// record stores the result of one run of c and logs what changed.
func (m *Monitor) record(c *check, latency time.Duration, err error) {
	now := m.opts.Now()
	m.mu.Lock()
	from, to := c.state.record(now, latency, err, m.opts.Rise, m.opts.Fall)
	st := c.state
	m.mu.Unlock()

	log := m.opts.Logger
	if err != nil {
		log.Debug("health: check failed", "check", c.name, "error", err.Error(),
			"consecutive_failures", st.failures, "status", string(to))
	}
	if from == to {
		return
	}
	attrs := []any{"check", c.name, "from", string(from), "to", string(to), "required", c.required}
	if to == StatusUp {
		log.Info("health: check up", append(attrs, "latency", latency)...)
		return
	}
	log.Warn("health: check down", append(attrs, "error", st.lastErr, "consecutive_failures", st.failures)...)
}

package health

import (
	"encoding/json"
	"time"

	"github.com/connkit/connkit/pool"
)

// Status is the state of a check or of a whole Monitor.
type Status string

// The statuses. A check is StatusUnknown from Add until its first run; a
// Monitor is only ever up or down.
const (
	StatusUnknown Status = "unknown"
	StatusUp      Status = "up"
	StatusDown    Status = "down"
)

// checkState is what a Monitor keeps of one check.
type checkState struct {
	status    Status
	since     time.Time     // when status last changed, or the Add
	lastCheck time.Time     // when the last run ended
	latency   time.Duration // of the last run
	successes int           // consecutive passes, 0 after a failure
	failures  int           // consecutive failures, 0 after a pass
	runs      int64         // every recorded run
	failed    int64         // every recorded failure
	lastErr   string        // the last failure's redacted text, kept after passes
	lastErrAt time.Time     // when the last failure ended
}

// record adds the result of one run and returns the status before and
// after it. The first run decides an unknown status at once: there is no
// earlier state to protect from a blip. After that, fall consecutive
// failures turn an up check down and rise consecutive passes turn a down
// check up.
func (s *checkState) record(now time.Time, latency time.Duration, err error, rise, fall int) (from, to Status) {
	s.runs++
	s.lastCheck, s.latency = now, latency
	if err == nil {
		s.successes++
		s.failures = 0
	} else {
		s.failures++
		s.successes = 0
		s.failed++
		s.lastErr, s.lastErrAt = err.Error(), now
	}
	from, to = s.status, s.status
	switch {
	case from == StatusUnknown && err == nil, from == StatusDown && s.successes >= rise:
		to = StatusUp
	case from == StatusUnknown && err != nil, from == StatusUp && s.failures >= fall:
		to = StatusDown
	}
	if to != from {
		s.status, s.since = to, now
	}
	return from, to
}

// Report is a snapshot of a Monitor: what its Handler serves (the verbose
// form whole) and what its Collector exports.
type Report struct {
	// Status is StatusUp when every required check is up, else
	// StatusDown: a required check that has not run yet counts as down.
	Status Status `json:"status"`
	// Checks holds every check, by name.
	Checks map[string]CheckReport `json:"checks"`
	// Pools holds every pool added with AddPool, by name.
	Pools map[string]PoolReport `json:"pools,omitempty"`
}

// CheckReport is the state of one check. Its error text is redacted.
type CheckReport struct {
	// Status is the check's status, after the Rise and Fall hysteresis: a
	// check may be up with a failure or two behind it.
	Status Status `json:"status"`
	// Required reports whether the check was added with Add (true) or
	// AddOptional (false).
	Required bool `json:"required"`
	// ConsecutiveFailures counts the failed runs since the last pass, and
	// ConsecutiveSuccesses the passes since the last failure; one of them
	// is 0.
	ConsecutiveFailures  int `json:"consecutive_failures"`
	ConsecutiveSuccesses int `json:"consecutive_successes"`
	// Runs counts every recorded run, and Failures those that failed.
	Runs     int64 `json:"runs"`
	Failures int64 `json:"failures"`
	// Since is when Status last changed, or when the check was added.
	Since time.Time `json:"since"`
	// LastCheck is when the last run ended; zero before the first.
	LastCheck time.Time `json:"last_check,omitzero"`
	// Latency is how long the last run took (Timeout for one that timed
	// out). JSON shows it as latency_ms, in milliseconds.
	Latency time.Duration `json:"-"`
	// LastError is the text of the last failure, kept after the check
	// passes again, with secrets redacted; "" if it never failed.
	LastError string `json:"last_error,omitempty"`
	// LastErrorAt is when that failure happened.
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
}

// MarshalJSON encodes c with its latency in milliseconds.
func (c CheckReport) MarshalJSON() ([]byte, error) {
	type fields CheckReport // without the method
	return json.Marshal(struct {
		fields
		LatencyMS float64 `json:"latency_ms"`
	}{fields(c), float64(c.Latency) / float64(time.Millisecond)})
}

// PoolReport is the state of one pool: its pool.Stats, with
// LastDialError redacted, and its oldest borrow.
type PoolReport struct {
	Stats pool.Stats
	// OldestBorrow is how long the longest-held connection has been
	// borrowed; 0 when none is.
	OldestBorrow time.Duration
}

// poolJSON is the JSON form of a PoolReport.
type poolJSON struct {
	MaxSize             int              `json:"max_size"`
	Open                int              `json:"open"`
	Idle                int              `json:"idle"`
	Borrowed            int              `json:"borrowed"`
	Constructing        int              `json:"constructing"`
	Waiting             int              `json:"waiting"`
	Acquires            int64            `json:"acquires"`
	EmptyAcquires       int64            `json:"empty_acquires"`
	AcquireWaitSeconds  float64          `json:"acquire_wait_seconds"`
	CanceledAcquires    int64            `json:"canceled_acquires"`
	Timeouts            int64            `json:"timeouts"`
	Dials               int64            `json:"dials"`
	DialErrors          int64            `json:"dial_errors"`
	LastDialError       string           `json:"last_dial_error,omitempty"`
	Resets              int64            `json:"resets"`
	Destroyed           map[string]int64 `json:"destroyed"`
	OldestBorrowSeconds float64          `json:"oldest_borrow_seconds"`
}

// MarshalJSON encodes p with snake_case names and durations in seconds.
func (p PoolReport) MarshalJSON() ([]byte, error) {
	s := p.Stats
	return json.Marshal(poolJSON{
		MaxSize: s.MaxSize, Open: s.Open, Idle: s.Idle, Borrowed: s.Borrowed,
		Constructing: s.Constructing, Waiting: s.Waiting,
		Acquires: s.Acquires, EmptyAcquires: s.EmptyAcquires,
		AcquireWaitSeconds: s.AcquireWait.Seconds(), CanceledAcquires: s.CanceledAcquires,
		Timeouts: s.Timeouts, Dials: s.Dials, DialErrors: s.DialErrors,
		LastDialError: s.LastDialError, Resets: s.Resets,
		Destroyed:           destroyedByReason(s.Destroyed),
		OldestBorrowSeconds: p.OldestBorrow.Seconds(),
	})
}

// destroyedByReason returns d as a map from reason to count, the reasons
// named as in the connkit_pool_destroyed_total metric.
func destroyedByReason(d pool.DestroyStats) map[string]int64 {
	return map[string]int64{
		"idle": d.Idle, "lifetime": d.Lifetime, "ping": d.Ping, "reset": d.Reset,
		"broken": d.Broken, "dropped": d.Dropped, "close": d.Close,
	}
}

// Report returns a snapshot of every check and pool. It does not run the
// checks: it reads what the last runs recorded, so it is cheap enough for
// every probe of a load balancer. It calls each pool's Stats and Borrowed,
// which walk the pool under its lock.
func (m *Monitor) Report() Report {
	m.mu.Lock()
	r := Report{Status: StatusUp, Checks: make(map[string]CheckReport, len(m.checks))}
	for _, c := range m.checks {
		cr := c.state.report(c.required)
		r.Checks[c.name] = cr
		if c.required && cr.Status != StatusUp {
			r.Status = StatusDown
		}
	}
	pools := append([]pool.Inspector(nil), m.pools...)
	m.mu.Unlock()

	if len(pools) > 0 {
		now := m.opts.Now()
		r.Pools = make(map[string]PoolReport, len(pools))
		for _, p := range pools {
			r.Pools[p.Name()] = m.poolReport(p, now)
		}
	}
	return r
}

// report returns s as a CheckReport, times in UTC.
func (s *checkState) report(required bool) CheckReport {
	return CheckReport{
		Status: s.status, Required: required,
		ConsecutiveFailures: s.failures, ConsecutiveSuccesses: s.successes,
		Runs: s.runs, Failures: s.failed,
		Since: s.since.UTC(), LastCheck: s.lastCheck.UTC(), Latency: s.latency,
		LastError: s.lastErr, LastErrorAt: s.lastErrAt.UTC(),
	}
}

// poolReport returns p's state at now, its dial error redacted.
func (m *Monitor) poolReport(p pool.Inspector, now time.Time) PoolReport {
	pr := PoolReport{Stats: p.Stats()}
	pr.Stats.LastDialError = m.redact.redact(pr.Stats.LastDialError)
	if b := p.Borrowed(); len(b) > 0 {
		pr.OldestBorrow = max(0, now.Sub(b[0].Since)) // oldest first
	}
	return pr
}

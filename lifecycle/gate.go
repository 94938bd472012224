package lifecycle

import (
	"fmt"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Default backoff schedule of DefaultBackOff.
const (
	DefaultInitialInterval     = 100 * time.Millisecond
	DefaultMultiplier          = 2
	DefaultMaxInterval         = 30 * time.Second
	DefaultRandomizationFactor = 0.5
)

// DefaultBackOff returns the backoff used when a config leaves NewBackOff
// nil: exponential from 100ms, doubling up to 30s, each delay randomized by
// ±50% so that many clients failing together do not retry together, and no
// limit on the total time (it never returns backoff.Stop).
func DefaultBackOff() backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(DefaultInitialInterval),
		backoff.WithMultiplier(DefaultMultiplier),
		backoff.WithMaxInterval(DefaultMaxInterval),
		backoff.WithRandomizationFactor(DefaultRandomizationFactor),
		backoff.WithMaxElapsedTime(0),
	)
}

// BackoffError reports that an operation failed and is backing off. It is
// returned to the callers that waited for the failed attempt and, until the
// delay has passed, at once to every caller that arrives, so that a crowd of
// callers does not turn into a crowd of attempts.
type BackoffError struct {
	// Op names the operation, such as "connect" or "dial".
	Op string
	// Err is the error of the last attempt.
	Err error
	// Failures counts the attempts that failed in a row, Err's included.
	Failures int
	// Delay is how long after the failure the next attempt may start, or
	// backoff.Stop when the backoff policy gave up and no attempt will start
	// again.
	Delay time.Duration
	// RetryAt is when the next attempt may start; zero when Delay is
	// backoff.Stop.
	RetryAt time.Time
}

// Error returns the message: the operation, the number of failures, when it
// is tried again, and the last error.
func (e *BackoffError) Error() string {
	if e.Delay == backoff.Stop {
		return fmt.Sprintf("lifecycle: %s failed (%d in a row), gave up: the backoff policy stopped: %v",
			e.Op, e.Failures, e.Err)
	}
	return fmt.Sprintf("lifecycle: %s failed (%d in a row), next attempt in %v: %v",
		e.Op, e.Failures, e.Delay.Round(time.Millisecond), e.Err)
}

// Unwrap returns the last attempt's error, so errors.Is and errors.As see it.
func (e *BackoffError) Unwrap() error { return e.Err }

// Gate spaces the attempts of an operation that keeps failing. After a
// failure the gate stays shut for the next backoff delay, and Check returns
// the failure instead of letting another attempt start; a success opens it
// and resets the backoff.
//
// A Gate is not safe for concurrent use: its owner calls it under its own
// lock. It does no I/O and never blocks.
type Gate struct {
	op   string
	bo   backoff.BackOff
	last *BackoffError // nil while the gate is open
}

// NewGate returns an open gate for the operation named op (used in errors),
// spacing failures by bo, or by DefaultBackOff when bo is nil.
func NewGate(op string, bo backoff.BackOff) *Gate {
	if bo == nil {
		bo = DefaultBackOff()
	}
	bo.Reset()
	return &Gate{op: op, bo: bo}
}

// Check returns nil when an attempt may start at now, or the *BackoffError of
// the last failure while the gate is shut.
func (g *Gate) Check(now time.Time) error {
	if g.last == nil {
		return nil
	}
	if g.last.Delay != backoff.Stop && !now.Before(g.last.RetryAt) {
		return nil
	}
	return g.last
}

// Fail records that an attempt failed with err at now and shuts the gate for
// the next backoff delay. It returns the *BackoffError that Check reports
// until then.
func (g *Gate) Fail(err error, now time.Time) *BackoffError {
	n := 1
	if g.last != nil {
		n = g.last.Failures + 1
	}
	e := &BackoffError{Op: g.op, Err: err, Failures: n, Delay: g.bo.NextBackOff()}
	if e.Delay != backoff.Stop {
		e.RetryAt = now.Add(e.Delay)
	}
	g.last = e
	return e
}

// Succeed records that an attempt succeeded: the gate opens and the backoff
// starts again from its first delay.
func (g *Gate) Succeed() {
	if g.last != nil {
		g.last = nil
		g.bo.Reset()
	}
}

// Failures returns the number of attempts that failed in a row since the last
// success.
func (g *Gate) Failures() int {
	if g.last == nil {
		return 0
	}
	return g.last.Failures
}

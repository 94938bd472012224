package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// DefaultConnectTimeout bounds a Guard's connect when GuardConfig leaves
// ConnectTimeout zero.
const DefaultConnectTimeout = 10 * time.Second

// ErrClosed is returned by Get once Close has started.
var ErrClosed = errors.New("lifecycle: guard closed")

// GuardConfig configures a Guard. NewGuard copies it; changing it afterwards
// changes nothing.
type GuardConfig[T comparable] struct {
	// Connect opens a connection. It is required.
	//
	// It runs on a goroutine of the guard's, never on a caller's, with a
	// context that keeps the values of the context of the Get that started it
	// but none of its cancellation; the context ends after ConnectTimeout or
	// when Close is called. Connect must return soon after its context ends:
	// Close waits for it.
	Connect func(ctx context.Context) (T, error)

	// Close closes a connection that the guard discards, on Invalidate and on
	// Close. Nil means connections need no closing.
	Close func(T) error

	// ConnectTimeout bounds each connect. Zero means DefaultConnectTimeout
	// (10s); a negative value is an error.
	ConnectTimeout time.Duration

	// NewBackOff returns the policy that spaces connects after failures. It is
	// called once, by NewGuard; the policy is reset after every successful
	// connect. A policy that returns backoff.Stop makes the last failure
	// permanent: Get returns it until Close. Nil means DefaultBackOff.
	NewBackOff func() backoff.BackOff

	// OnStateChange, if not nil, is told of every change of state, in order
	// and never concurrently, with no lock held: on the goroutine that caused
	// the change (a caller of Get, Invalidate or Close, or the connect's
	// goroutine), or on one that is already delivering earlier changes. It may call Get, State and Invalidate, but not Close:
	// Close waits until the change to StateClosed has been delivered. It
	// should return quickly, as it delays the goroutine that delivers it.
	OnStateChange func(from, to State)
}

// A Guard holds at most one connection to one target and makes sure that at
// most one connect to it is in flight, however many goroutines ask for it.
// Create one with NewGuard; all its methods are safe for concurrent use.
//
// T must be comparable, because Invalidate tells the current connection from a
// stale one by comparing them; pointers and interfaces are.
type Guard[T comparable] struct {
	cfg     GuardConfig[T] // read-only after NewGuard
	timeout time.Duration  // read-only after NewGuard
	closing chan struct{}  // closed when Close starts
	closed  chan struct{}  // closed when Close has finished
	wg      sync.WaitGroup // the connect goroutine

	mu       sync.Mutex // protects the fields below
	state    State
	value    T // the connection, in StateConnected
	gate     *Gate
	attempt  *attempt[T]             // the connect in flight, or nil
	cancel   context.CancelCauseFunc // cancels attempt's context
	lateErr  error                   // from closing a connection that arrived after Close started
	notifier                         // pending state changes; uses mu
}

// attempt is one connect. Its fields are written before done is closed and
// only read after.
type attempt[T any] struct {
	done chan struct{}
	val  T
	err  error
}

// NewGuard returns an idle guard: nothing is dialed until the first Get.
// It returns an error naming the field when cfg is invalid.
func NewGuard[T comparable](cfg GuardConfig[T]) (*Guard[T], error) {
	if cfg.Connect == nil {
		return nil, errors.New("lifecycle: GuardConfig.Connect is required")
	}
	if cfg.ConnectTimeout < 0 {
		return nil, fmt.Errorf("lifecycle: GuardConfig.ConnectTimeout is negative (%v); use 0 for the default of %v",
			cfg.ConnectTimeout, DefaultConnectTimeout)
	}
	g := &Guard[T]{
		cfg:     cfg,
		timeout: cfg.ConnectTimeout,
		closing: make(chan struct{}),
		closed:  make(chan struct{}),
	}
	if g.timeout == 0 {
		g.timeout = DefaultConnectTimeout
	}
	var bo backoff.BackOff
	if cfg.NewBackOff != nil {
		if bo = cfg.NewBackOff(); bo == nil {
			return nil, errors.New("lifecycle: GuardConfig.NewBackOff returned nil")
		}
	}
	g.gate = NewGate("connect", bo)
	g.notifier.init(&g.mu, cfg.OnStateChange)
	return g, nil
}

// Get returns the connection: at once when one is held, else the result of
// the connect in flight, starting one when none is.
//
// ctx bounds only this caller's wait. When it ends, Get returns an error that
// wraps ctx.Err(), and the connect goes on for the other callers and for the
// next Get. While the guard is backing off after a failed connect, Get
// returns a *BackoffError wrapping that failure at once, without dialing.
// After Close has started, Get returns ErrClosed.
func (g *Guard[T]) Get(ctx context.Context) (T, error) {
	var zero T
	g.mu.Lock()
	switch {
	case g.state == StateConnected:
		v := g.value
		g.mu.Unlock()
		return v, nil
	case g.state >= StateClosing:
		g.mu.Unlock()
		return zero, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		g.mu.Unlock()
		return zero, fmt.Errorf("lifecycle: get: %w", err)
	}
	a := g.attempt
	if a == nil {
		if err := g.gate.Check(time.Now()); err != nil {
			g.mu.Unlock()
			return zero, err
		}
		a = g.startLocked(ctx)
	}
	g.mu.Unlock()
	g.deliver()

	select {
	case <-a.done:
		return a.val, a.err
	case <-g.closing:
		return zero, ErrClosed
	case <-ctx.Done():
		return zero, fmt.Errorf("lifecycle: stopped waiting for the connect in flight, which goes on: %w", ctx.Err())
	}
}

// startLocked starts a connect on a context detached from ctx. g.mu must be
// held.
func (g *Guard[T]) startLocked(ctx context.Context) *attempt[T] {
	a := &attempt[T]{done: make(chan struct{})}
	actx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	g.attempt, g.cancel = a, cancel
	g.setStateLocked(StateConnecting)
	g.wg.Add(1)
	go g.connect(actx, a)
	return a
}

// connect runs one attempt and publishes its result.
func (g *Guard[T]) connect(ctx context.Context, a *attempt[T]) {
	defer g.wg.Done()
	ctx, cancel := context.WithTimeout(ctx, g.timeout)
	v, err := g.cfg.Connect(ctx)
	timedOut := ctx.Err() == context.DeadlineExceeded
	cancel()

	g.mu.Lock()
	g.attempt, g.cancel = nil, nil
	discard := false
	switch {
	case g.state >= StateClosing:
		a.err, discard = ErrClosed, err == nil
	case err != nil:
		if timedOut {
			err = timeoutError(g.timeout, err)
		}
		a.err = g.gate.Fail(err, time.Now())
		g.setStateLocked(StateBackoff)
	default:
		g.gate.Succeed()
		g.value, a.val = v, v
		g.setStateLocked(StateConnected)
	}
	close(a.done)
	g.mu.Unlock()

	if discard {
		if err := g.closeValue(v); err != nil {
			g.mu.Lock()
			g.lateErr = err
			g.mu.Unlock()
		}
	}
	g.deliver()
}

// timeoutError says that a connect ran out of time, keeping both the
// connect's own error and context.DeadlineExceeded visible to errors.Is.
func timeoutError(d time.Duration, err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("connect timed out after %v: %w", d, err)
	}
	return fmt.Errorf("connect timed out after %v: %w (%w)", d, err, context.DeadlineExceeded)
}

// Invalidate tells the guard that v is broken. If v is the current
// connection, the guard drops it, closes it (ignoring the error: the
// connection is known to be broken), and the next Get connects again at once.
// If v is stale (a newer connection has replaced it), nothing happens, so a
// late Invalidate never closes a newer connection. Invalidate reports whether
// v was current.
func (g *Guard[T]) Invalidate(v T) bool {
	g.mu.Lock()
	if g.state != StateConnected || g.value != v {
		g.mu.Unlock()
		return false
	}
	var zero T
	g.value = zero
	g.setStateLocked(StateIdle)
	g.mu.Unlock()
	g.deliver()
	_ = g.closeValue(v)
	return true
}

// State returns the guard's current state. It is a snapshot: by the time the
// caller looks at it, another goroutine may have changed it.
func (g *Guard[T]) State() State {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.state
}

// Close closes the guard: later calls to Get fail with ErrClosed, callers
// waiting in Get are woken with it, a connect in flight has its context
// cancelled, and the current connection is closed. Close waits for the
// connect goroutine to return and for OnStateChange to have been told of
// StateClosed, then returns the error of closing the connection, if any.
// Close is idempotent: a later call waits for the first to finish and returns
// nil.
func (g *Guard[T]) Close() error {
	g.mu.Lock()
	if g.state >= StateClosing {
		g.mu.Unlock()
		<-g.closed
		return nil
	}
	v, held := g.value, g.state == StateConnected
	var zero T
	g.value = zero
	g.setStateLocked(StateClosing)
	if g.cancel != nil {
		g.cancel(ErrClosed)
	}
	close(g.closing)
	g.mu.Unlock()
	g.deliver()

	var err error
	if held {
		err = g.closeValue(v)
	}
	g.wg.Wait()

	g.mu.Lock()
	err = errors.Join(err, g.lateErr)
	g.setStateLocked(StateClosed)
	g.mu.Unlock()
	g.deliverAll()
	close(g.closed)
	return err
}

// closeValue closes v with GuardConfig.Close, if there is one.
func (g *Guard[T]) closeValue(v T) error {
	if g.cfg.Close == nil {
		return nil
	}
	if err := g.cfg.Close(v); err != nil {
		return fmt.Errorf("lifecycle: close: %w", err)
	}
	return nil
}

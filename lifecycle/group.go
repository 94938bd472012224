package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// DefaultGrace is how long Shutdown waits for a closer once the shutdown
// context has ended, when Group.Grace is zero.
const DefaultGrace = 100 * time.Millisecond

// ErrInterrupted is returned by Run when a second signal arrives while the
// group is shutting down.
var ErrInterrupted = errors.New("lifecycle: shutdown interrupted by a second signal")

// A Group closes a set of components in the reverse of the order they were
// added, so that what was started last (an HTTP server taking requests) stops
// before what it uses (the pools behind it). The zero value is ready to use;
// its methods are safe for concurrent use.
type Group struct {
	// Grace is how long Shutdown waits for a closer once ctx has ended: a
	// closer called, or still running, after that must close at once, and one
	// that has not returned after Grace is abandoned and reported. Zero means
	// DefaultGrace.
	Grace time.Duration

	mu      sync.Mutex // protects the fields below
	closers []namedCloser
	done    chan struct{} // made when Shutdown starts, closed when it ends
}

type namedCloser struct {
	name  string
	close func(ctx context.Context) error
}

// Add registers close under name, which Shutdown uses in its errors. Add
// panics if close is nil or if Shutdown has already started: a component
// added then would never be closed.
func (g *Group) Add(name string, close func(ctx context.Context) error) {
	if close == nil {
		panic("lifecycle: Group.Add(" + name + ") with a nil close func")
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done != nil {
		panic("lifecycle: Group.Add(" + name + ") after Shutdown started")
	}
	g.closers = append(g.closers, namedCloser{name, close})
}

// Shutdown calls every closer, in the reverse order of Add, one after the
// other, each with ctx. A closer that is still running when ctx ends is given
// Grace more, then abandoned; the closers after it are still called, with the
// ended ctx, and must close at once. Shutdown returns the closers' errors
// joined, each prefixed with its closer's name, or nil.
//
// Shutdown runs once: a later call waits for the first to finish (or for its
// own ctx to end) and returns nil.
func (g *Group) Shutdown(ctx context.Context) error {
	g.mu.Lock()
	if g.done != nil {
		done := g.done
		g.mu.Unlock()
		select {
		case <-done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("lifecycle: waiting for the shutdown in progress: %w", ctx.Err())
		}
	}
	g.done = make(chan struct{})
	closers := g.closers
	g.closers = nil
	g.mu.Unlock()
	defer close(g.done)

	var errs []error
	for i := len(closers) - 1; i >= 0; i-- {
		if err := g.call(ctx, closers[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// call runs c and waits for it until ctx has ended and Grace has passed.
func (g *Group) call(ctx context.Context, c namedCloser) error {
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- fmt.Errorf("panic: %v", r)
			}
		}()
		done <- c.close(ctx)
	}()

	select {
	case err := <-done:
		return closerError(c.name, err)
	case <-ctx.Done():
	}
	grace := g.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case err := <-done:
		return closerError(c.name, err)
	case <-t.C:
		return fmt.Errorf("lifecycle: close %s: abandoned, still running %v after the shutdown deadline: %w",
			c.name, grace, ctx.Err())
	}
}

func closerError(name string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("lifecycle: close %s: %w", name, err)
}

// Run waits for SIGINT or SIGTERM, or for ctx to end, then shuts g down,
// giving the closers maxWait in all to finish the work in flight before they
// are forced. It returns the error of Shutdown.
//
// ctx may come from signal.NotifyContext for the same signals, so that a
// signal during start-up ends the program too: the signal that ends ctx
// starts the shutdown once, and does not count as a second one. (Run takes
// the first signal within 100ms of ctx's end for that one.)
//
// A second signal during the shutdown forces it: Run returns ErrInterrupted
// at once, with the shutdown's context cancelled so that the closers still
// running return as soon as they can; the caller is expected to exit.
// maxWait must be positive.
func Run(ctx context.Context, g *Group, maxWait time.Duration) error {
	return run(ctx, g, maxWait, nil)
}

// run is Run with a hook called once the signals are being caught.
func run(ctx context.Context, g *Group, maxWait time.Duration, ready func()) error {
	if maxWait <= 0 {
		return fmt.Errorf("lifecycle: Run: maxWait must be positive, got %v", maxWait)
	}
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	if ready != nil {
		ready()
	}

	var byCtx time.Time // when ctx started the shutdown
	select {
	case <-ctx.Done():
		byCtx = time.Now()
	case <-sigs:
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), maxWait)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- g.Shutdown(sctx) }()
	for {
		select {
		case err := <-done:
			return err
		case <-sigs:
			// When ctx is signal.NotifyContext's for the same signals, the
			// signal that ended it reaches sigs too, at once or a moment
			// later: it is the same one, not a second.
			if !byCtx.IsZero() && time.Since(byCtx) < pairedSignalWindow {
				byCtx = time.Time{}
				continue
			}
			return ErrInterrupted
		}
	}
}

// pairedSignalWindow is how soon after ctx ends a signal is taken for the
// one that ended it (see run).
const pairedSignalWindow = 100 * time.Millisecond

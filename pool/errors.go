package pool

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
)

// ErrClosed is returned by Acquire, TryAcquire and With once Close has
// started, including to callers that were waiting.
var ErrClosed = errors.New("pool: closed")

// ErrBroken marks an error as meaning the connection is broken: when the
// function passed to With returns an error that wraps ErrBroken, the
// connection is destroyed instead of being reused. Wrap it with
// fmt.Errorf("...: %w", pool.ErrBroken) where a backend's own errors do not
// say so.
var ErrBroken = errors.New("pool: connection broken")

// ErrNotAvailable is returned by TryAcquire when no idle connection is ready
// at once. A dial may have been started in the background to fill the gap.
var ErrNotAvailable = errors.New("pool: no idle connection available")

// IsBroken reports whether err says that the connection it came from is
// broken: ErrBroken, driver.ErrBadConn, net.ErrClosed, io.EOF,
// io.ErrUnexpectedEOF, a connection reset or broken pipe, or a network
// timeout (after which a request/response protocol is out of step).
// Context cancellation alone is not breakage: the caller gave up, and the
// pool cannot tell whether the connection was left mid-request, so With
// destroys the connection in that case too, as unknown state.
func IsBroken(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrBroken) || errors.Is(err, driver.ErrBadConn) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNABORTED) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// AcquireError is returned when Acquire gives up waiting: its message carries
// the pool's state at that moment, which is what one needs to tell a pool
// that is too small from a backend that is down from a connection leak.
type AcquireError struct {
	// Pool is the pool's name.
	Pool string
	// Err is why the wait ended: context.DeadlineExceeded or
	// context.Canceled (possibly wrapped with a cause). A dial that failed
	// is returned as its own error, not as an AcquireError.
	Err error
	// Stats is the pool's state when the wait ended.
	Stats Stats
}

// Error returns the message, such as
//
//	pool "redis": acquire: context deadline exceeded (max 4, open 4, idle 0, borrowed 4, constructing 0, waiting 12; last dial error: none)
func (e *AcquireError) Error() string {
	s := e.Stats
	last := "none"
	if s.LastDialError != "" {
		last = s.LastDialError
	}
	return fmt.Sprintf("pool %q: acquire: %v (max %d, open %d, idle %d, borrowed %d, constructing %d, waiting %d; last dial error: %s)",
		e.Pool, e.Err, s.MaxSize, s.Open, s.Idle, s.Borrowed, s.Constructing, s.Waiting, last)
}

// Unwrap returns Err, so errors.Is(err, context.DeadlineExceeded) holds for
// a timeout.
func (e *AcquireError) Unwrap() error { return e.Err }

// isContextErr reports whether err is the end of a context.
func isContextErr(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

package wsclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/coder/websocket"
	"github.com/connkit/connkit/lifecycle"
)

// HandshakeError is a connect attempt refused by the server with an HTTP
// status other than 101, such as 401 for a bad token.
type HandshakeError struct {
	StatusCode int
	Err        error
}

// Error returns the message, with the status.
func (e *HandshakeError) Error() string {
	return fmt.Sprintf("wsclient: handshake refused with HTTP %d %s: %v", e.StatusCode, http.StatusText(e.StatusCode), e.Err)
}

// Unwrap returns the dial error.
func (e *HandshakeError) Unwrap() error { return e.Err }

// supervise owns the connection: it connects, runs the connection until it
// drops, and reconnects with backoff, until Close or until the reconnect
// policy gives up. It is the only goroutine that dials.
func (c *Client) supervise() {
	defer c.wg.Done()
	bo := c.bo
	bo.Reset()
	failures := 0 // failed attempts in a row: dial, handshake or OnConnected
	for c.base.Err() == nil {
		c.setState(lifecycle.StateConnecting)
		cn, info := c.dial()
		var up time.Duration
		connected := false
		if cn != nil {
			start := time.Now()
			info, connected = c.run(cn)
			up = time.Since(start)
		}
		if c.base.Err() != nil {
			return // Close ended the attempt: not a failed connect
		}
		if connected {
			failures = 0
		} else {
			failures++
			c.stats.dialErrors.Add(1)
		}
		c.recordErr(info.Err)
		if connected && up >= c.opts.StableAfter {
			bo.Reset()
		}
		retry, panicked := c.shouldReconnect(info)
		switch {
		case panicked != nil:
			c.giveUp(info.Err, panicked.Error())
			return
		case !retry:
			c.giveUp(info.Err, "the reconnect policy said no")
			return
		case c.opts.MaxAttempts > 0 && failures >= c.opts.MaxAttempts:
			c.giveUp(info.Err, fmt.Sprintf("%d connect attempts failed in a row", failures))
			return
		}
		delay := bo.NextBackOff()
		if delay == backoff.Stop {
			c.giveUp(info.Err, "the backoff policy stopped")
			return
		}
		delay = max(delay, info.RetryAfter)
		c.opts.Logger.Info("wsclient: reconnecting", "in", delay, "after", info.Err)
		c.setState(lifecycle.StateBackoff)
		if !lifecycle.Sleep(c.base, delay) {
			return
		}
	}
}

// shouldReconnect asks Options.ShouldReconnect about info. A panic in it
// is recovered, logged with its stack, and returned as why to give up: it
// runs on the supervisor goroutine, where it would kill the process.
func (c *Client) shouldReconnect(info CloseInfo) (retry bool, panicked error) {
	defer recoverCallback(c.opts.Logger, "ShouldReconnect", &panicked)
	return c.opts.ShouldReconnect(info), nil
}

// recoverCallback, deferred by a call of the option named name, recovers
// a panic in it, logs it with its stack, and sets *err to an error that
// says so. Callbacks that run on the client's own goroutines are
// recovered: there, a panic would kill the process, out of the caller's
// reach.
func recoverCallback(log *slog.Logger, name string, err *error) {
	if r := recover(); r != nil {
		*err = callbackPanicked(log, name, r)
	}
}

// callbackPanicked logs a panic r, recovered from the option named name,
// with its stack, and returns an error that says so.
func callbackPanicked(log *slog.Logger, name string, r any) error {
	err := fmt.Errorf("callback Options.%s panicked: %v", name, r)
	log.Error("wsclient: "+err.Error(), "stack", string(debug.Stack()))
	return err
}

// prepare runs Options.Prepare, a panic in it returned as an error.
func (c *Client) prepare(ctx context.Context) (u string, h http.Header, err error) {
	defer recoverCallback(c.opts.Logger, "Prepare", &err)
	return c.opts.Prepare(ctx)
}

func (c *Client) recordErr(err error) {
	if err == nil {
		return
	}
	c.mu.Lock()
	c.lastErr = err
	c.mu.Unlock()
}

// giveUp ends the client's attempts: Connect returns why from now on.
func (c *Client) giveUp(err error, why string) {
	c.opts.Logger.Warn("wsclient: giving up", "why", why, "err", err)
	terminal := fmt.Errorf("wsclient: gave up (%s): %w", why, err)
	c.mu.Lock()
	c.terminal = terminal
	c.mu.Unlock()
	now := time.Now()
	c.gaveUpAt.Store(&now)
	c.q.refuse(terminal)
	c.q.failAll(terminal) // nothing waits forever for a connection that will not come
	c.setState(lifecycle.StateIdle)
}

// dial makes one connect attempt, bounded by ConnectTimeout and Close, and
// returns the connection to run, or nil and why the attempt failed. The
// connection knows the socket under it too, when the transport told it
// (see handshakeClient).
func (c *Client) dial() (*connection, CloseInfo) {
	ctx, cancel := context.WithTimeout(c.base, c.opts.ConnectTimeout)
	defer cancel()
	slot := &socketSlot{}
	ctx = context.WithValue(ctx, socketSlotKey{}, slot)
	u, h := c.opts.URL, c.opts.Header
	if c.opts.Prepare != nil {
		var err error
		if u, h, err = c.prepare(ctx); err != nil {
			return nil, CloseInfo{Code: -1, Err: fmt.Errorf("wsclient: Prepare: %w", err)}
		}
	}
	cn := c.newConnection()
	ws, resp, err := websocket.Dial(ctx, u, &websocket.DialOptions{
		HTTPClient:   c.http,
		HTTPHeader:   h,
		Subprotocols: c.opts.Subprotocols,
		// Control frames are proof of life as much as data: a server that
		// pings but has nothing to say is alive.
		OnPingReceived: func(context.Context, []byte) bool { cn.alive(); return true },
		OnPongReceived: func(context.Context, []byte) { cn.alive() },
	})
	if err != nil {
		cn.cancel()
		err = redactURLs(err)
		info := CloseInfo{Code: -1, Err: fmt.Errorf("wsclient: connect: %w", err)}
		if resp != nil && resp.StatusCode != http.StatusSwitchingProtocols && resp.StatusCode != 0 {
			info.HTTPStatus, info.By = resp.StatusCode, ClosedByServer
			info.RetryAfter = retryAfter(resp.Header.Get("Retry-After"))
			info.Err = &HandshakeError{StatusCode: resp.StatusCode, Err: err}
		}
		return nil, info
	}
	ws.SetReadLimit(c.opts.ReadLimit)
	cn.ws, cn.nc = ws, slot.get()
	return cn, CloseInfo{}
}

// maxRetryAfter caps the wait a server's Retry-After can impose: a day.
// A larger value is more likely a mistake than a plan, and a client that
// waits longer looks dead to its operators.
const maxRetryAfter = 24 * time.Hour

// retryAfter parses a Retry-After header in seconds (or an HTTP date),
// capped at maxRetryAfter; 0 when it is absent, malformed or in the past.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		if s >= int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return min(max(0, time.Until(t)), maxRetryAfter)
	}
	return 0
}

// redactURLs returns err with the query and user info of the URL in its
// chain replaced, where tokens and passwords hide. The messages above the
// *url.Error were formatted with the URL already, as it is and as %q
// quotes it (url.Error's own text), so the text is rewritten, and the
// result unwraps to the *url.Error itself, redacted, skipping the wrappers
// whose text holds the secret: errors.Is and errors.As still see the
// url.Error and what it wraps.
func redactURLs(err error) error {
	var ue *url.Error
	if !errors.As(err, &ue) {
		return err
	}
	orig := ue.URL
	red := "REDACTED"
	if u, perr := url.Parse(orig); perr == nil {
		if u.User != nil {
			u.User = url.User("REDACTED")
		}
		if u.RawQuery != "" {
			u.RawQuery = "REDACTED"
		}
		red = u.String()
	}
	if red == orig {
		return err
	}
	msg := strings.ReplaceAll(err.Error(), orig, red)
	msg = strings.ReplaceAll(msg, quoted(orig), quoted(red))
	ue.URL = red
	return &redactedError{msg: msg, err: ue}
}

// quoted returns s as %q writes it, without the quotes.
func quoted(s string) string {
	q := strconv.Quote(s)
	return q[1 : len(q)-1]
}

// redactedError is an error whose text had a secret taken out.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

package health

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/connkit/connkit/lifecycle"
)

// Checker checks one dependency. Check returns nil when the dependency
// works, or an error that says why not. It must return soon after ctx ends:
// the Monitor bounds every check with MonitorOptions.Timeout and reports a
// check that overruns it as failed.
//
// A Checker's error text is shown in reports and logs after redaction (see
// the package documentation); it should still not quote a secret.
type Checker interface {
	Check(ctx context.Context) error
}

// CheckerFunc adapts a function to a Checker.
type CheckerFunc func(ctx context.Context) error

// Check returns f(ctx).
func (f CheckerFunc) Check(ctx context.Context) error { return f(ctx) }

// Redis returns a Checker that sends PING through client, a *redis.Client,
// *redis.ClusterClient, *redis.Ring or failover client, and fails unless it
// is answered. It borrows a connection from client's own pool, so it checks
// what the application's commands will get: a dead pooled connection is
// replaced by the client as it would be for any command. go-redis retries
// failed dials and commands (Options.MaxRetries, DialerRetries) within the
// check's context, so against a dead server a check takes a second or
// two, or MonitorOptions.Timeout, rather than failing at once. It panics
// if client is nil.
func Redis(client redis.UniversalClient) Checker {
	if client == nil {
		panic("health: Redis called with a nil client")
	}
	return CheckerFunc(func(ctx context.Context) error {
		if err := client.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("health: redis: %w", err)
		}
		return nil
	})
}

// SQL returns a Checker that calls db.PingContext. database/sql may answer
// with a connection from its pool, dialing one when none is idle, so the
// check proves that db can serve a query, not that a new login succeeds.
// It panics if db is nil.
func SQL(db *sql.DB) Checker {
	if db == nil {
		panic("health: SQL called with a nil *sql.DB")
	}
	return CheckerFunc(func(ctx context.Context) error {
		if err := db.PingContext(ctx); err != nil {
			return fmt.Errorf("health: sql: %w", err)
		}
		return nil
	})
}

// TCP returns a Checker that opens a TCP connection to addr ("host:port")
// and closes it at once: the check passes when something accepts
// connections there. It dials with lifecycle.NewDialer, so with connkit's
// keepalive settings (lifecycle.DefaultKeepAlive). It panics if addr is
// empty.
func TCP(addr string) Checker {
	if addr == "" {
		panic("health: TCP called with an empty address")
	}
	d := lifecycle.NewDialer()
	return CheckerFunc(func(ctx context.Context) error {
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return fmt.Errorf("health: tcp: %w", err)
		}
		_ = c.Close() // the connect was the check; a close error says nothing of addr's health
		return nil
	})
}

// WebSocket returns a Checker that opens a WebSocket to rawURL ("ws://",
// "wss://", or "http://" and "https://", which mean the same) and closes it
// with status 1000 (normal closure): the check passes when the server
// completes the upgrade handshake, whatever happens to the close. Each check dials a new TCP connection
// with lifecycle.NewDialer and keeps none open between checks.
//
// The URL may carry credentials in its user info (sent as basic
// authentication) or a token in its query: errors show the URL with both
// replaced by "REDACTED". An invalid URL is not a panic: every check fails
// with an error that says so, as a misconfigured dependency should.
func WebSocket(rawURL string) Checker {
	const prefix = "health: websocket: "
	u, err := url.Parse(rawURL)
	if err == nil && u.Host == "" {
		err = fmt.Errorf("no host in URL")
	}
	if err == nil && u.Scheme != "ws" && u.Scheme != "wss" && u.Scheme != "http" && u.Scheme != "https" {
		err = fmt.Errorf("scheme %q is not ws, wss, http or https", u.Scheme)
	}
	if err != nil {
		err = invalidURLError(prefix, err)
		return CheckerFunc(func(context.Context) error { return err })
	}
	// User info in the URL reaches net/http, which sends it as basic
	// authentication.
	opts := &websocket.DialOptions{HTTPClient: &http.Client{Transport: newTransport()}}
	return CheckerFunc(func(ctx context.Context) error {
		// net/http dials on a context without the request's deadline and
		// cancellation, but with its values: the check's context rides
		// along as one, for boundConn.
		c, resp, err := websocket.Dial(context.WithValue(ctx, checkCtxKey{}, ctx), rawURL, opts)
		if err != nil {
			if resp != nil && resp.StatusCode != 0 && resp.StatusCode != http.StatusSwitchingProtocols {
				err = fmt.Errorf("server answered %s: %w", resp.Status, err)
			}
			return urlError(prefix, rawURL, u, err)
		}
		// The upgrade succeeded, which is what the check asks: a peer that
		// drops the connection instead of answering the close frame is not
		// failing, so the close's error is ignored. The close handshake
		// ends with ctx at the latest (see boundConn).
		_ = c.Close(websocket.StatusNormalClosure, "health check")
		return nil
	})
}

// newTransport returns the HTTP transport of one WebSocket checker: it
// dials with lifecycle.NewDialer, bounds the dial and the connection by
// the check's context (close handshake included), and keeps no idle
// connection between checks.
func newTransport() *http.Transport {
	d := lifecycle.NewDialer()
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			// The check's context, not net/http's detached one, so that
			// no dial outlives the check.
			if cctx, ok := ctx.Value(checkCtxKey{}).(context.Context); ok {
				ctx = cctx
			}
			c, err := d.DialContext(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return boundConn(ctx, c), nil
		},
		TLSHandshakeTimeout: 10 * time.Second,
		DisableKeepAlives:   true,
		ForceAttemptHTTP2:   false, // WebSocket upgrades need HTTP/1.1
	}
}

// checkCtxKey is the context key under which a WebSocket check passes its
// context to its transport's dialer.
type checkCtxKey struct{}

// ctxConn is a net.Conn whose reads and writes fail once the context it
// was dialed with ends: coder/websocket's close handshake waits up to 5 s
// on its own clock, and a check must end with its context.
type ctxConn struct {
	net.Conn
	stop func() bool
}

// boundConn returns c bound to ctx: an ended ctx sets a deadline in the
// past on c, which fails every pending and later read and write.
func boundConn(ctx context.Context, c net.Conn) net.Conn {
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	return &ctxConn{Conn: c, stop: stop}
}

// Close stops watching the context and closes the connection.
func (c *ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

// PingRedis sends PING on conn and fails unless it is answered. It has the
// shape of pool.Config[*redis.Conn].Ping, for pools of dedicated go-redis
// connections (see the example). ctx's deadline bounds it only when the
// client was made with Options.ContextTimeoutEnabled; without it, the
// client's ReadTimeout does.
func PingRedis(ctx context.Context, conn *redis.Conn) error {
	if err := conn.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("health: redis ping: %w", err)
	}
	return nil
}

// PingSQL calls conn.PingContext. It has the shape of
// pool.Config[*sql.Conn].Ping, for pools of dedicated database/sql
// connections.
func PingSQL(ctx context.Context, conn *sql.Conn) error {
	if err := conn.PingContext(ctx); err != nil {
		return fmt.Errorf("health: sql ping: %w", err)
	}
	return nil
}

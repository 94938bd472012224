package reset

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/connkit/connkit/pool"
	"github.com/redis/go-redis/v9"
)

// ErrDiscard is wrapped by the errors of a Reset that cannot bring a
// connection back in place: the connection must be closed and replaced,
// which is what a pool does with a connection whose reset failed. The
// error says why: MONITOR, a subscription, CLIENT REPLY OFF, a command that
// failed mid-flight, a server without RESET.
var ErrDiscard = errors.New("reset: connection cannot be reset; discard it")

// Redis makes the dedicated connections of a *redis.Client poolable by
// package pool: each value is a *redis.Conn whose commands are tracked, so
// that a borrower's SELECT, WATCH, open MULTI, HELLO, AUTH, CLIENT SETNAME
// or CLIENT TRACKING is undone before the next borrower gets the
// connection, and a clean connection is handed back at no cost.
//
//	r := reset.NewRedis(client)
//	p, err := pool.New(r.PoolConfig()) // or pool.Config{Dial: r.Dial, Close: r.Close, Dirty: r.Dirty, Reset: r.Reset, ...}
//
// The connections come from the client's own pool, which then only dials
// and initializes them: the client's PoolSize must leave room for the
// pool's MaxSize and for what the program runs on the client directly.
// Close closes the socket rather than returning it to the client's pool.
//
// Dials are the pool's to space out. go-redis retries a failed dial itself
// (Options.DialerRetries, 5 attempts 100ms apart by default), which holds
// each of the pool's dials for up to half a second against a backend that
// is down; set DialerRetries to 1 (go-redis counts attempts: 1 is a single
// try) and the pool's backoff alone decides when to try again. After
// PoolSize dials in a row have failed, go-redis also refuses to dial until
// a probe of its own, once a second, gets through, so recovery after a long
// outage can take up to a second longer than the pool's backoff says.
//
// On RESP3 (Options.Protocol 3, go-redis's default), go-redis checks a
// dedicated connection's socket for push notifications after every command
// (a recvfrom syscall with MSG_PEEK), a check its pooled client skips for a
// connection put back into its pool less than 5s before: a GET through a
// *redis.Conn costs two of these syscalls, one through client.Get one
// (go-redis v9.22). With Protocol 2 there is none. A reset restores the
// client's own protocol: its HELLO sends Options.Protocol.
//
// A Redis is safe for concurrent use; each *redis.Conn, like any
// *redis.Conn, is for one goroutine at a time.
type Redis struct {
	client *redis.Client
	opt    *redis.Options // the client's, read-only

	conns   sync.Map    // *redis.Conn → *redisTracker, from Dial to Close
	noReset atomic.Bool // the server answered RESET "unknown command": discard dirty connections
}

// NewRedis returns the adapter for client's connections. It sends nothing
// to the server.
func NewRedis(client *redis.Client) *Redis {
	return &Redis{client: client, opt: client.Options()}
}

// Dial returns a dedicated connection of the client whose commands are
// tracked. It takes a connection from the client's pool (dialing and
// initializing it as the client does when none is idle) and asks it for
// CLIENT INFO, one round trip, which tells whether the server has RESET and
// whether the connection is READONLY. Close it with Close, never with
// conn.Close, or it would go back to the client's pool, and Dirty and
// Reset would keep its tracking state forever.
func (r *Redis) Dial(ctx context.Context) (*redis.Conn, error) {
	conn := r.client.Conn()
	t := &redisTracker{}
	conn.AddHook(t) // before the first command, so that it sees everything
	info, err := conn.Do(ctx, "client", "info").Text()
	switch {
	case err == nil:
		t.canReset = true
		t.readOnly = redisHasFlag(info, 'r')
	case redisIsOldServer(err):
		// Redis < 6.2, a proxy, or a user not allowed CLIENT INFO: the
		// connection works, but a dirty one is discarded, not reset.
	default:
		// No redisDrop: if the client could not get a connection, it would
		// dial again; if the command broke it, go-redis drops it already.
		_ = conn.Close()
		return nil, fmt.Errorf("reset: dial redis %s: %w", r.opt.Addr, err)
	}
	t.markClean() // the client's own init went through the hook
	r.conns.Store(conn, t)
	return conn, nil
}

// Close closes conn's socket and forgets its state. It sends nothing: it
// makes go-redis drop the socket by failing a command locally, before
// anything is written, so the socket never returns to the client's pool
// with a session a borrower dirtied. (A tracing hook on the client sees a
// failed "connkit-drop" command.)
func (r *Redis) Close(conn *redis.Conn) error {
	r.conns.Delete(conn)
	redisDrop(conn)
	return conn.Close()
}

// Dirty reports whether conn needs Reset before it is reused: whether a
// command sent through it changed its session, failed mid-flight, or left
// it unresettable. It does no I/O: it reads an atomic. It reports true
// for a connection this Redis did not dial.
func (r *Redis) Dirty(conn *redis.Conn) bool {
	t := r.tracker(conn)
	return t == nil || t.state.Load() != 0
}

// Reset brings conn back to the state of a fresh connection of the client
// in one round trip. It pipelines RESET, which ends MULTI, WATCH,
// subscriptions, tracking, CLIENT REPLY OFF and READONLY and drops the
// name, the database, the user and the protocol, with the client's own
// connection init: HELLO with the client's protocol, credentials and
// ClientName; SELECT of its DB when not 0; READONLY when the fresh
// connection was; and CLIENT NO-EVICT OFF or CLIENT NO-TOUCH OFF when a
// borrower turned them on (the RESET of Redis 7.0 keeps NO-EVICT). Every
// reply is checked; the client's OnConnect, if any, then runs as on a new
// connection. The connection is clean again only if all of it succeeded.
//
// Reset returns an error wrapping ErrDiscard, without I/O, for a
// connection that cannot be reset in place (see the package doc), and for
// every dirty connection when the server has no RESET (Redis < 6.2): the
// caller must close it. go-redis bounds the round trip with the client's
// ReadTimeout and WriteTimeout, and with ctx only when the client has
// ContextTimeoutEnabled.
func (r *Redis) Reset(ctx context.Context, conn *redis.Conn) error {
	t := r.tracker(conn)
	if t == nil {
		return fmt.Errorf("%w: the connection was not dialed by this reset.Redis", ErrDiscard)
	}
	if err := t.discardErr(); err != nil {
		return err
	}
	switch {
	case !t.canReset || r.noReset.Load():
		return fmt.Errorf("%w: the server has no RESET (Redis < 6.2)", ErrDiscard)
	case r.opt.StreamingCredentialsProvider != nil:
		return fmt.Errorf("%w: the client authenticates with a StreamingCredentialsProvider", ErrDiscard)
	}
	user, pass, err := r.credentials(ctx)
	if err != nil {
		return fmt.Errorf("reset: redis credentials: %w", err)
	}
	state := t.state.Load()
	cmds, err := conn.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Process(ctx, redis.NewStatusCmd(ctx, "reset"))
		p.Hello(ctx, r.opt.Protocol, user, pass, r.opt.ClientName)
		if r.opt.DB != 0 {
			p.Select(ctx, r.opt.DB)
		}
		if t.readOnly {
			p.ReadOnly(ctx)
		}
		if state&redisNoEvict != 0 { // RESET of Redis < 7.2 keeps NO-EVICT
			p.Do(ctx, "client", "no-evict", "off")
		}
		if state&redisNoTouch != 0 {
			p.Do(ctx, "client", "no-touch", "off")
		}
		return nil
	})
	if err := r.checkReset(cmds, err); err != nil {
		return err
	}
	if r.opt.OnConnect != nil {
		if err := r.opt.OnConnect(ctx, conn); err != nil {
			return fmt.Errorf("reset: redis OnConnect: %w", err)
		}
	}
	t.markClean()
	return nil
}

// checkReset checks the replies of Reset's pipeline.
func (r *Redis) checkReset(cmds []redis.Cmder, err error) error {
	if len(cmds) == 0 {
		return fmt.Errorf("reset: redis RESET: %w", err)
	}
	if rerr := cmds[0].Err(); rerr != nil {
		if redisIsUnknownCommand(rerr) {
			r.noReset.Store(true)
			return fmt.Errorf("%w: the server has no RESET: %w", ErrDiscard, rerr)
		}
		return fmt.Errorf("reset: redis RESET: %w", rerr)
	}
	if v := cmds[0].(*redis.StatusCmd).Val(); v != "RESET" {
		return fmt.Errorf("reset: redis RESET answered %q", v)
	}
	for _, cmd := range cmds[1:] {
		if err := cmd.Err(); err != nil {
			return fmt.Errorf("reset: redis %s after RESET: %w", redisName(cmd), err)
		}
	}
	hello := cmds[1].(*redis.MapStringInterfaceCmd).Val()
	if got := fmt.Sprint(hello["proto"]); got != fmt.Sprint(r.opt.Protocol) {
		return fmt.Errorf("reset: redis HELLO %d answered protocol %s", r.opt.Protocol, got)
	}
	return err
}

// Ping checks that conn answers PING. It is shaped for pool.Config.Ping.
// go-redis bounds a command by ctx's deadline only when the client's
// Options.ContextTimeoutEnabled is set; without it, a ping to a stalled
// server waits for the client's ReadTimeout (3s by default), whatever
// pool.Config.PingTimeout says.
func (r *Redis) Ping(ctx context.Context, conn *redis.Conn) error {
	return conn.Ping(ctx).Err()
}

// PoolConfig returns a pool configuration for the client's dedicated
// connections: Dial, Close, Ping, Dirty and Reset of r, Name "redis", and
// MaxSize one less than the client's PoolSize, leaving a connection for
// commands run on the client directly (health.Redis pings through it);
// with a PoolSize of 1 there is none to leave. Change any field before
// pool.New.
func (r *Redis) PoolConfig() pool.Config[*redis.Conn] {
	return pool.Config[*redis.Conn]{
		Name:    "redis",
		Dial:    r.Dial,
		Close:   r.Close,
		Ping:    r.Ping,
		Dirty:   r.Dirty,
		Reset:   r.Reset,
		MaxSize: max(1, r.opt.PoolSize-1),
	}
}

func (r *Redis) tracker(conn *redis.Conn) *redisTracker {
	if v, ok := r.conns.Load(conn); ok {
		return v.(*redisTracker)
	}
	return nil
}

// credentials returns the username and password the client authenticates
// with, in go-redis's order of precedence.
func (r *Redis) credentials(ctx context.Context) (user, pass string, err error) {
	switch o := r.opt; {
	case o.CredentialsProviderContext != nil:
		return o.CredentialsProviderContext(ctx)
	case o.CredentialsProvider != nil:
		user, pass = o.CredentialsProvider()
		return user, pass, nil
	default:
		return o.Username, o.Password, nil
	}
}

// redisDropArg cannot be encoded as a Redis argument.
type redisDropArg struct{}

// redisDrop makes go-redis take conn's socket for broken, so that Close
// closes it instead of returning it to the client's pool: encoding the
// command fails before anything is flushed, and go-redis removes a
// connection on any error that is not a server's reply.
func redisDrop(conn *redis.Conn) {
	ctx := context.Background()
	_ = conn.Process(ctx, redis.NewCmd(ctx, "connkit-drop", redisDropArg{}))
}

// redisIsOldServer reports whether err, from CLIENT INFO, means the server
// answered but cannot tell: Redis < 6.2 (unknown subcommand) or a user not
// allowed the command.
func redisIsOldServer(err error) bool {
	if _, ok := err.(redis.Error); !ok { // a reply, not a wrapped init failure
		return false
	}
	return redisIsUnknownCommand(err) || redis.IsPermissionError(err)
}

func redisIsUnknownCommand(err error) bool {
	return redisIsReply(err) && strings.HasPrefix(strings.ToLower(err.Error()), "err unknown")
}

// redisHasFlag reports whether the flags field of a CLIENT INFO line
// holds flag.
func redisHasFlag(info string, flag byte) bool {
	for _, f := range strings.Fields(info) {
		if v, ok := strings.CutPrefix(f, "flags="); ok {
			return strings.IndexByte(v, flag) >= 0
		}
	}
	return false
}

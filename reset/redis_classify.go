package reset

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// The bits of redisTracker.state. A connection is dirty when any is set.
const (
	redisSession uint32 = 1 << iota // session state changed: RESET and init restore it
	redisMulti                      // a MULTI is open
	redisWatch                      // keys are WATCHed
	redisDiscard                    // cannot be reset in place: destroy it
	redisNoEvict                    // CLIENT NO-EVICT was sent: RESET of Redis < 7.2 keeps it
	redisNoTouch                    // CLIENT NO-TOUCH was sent: turned off explicitly too
)

// redisKind is what a command does to its connection's session.
type redisKind uint8

const (
	redisData       redisKind = iota // changes no session state
	redisSetsState                   // changes the session: SELECT, HELLO, AUTH, CLIENT SETNAME...
	redisMultiCmd                    // MULTI
	redisEndTx                       // EXEC, DISCARD: end MULTI and WATCH
	redisWatchCmd                    // WATCH
	redisUnwatch                     // UNWATCH
	redisUnsafe                      // cannot be undone in place: MONITOR, (P|S)SUBSCRIBE...
	redisClient                      // CLIENT: depends on the subcommand
	redisNoEvictCmd                  // CLIENT NO-EVICT
	redisNoTouchCmd                  // CLIENT NO-TOUCH
)

// redisCommands holds, lower-cased, every command that changes the state of
// the connection that sends it. Any other command is data, including
// SWAPDB, FLUSHALL, CONFIG, ACL and scripts, whose effects are server-wide
// rather than per-connection (a script's SELECT does not outlive it).
var redisCommands = map[string]redisKind{
	"select":    redisSetsState,
	"hello":     redisSetsState,
	"auth":      redisSetsState,
	"reset":     redisSetsState, // logs out and drops the client's init
	"readonly":  redisSetsState,
	"readwrite": redisSetsState,
	"asking":    redisSetsState,
	"multi":     redisMultiCmd,
	"exec":      redisEndTx,
	"discard":   redisEndTx,
	"watch":     redisWatchCmd,
	"unwatch":   redisUnwatch,
	"client":    redisClient,

	// Each of these makes the server push data the client did not ask
	// for, or hand the connection over to another protocol: the replies of
	// a reset could be mixed with it.
	"subscribe":    redisUnsafe,
	"psubscribe":   redisUnsafe,
	"ssubscribe":   redisUnsafe,
	"unsubscribe":  redisUnsafe,
	"punsubscribe": redisUnsafe,
	"sunsubscribe": redisUnsafe,
	"monitor":      redisUnsafe,
	"quit":         redisUnsafe,
	"sync":         redisUnsafe,
	"psync":        redisUnsafe,
	"replconf":     redisUnsafe,
}

// redisClientData holds the CLIENT subcommands that change nothing on the
// sending connection. Any other subcommand (SETNAME, SETINFO, TRACKING,
// CACHING, NO-EVICT, NO-TOUCH, KILL, one unknown to this table) makes it
// dirty; REPLY OFF and REPLY SKIP make it unresettable.
var redisClientData = map[string]bool{
	"id": true, "info": true, "list": true, "getname": true, "getredir": true,
	"trackinginfo": true, "help": true, "pause": true, "unpause": true, "unblock": true,
}

// redisMaxName is the length of the longest name in redisCommands and
// redisClientData: a longer command is data without a lookup.
const redisMaxName = 12

// redisWord returns args[i] lower-cased in buf, or false when it is not a
// string or is longer than redisMaxName. It does not allocate.
func redisWord(args []any, i int, buf *[redisMaxName]byte) ([]byte, bool) {
	if i >= len(args) {
		return nil, false
	}
	switch v := args[i].(type) {
	case string:
		return redisLower(v, buf)
	case []byte:
		return redisLower(v, buf)
	}
	return nil, false
}

// redisLower copies s lower-cased (ASCII) into buf.
func redisLower[S string | []byte](s S, buf *[redisMaxName]byte) ([]byte, bool) {
	if len(s) > redisMaxName {
		return nil, false
	}
	b := buf[:len(s)]
	for j := range len(s) {
		c := s[j]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		b[j] = c
	}
	return b, true
}

// redisClassify returns what the command with args does to its connection.
func redisClassify(args []any) redisKind {
	var buf [redisMaxName]byte
	name, ok := redisWord(args, 0, &buf)
	if !ok {
		return redisData
	}
	kind := redisCommands[string(name)]
	if kind != redisClient {
		return kind
	}
	sub, ok := redisWord(args, 1, &buf)
	switch {
	case !ok:
		return redisSetsState
	case redisClientData[string(sub)]:
		return redisData
	case string(sub) == "no-evict":
		return redisNoEvictCmd
	case string(sub) == "no-touch":
		return redisNoTouchCmd
	case string(sub) == "reply":
		if mode, ok := redisWord(args, 2, &buf); ok && string(mode) == "on" {
			return redisData
		}
		return redisUnsafe // OFF and SKIP: the server stops answering
	}
	return redisSetsState
}

// redisTracker follows the session state of one dedicated connection. It
// is the connection's go-redis hook, so it sees every command sent through
// it, alone, in a pipeline or in a transaction.
type redisTracker struct {
	state atomic.Uint32         // redisSession | redisMulti | redisWatch | redisDiscard
	why   atomic.Pointer[error] // set with redisDiscard: why the connection cannot be reset

	// Set by Dial before the tracker is published, read-only after.
	canReset bool // the server answered CLIENT INFO, so it has RESET (Redis ≥ 6.2)
	readOnly bool // the fresh connection was READONLY (a cluster replica's)
}

// DialHook implements redis.Hook; dials are not this hook's business.
func (t *redisTracker) DialHook(next redis.DialHook) redis.DialHook { return next }

// ProcessHook implements redis.Hook: it records what each command did.
func (t *redisTracker) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		t.observe(cmd, err)
		return err
	}
}

// ProcessPipelineHook implements redis.Hook: it records what each command
// of a pipeline or transaction did, in order.
func (t *redisTracker) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		err := next(ctx, cmds)
		for _, cmd := range cmds {
			t.observe(cmd, cmd.Err())
		}
		return err
	}
}

// observe updates the state after cmd got err (nil, or its reply error).
func (t *redisTracker) observe(cmd redis.Cmder, err error) {
	if err == redis.Nil || errors.Is(err, redis.TxFailedErr) {
		err = nil // a nil reply; for EXEC, a WATCHed key changed
	}
	if err != nil && !redisIsReply(err) {
		t.discard(fmt.Errorf("%s failed, leaving the connection in an unknown state: %w", redisName(cmd), err))
		return
	}
	if err != nil && (redis.IsReadOnlyError(err) || redisIsMoved(err)) {
		t.discard(fmt.Errorf("%s: go-redis drops a connection on this reply: %w", redisName(cmd), err))
		return
	}
	kind := redisClassify(cmd.Args())
	if kind == redisData {
		return
	}
	if err != nil && kind != redisUnsafe {
		// A state command that failed: do not guess what the server kept.
		t.set(redisSession)
		return
	}
	switch kind {
	case redisSetsState:
		t.set(redisSession)
	case redisNoEvictCmd:
		t.set(redisSession | redisNoEvict)
	case redisNoTouchCmd:
		t.set(redisSession | redisNoTouch)
	case redisMultiCmd:
		t.set(redisMulti)
	case redisWatchCmd:
		t.set(redisWatch)
	case redisEndTx: // ends MULTI and unwatches (an EXEC without MULTI fails: see above)
		t.clear(redisMulti | redisWatch)
	case redisUnwatch: // inside a MULTI it is only queued, but the MULTI keeps the connection dirty
		t.clear(redisWatch)
	case redisUnsafe:
		t.discard(fmt.Errorf("%s cannot be undone on a live connection", redisName(cmd)))
	}
}

func (t *redisTracker) set(bits uint32)   { t.state.Or(bits) }
func (t *redisTracker) clear(bits uint32) { t.state.And(^bits) }

// discard marks the connection unresettable, keeping the first reason.
func (t *redisTracker) discard(why error) {
	t.why.CompareAndSwap(nil, &why)
	t.set(redisDiscard)
}

// discardErr returns why the connection cannot be reset, wrapping
// ErrDiscard, or nil.
func (t *redisTracker) discardErr() error {
	if t.state.Load()&redisDiscard == 0 {
		return nil
	}
	why := errors.New("unknown reason")
	if p := t.why.Load(); p != nil {
		why = *p
	}
	return fmt.Errorf("%w: %w", ErrDiscard, why)
}

// markClean records a successful reset.
func (t *redisTracker) markClean() {
	t.why.Store(nil)
	t.state.Store(0)
}

// redisIsReply reports whether err is a reply of the server (an error
// reply, or redis.Nil), as opposed to an error of the network or client.
func redisIsReply(err error) bool {
	if _, ok := err.(redis.Error); ok {
		return true
	}
	var re redis.Error
	return errors.As(err, &re)
}

func redisIsMoved(err error) bool {
	_, ok := redis.IsMovedError(err)
	return ok
}

// redisName returns the command's name, with the subcommand of CLIENT,
// for messages: never its arguments, which may hold secrets (AUTH).
func redisName(cmd redis.Cmder) string {
	name := cmd.Name()
	if name == "client" {
		var buf [redisMaxName]byte
		if sub, ok := redisWord(cmd.Args(), 1, &buf); ok {
			return "CLIENT " + string(sub) + redisReplyMode(cmd.Args())
		}
	}
	if len(name) > 32 {
		name = name[:32]
	}
	return name
}

// redisReplyMode returns " mode" for CLIENT REPLY mode, else "".
func redisReplyMode(args []any) string {
	var buf [redisMaxName]byte
	if sub, ok := redisWord(args, 1, &buf); !ok || string(sub) != "reply" {
		return ""
	}
	if mode, ok := redisWord(args, 2, &buf); ok {
		return " " + string(mode)
	}
	return ""
}

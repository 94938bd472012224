// Package pool keeps connections to a backend warm, healthy, clean and
// bounded, for handlers that borrow a connection, use it, and give it back.
//
// A Pool[T] holds connections of any type T (a *redis.Conn, a *sql.Conn, a
// net.Conn, a client of your own) that Config.Dial opens. It is built on
// github.com/jackc/puddle/v2, which does the accounting: the MaxSize bound,
// FIFO waiters, dials that a caller's cancellation does not abort. This
// package adds what puddle leaves out on purpose:
//
//   - Dials bounded by ConnectTimeout (a blackholed backend cannot hold a
//     slot forever) and cancelled by Close.
//   - Backoff when dials fail. While the backend is down, one dial is in
//     flight at a time, spaced by the backoff, and every other caller gets
//     the last dial error at once (a *lifecycle.BackoffError) instead of
//     dialing in turn. The pool recovers by itself when a dial succeeds.
//   - A warm minimum: MinIdle connections dialed in the background from New
//     on and after each destroy.
//   - Limits: MaxIdleTime and MaxLifetime (with LifetimeJitter, so that
//     connections dialed together do not expire together), enforced when a
//     connection is acquired, when it is released and by a background sweep,
//     so a busy pool still retires old connections. A borrowed connection
//     is never taken from its borrower.
//   - Health: a connection idle longer than PingAfterIdle is pinged before
//     Acquire hands it out, and by the sweep as a keepalive. A failed ping
//     destroys it, and Acquire moves on to another connection or dials: the
//     caller never sees the dead one.
//   - Reset on return: a connection marked with Conn.MarkDirty, or for which
//     Config.Dirty reports true, is reset with Config.Reset before anyone
//     else gets it; a clean one is reused as it is, at no cost.
//   - Errors that say why: an Acquire that times out returns an
//     *AcquireError with the pool's state (max, open, idle, borrowed,
//     constructing, waiting, last dial error).
//   - Close that drains: it fails new and waiting acquires with ErrClosed,
//     waits for the borrowed connections until its context ends, then
//     destroys them and names each holder (its WithLabel label, age).
//   - Keyed pools: Keyed holds one pool per key, made once per key.
//
// # Choosing the knobs
//
// MaxSize is the backend's budget for this process: the most connections it
// may hold at once. Acquire waits when all are borrowed, so it also bounds
// concurrency. AcquireTimeout (or the caller's context) is how long a
// request may wait for one; when it fires, the error's numbers tell a pool
// that is too small (waiting high, borrowed = max) from a leak (borrowed =
// max for long, see Borrowed) from a dead backend (open 0, last dial error).
//
// MinIdle trades idle connections on the backend for latency: a request
// never pays a dial while MinIdle are ready. MaxIdleTime gives idle
// connections back to the backend; MaxLifetime moves connections when the
// backend behind a load balancer or DNS name moves, and bounds what a
// long-lived connection can accumulate.
//
// PingAfterIdle trades one round trip on some acquires for never handing
// out a connection that died while idle: a connection used within the last
// PingAfterIdle is trusted (default 1s, as pgxpool does); set it to a
// negative value to never ping on acquire and rely on the sweep and on
// errors. HealthCheckPeriod sets how often idle connections are swept and
// kept alive through NATs and firewalls that drop silent connections.
//
// ConnectTimeout bounds each dial (default 10s): set it to a little more
// than a healthy dial takes, since a blackholed backend holds a slot for
// that long. LifetimeJitter spreads the expiry of connections dialed
// together (after a restart, all of them), so that they are not all
// redialed at once: a tenth of MaxLifetime is plenty. PingTimeout bounds
// each ping; a ping slower than it destroys the connection, so keep it
// above the backend's worst healthy round trip. NewBackOff spaces dials
// while the backend is down (default from 100ms, doubling to 30s, ±50%);
// its delays are how long a recovered backend may wait to be used again.
// LeakConfig.Stacks costs under a microsecond a borrow when a stack is
// captured (StacksSampled captures one borrow in 64 by default,
// StacksAlways every borrow): StacksAlways in tests, StacksSampled or
// StacksOff in production.
//
// # Costs
//
// A released connection waits for the next borrower in a small cache in
// front of puddle (up to four slots; each CPU starts at a slot drawn for
// it), from which Acquire takes it with one compare-and-swap: the
// uncontended path takes no lock, and a connection tends to be borrowed
// again on the CPU that gave it back. Puddle's lock is taken when the cache
// has no connection for a borrow or no free slot for a release, and always
// while callers are parked: releases then go to puddle, which serves the
// parked callers in the order they came. Apart from that, Acquire and Release of an idle
// connection cost one monotonic clock read (on Acquire) and no allocation:
// the Conn handles of a connection come 64 to a slab, and each is used for
// one borrow only, so that a late Release of an old handle can never give
// back a connection someone else now holds. (A handle kept referenced keeps
// its slab, 2 KiB, alive.) Release reads no clock, so a connection's idle
// time counts from when it was last handed out, and its lifetime is checked
// against a pool clock that borrows and the sweep keep current. An Acquire
// that finds every connection borrowed yields the CPU a few times before
// it parks, and then costs what puddle's wait costs; Close wakes waiters
// by freeing the slots of the borrowed connections, not through their
// contexts. Stats, Borrowed and Close walk the pool's connections under
// its lock: cheap, but not for a hot path. A dirty release costs a
// goroutine and the reset's round trips, off the releasing goroutine.
// bench/RESULTS.md has the figures against puddle, database/sql and others.
//
// # Using connections
//
// Prefer With, which gives the connection back on every path and destroys
// it when fn reports it broken (see IsBroken and ErrBroken), when fn
// returns a context error (the connection may be mid-request), or when fn
// panics. With Acquire, give the connection back with Release, or with
// Destroy when it is broken; both are idempotent, so defer c.Release() is
// always safe. Label borrows with WithLabel so that reports say who holds
// what.
package pool

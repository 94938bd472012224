package pool

import (
	"math/rand/v2"
	"sync/atomic"
	"time"

	"github.com/jackc/puddle/v2"
)

// epoch is the zero of the pool's monotonic clock: times are kept as
// nanoseconds since it, which costs one monotonic clock read (time.Since)
// instead of time.Now's two.
var epoch = time.Now()

func monotime() int64 { return int64(time.Since(epoch)) }

func wallTime(mono int64) time.Time { return epoch.Add(time.Duration(mono)) }

// destroyReason says why a connection was destroyed, for Stats.
type destroyReason uint8

const (
	reasonClose destroyReason = iota // Close, or released after Close
	reasonIdle
	reasonLifetime
	reasonPing
	reasonReset
	reasonBroken
	numReasons
)

// entry is one connection of the pool, the value puddle manages. Its fields
// other than conn are only touched by whoever holds the puddle resource: the
// borrower, the sweep or a reset, each handing over through puddle's lock.
type entry[T any] struct {
	value      T
	created    int64 // monotime of the dial
	expires    int64 // monotime past which it is retired; 0: never
	lastUsed   int64 // monotime of the last release
	lastPinged int64 // monotime of the last successful ping
	reason     destroyReason
	slab       *handleSlab[T] // handles for the next borrows

	conn atomic.Pointer[Conn[T]] // the borrower's handle, nil when not borrowed
}

// newEntry makes the entry of a connection dialed at now, fixing its
// expiry: MaxLifetime plus a jitter uniform in [0, LifetimeJitter).
func newEntry[T any](v T, now int64, lifetime, jitter time.Duration) *entry[T] {
	e := &entry[T]{value: v, created: now, lastUsed: now, lastPinged: now}
	if enabled(lifetime) {
		e.expires = now + int64(lifetime)
		if jitter > 0 {
			e.expires += rand.Int64N(int64(jitter))
		}
	}
	return e
}

func (e *entry[T]) expired(now int64) bool { return e.expires != 0 && now >= e.expires }

// Handle states. A handle moves from borrowed to returned when its borrower
// gives it back. Close detaches the borrowed ones from puddle (to free their
// slots for the waiters it wakes), after which the pool closes them itself
// when they come back, or revokes them at Close's deadline.
const (
	stateBorrowed uint32 = iota
	stateReturned        // given back by the borrower: Release or Destroy
	stateDetached        // borrowed still, but out of puddle since Close started
	stateRevoked         // destroyed by Close while still borrowed
)

// Conn is a borrowed connection. Get the connection with Value, and give it
// back with Release, or with Destroy when it is broken. Release and Destroy
// are idempotent and the first call wins, so
//
//	c, err := p.Acquire(ctx)
//	if err != nil { ... }
//	defer c.Release()
//
// is always safe, even after an explicit Destroy. A Conn is a handle for one
// borrow: it is not reused for the next one, so a late Release never gives
// back someone else's connection. Apart from Release and Destroy, a Conn is
// for one goroutine at a time.
type Conn[T any] struct {
	pool  *Pool[T]
	res   *puddle.Resource[*entry[T]]
	e     *entry[T]
	id    uint64
	label string
	since int64 // monotime of the acquire
	state atomic.Uint32
	dirty atomic.Bool
}

// Value returns the connection. It panics if called after Release or
// Destroy, or after Close destroyed the connection: a connection given back
// may already belong to another borrower.
func (c *Conn[T]) Value() T {
	switch c.state.Load() {
	case stateReturned:
		panic("pool: Conn.Value called after Release or Destroy")
	case stateRevoked:
		panic("pool: Conn.Value called after the pool's Close destroyed the connection")
	}
	return c.e.value
}

// MarkDirty records that the borrower changed the connection's session
// state (a transaction, a SET, a SELECT of another database), so that
// Config.Reset runs before the connection is reused. Without Config.Reset, a
// dirty connection is destroyed on Release.
func (c *Conn[T]) MarkDirty() { c.dirty.Store(true) }

// Release gives the connection back to the pool. It returns at once: when
// the connection is dirty, the reset runs in the background before the
// connection is idle again. Calls after the first Release or Destroy do
// nothing.
func (c *Conn[T]) Release() { c.giveBack(true, 0) }

// Destroy gives the connection back to be closed, not reused: call it when
// the connection is broken or in an unknown state. Calls after the first
// Release or Destroy do nothing.
func (c *Conn[T]) Destroy() { c.giveBack(false, reasonBroken) }

// giveBack ends the borrow, once: the first call wins. It releases the
// connection for reuse when reuse is set, else destroys it for reason why.
func (c *Conn[T]) giveBack(reuse bool, why destroyReason) {
	for {
		switch state := c.state.Load(); state {
		case stateBorrowed:
			if !c.state.CompareAndSwap(state, stateReturned) {
				continue
			}
			if reuse {
				c.pool.release(c)
			} else {
				c.e.conn.Store(nil)
				c.pool.destroy(c.res, why)
				c.pool.notifyReturned()
			}
			return
		case stateDetached: // Close has started: the pool closes it itself
			if c.state.CompareAndSwap(state, stateReturned) {
				c.pool.closeDetached(c, reasonClose)
			}
			return
		default:
			return
		}
	}
}

// handleSlab holds the next handles of one connection, so that a borrow
// costs an allocation only once in 32. Each handle is still used for one
// borrow only. A handle still referenced keeps its slab (about 3 KiB) alive.
type handleSlab[T any] struct {
	conns [32]Conn[T]
	next  int
}

// newHandle returns a fresh, zero handle for a borrow of e. Only the
// goroutine holding e's resource calls it, so it needs no lock.
func (e *entry[T]) newHandle() *Conn[T] {
	if e.slab == nil || e.slab.next == len(e.slab.conns) {
		e.slab = new(handleSlab[T])
	}
	c := &e.slab.conns[e.slab.next]
	e.slab.next++
	return c
}

// borrow returns the Borrow record of c.
func (c *Conn[T]) borrow() Borrow {
	return Borrow{ID: c.id, Pool: c.pool.cfg.Name, Label: c.label, Since: wallTime(c.since)}
}

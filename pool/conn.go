package pool

import (
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"time"
	"weak"

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
	reasonDropped
	numReasons
)

// The borrow word of an entry: the ID of the borrow in progress (0 when the
// connection is not borrowed) and two flags. Whoever swaps it from a borrow
// to 0 ends that borrow: its holder's Release or Destroy, Close at its
// deadline, or the cleanup of a dropped handle. IDs are unique in a pool, so
// a stale handle never matches a later borrow.
const (
	borrowReported = 1 << 62 // reported as a leak: its return is reported too
	borrowDetached = 1 << 63 // out of puddle since Close started
	borrowIDMask   = borrowReported - 1
)

// entry is one connection of the pool, the value puddle manages. The plain
// fields are only touched by whoever holds the puddle resource (a borrower
// during checkout and release, the sweep, a reset), each handing over
// through puddle's lock. The atomic fields describe the borrow in progress
// and are read by anyone.
type entry[T any] struct {
	pool       *Pool[T]               // set at the dial, then fixed; its handles reach the pool through it
	self       weak.Pointer[entry[T]] // e, for the cleanups of its slabs, which must not hold it
	value      T
	res        *puddle.Resource[*entry[T]] // set at the first checkout, then fixed
	created    int64                       // monotime of the dial
	expires    int64                       // monotime past which it is retired; 0: never
	lastUsed   int64                       // monotime of the last hand-out or check
	lastPinged int64                       // monotime of the last successful ping
	lastID     uint64                      // the ID of its last borrow, 0 before the first: idle ones are kept in its order
	reason     destroyReason
	// slab is where the next handle comes from, held only while the
	// connection is idle: during a borrow only the handles reach their slab,
	// so a dropped handle's slab can be collected (see slabCollected).
	slab    *handleSlab[T]
	slabIDs *slabIDs // the borrow IDs of slab's handles

	borrow atomic.Uint64             // see borrowReported
	since  atomic.Int64              // monotime of the hand-out
	label  atomic.Pointer[string]    // from WithLabel, or nil
	stack  atomic.Pointer[stackInfo] // the acquisition stack, or nil
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
// back someone else's connection. A Conn dropped without Release is found
// when the garbage collector reclaims it, reported, and its connection
// destroyed so the pool gets its slot back; see LeakConfig. Apart from
// Release and Destroy, a Conn is for one goroutine at a time.
type Conn[T any] struct {
	e     *entry[T]
	slab  *handleSlab[T] // this handle's, given back to e on Release
	id    uint64
	dirty atomic.Bool
}

// Value returns the connection. It panics if called after the borrow ended:
// after Release or Destroy, or after the pool's Close destroyed the
// connection. A connection given back may already belong to another
// borrower.
func (c *Conn[T]) Value() T {
	if c.e.borrow.Load()&borrowIDMask != c.id {
		panic("pool: Conn.Value called after the borrow ended (Release, Destroy, or the pool's Close)")
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
func (c *Conn[T]) Release() {
	c.e.pool.giveBack(c, true, 0)
	runtime.KeepAlive(c) // else its slab's cleanup could take it for dropped mid-release
}

// Destroy gives the connection back to be closed, not reused: call it when
// the connection is broken or in an unknown state. Calls after the first
// Release or Destroy do nothing.
func (c *Conn[T]) Destroy() {
	c.e.pool.giveBack(c, false, reasonBroken)
	runtime.KeepAlive(c)
}

// handleSlab holds the next handles of one connection, so that a borrow
// costs an allocation only once in 64. Each handle is used for one borrow
// only. The entry holds its slab only while the connection is idle: a
// checkout takes the slab out of the entry and a Release puts it back, so
// during a borrow nothing but handles reaches the slab. When every handle
// of a slab is unreachable, the slab's cleanup checks whether one of them
// was dropped while still borrowed (see slabCollected). (A weak pointer in
// the entry would do the same, but its Value on every borrow costs the
// runtime's weak-handle machinery; under contention that cost a quarter of
// a borrow.)
type handleSlab[T any] struct {
	conns [64]Conn[T]
	next  int
}

// slabIDs is the range of borrow IDs a slab's handles were for: a
// connection's borrows take increasing IDs and its slabs are used in turn,
// so the range is from the slab's first borrow to the first borrow of the
// next slab. It is the argument of the slab's cleanup, so it must not point
// to the slab.
type slabIDs struct {
	first uint64
	next  atomic.Uint64 // the next slab's first ID; 0 while this one is in use
}

func (s *slabIDs) has(id uint64) bool {
	next := s.next.Load()
	return id >= s.first && (next == 0 || id < next)
}

// newHandle returns the handle for borrow id of e, and takes e's slab out
// of e for the length of the borrow. Only the goroutine holding e's
// resource calls it, so it needs no lock.
func newHandle[T any](e *entry[T], id uint64) *Conn[T] {
	s := e.slab
	e.slab = nil
	if s == nil || s.next == len(s.conns) {
		// s is nil only at e's first borrow: every later borrow ended by a
		// Release, which gave the slab back (before any reset), or by a
		// destroy, after which e is never handed out again.
		s = new(handleSlab[T])
		if e.slabIDs != nil {
			e.slabIDs.next.Store(id)
		}
		e.slabIDs = &slabIDs{first: id}
		runtime.AddCleanup(s, slabCollected(e.self), e.slabIDs)
	}
	c := &s.conns[s.next]
	s.next++
	c.e, c.slab, c.id = e, s, id
	return c
}

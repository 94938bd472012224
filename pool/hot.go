package pool

import (
	"context"
	"math/rand/v2"
	"sync"
	"sync/atomic"

	"github.com/jackc/puddle/v2"
)

// hotSlot is one place of the pool's hot cache: a few idle connections that
// a release parks outside puddle, so that the next borrow takes one with a
// compare-and-swap instead of puddle's four lock round trips (its semaphore
// and its mutex, on acquire and on release). When two CPUs borrow from one
// pool, those locks move between them on every borrow and cost more than
// the rest of the borrow; HikariCP's ConcurrentBag keeps recently used
// connections per thread for the same reason.
//
// A connection in the cache is idle to the user (Stats counts it as idle),
// but puddle sees it as acquired: it holds its slot, so puddle cannot give
// it to a caller parked in Acquire, close it, or hand it to the sweep.
// Whoever needs it drains the cache back into puddle first:
//
//   - A caller about to park counts itself in waiting, then drains. A
//     release parks a connection only while nobody waits, and looks at
//     waiting again after parking it, draining if someone came: either the
//     caller sees the connection or the release sees the caller.
//   - Close sets closed, then drains; a release looks at closed again after
//     parking a connection, in the same way.
//   - The sweep drains before it takes puddle's idle connections.
//
// No one takes from the cache while callers are parked: they come first. A
// borrower looks at waiting before it takes a connection and again after,
// and gives it to puddle if a caller parked in between.
//
// A slot holds a connection exactly while it is idle there. Taking one is
// a compare-and-swap from it to nil, so one caller takes it, and owns it as
// a puddle borrower does; the swap orders the entry's plain fields as
// puddle's lock does. Slots are on cache lines of their own, and a caller
// starts at a slot drawn for its CPU (see slotHint), so that a connection
// is mostly borrowed again on the CPU that gave it back, and CPUs borrowing
// at once rarely touch the same line (with more CPUs than slots, or by
// chance, some share a starting slot).
type hotSlot[T any] struct {
	e atomic.Pointer[entry[T]]
	_ [cacheLine - 8]byte
}

// maxHot is the most slots a pool has: enough that a few CPUs borrowing at
// once each find their own, few enough that a scan of all stays cheap.
const maxHot = 4

// hotSlots returns the pool's slots: one per connection, up to maxHot.
func (p *Pool[T]) hotSlots() []hotSlot[T] {
	return p.hot[:min(p.cfg.MaxSize, maxHot)]
}

// takeIdle takes an idle connection from the hot cache, else from puddle's
// TryAcquire, which returns ErrNotAvailable when it has none and then, if
// the pool has room, starts a dial in the background with dialCtx (Acquire
// passes noDial, which makes that dial return at once, so that only its
// slow path dials, once).
func (p *Pool[T]) takeIdle(dialCtx context.Context) (*puddle.Resource[*entry[T]], error) {
	if e := p.takeHot(); e != nil {
		return e.res, nil
	}
	return p.pp.TryAcquire(dialCtx)
}

// takeHot takes a connection from the hot cache, or returns nil.
func (p *Pool[T]) takeHot() *entry[T] {
	if p.stats.waiting.Load() != 0 {
		return nil
	}
	if p.testHook != nil {
		p.testHook(hookTake)
	}
	slots := p.hotSlots()
	start := slotHint(len(slots))
	for k := range slots {
		s := &slots[wrap(start+k, len(slots))].e
		if e := s.Load(); e != nil && s.CompareAndSwap(e, nil) {
			// A caller may have parked since the look above, and found
			// the cache empty before e was parked here: e belongs to it.
			if p.stats.waiting.Load() != 0 {
				e.res.ReleaseUnused()
				return nil
			}
			return e
		}
	}
	return nil
}

// putIdle makes e, released clean and within its limits, idle again: in the
// hot cache when nobody waits and a slot is free, else in puddle.
func (p *Pool[T]) putIdle(e *entry[T]) {
	if p.stats.waiting.Load() == 0 && !p.closed.Load() {
		if p.testHook != nil {
			p.testHook(hookPut)
		}
		slots := p.hotSlots()
		start := slotHint(len(slots))
		for k := range slots {
			if !slots[wrap(start+k, len(slots))].e.CompareAndSwap(nil, e) {
				continue
			}
			if p.testHook != nil {
				p.testHook(hookPutParked)
			}
			// A caller may have parked, or Close begun, since the look
			// above: see hotSlot.
			if p.stats.waiting.Load() != 0 || p.closed.Load() {
				p.drainHot()
			}
			return
		}
	}
	e.res.ReleaseUnused()
}

// drainHot hands every connection in the hot cache back to puddle.
func (p *Pool[T]) drainHot() {
	slots := p.hotSlots()
	for i := range slots {
		if e := slots[i].e.Swap(nil); e != nil {
			e.res.ReleaseUnused()
		}
	}
}

// hotIdle counts the connections in the hot cache.
func (p *Pool[T]) hotIdle() int {
	n := 0
	slots := p.hotSlots()
	for i := range slots {
		if slots[i].e.Load() != nil {
			n++
		}
	}
	return n
}

// stat returns puddle's Stat and the number of idle connections, puddle's
// and the hot cache's. A connection that moves from puddle to the cache
// while puddle counts would be counted twice: the cache is counted before
// and after, the smaller count kept, and the total kept within the open
// connections.
func (p *Pool[T]) stat() (ps *puddle.Stat, idle int) {
	hot := p.hotIdle()
	ps = p.pp.Stat()
	if p.testHook != nil {
		p.testHook(hookStat)
	}
	hot = min(hot, p.hotIdle())
	return ps, min(int(ps.IdleResources())+hot, int(ps.TotalResources()-ps.ConstructingResources()))
}

// wrap returns i mod n for i in [0, 2n), without a division.
func wrap(i, n int) int {
	if i >= n {
		return i - n
	}
	return i
}

// slotHints keeps a random number per CPU: a sync.Pool keeps what is put
// back on the CPU (the runtime's P) that put it, and hands it out there
// first. One is lost now and then to the garbage collector, and the next
// caller on that CPU draws a new one.
var slotHints = sync.Pool{New: func() any { h := rand.Uint32(); return &h }}

// slotHint returns the slot in [0, n) where a caller on this CPU starts:
// the same one, borrow after borrow, as long as the CPU keeps its hint.
func slotHint(n int) int {
	h := slotHints.Get().(*uint32)
	i := int(*h % uint32(n))
	slotHints.Put(h)
	return i
}

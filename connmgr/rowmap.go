package connmgr

import (
	"errors"
	"sync/atomic"
)

// rowMap holds one shard's rows by ID: an open-addressed hash table (linear
// probing) of atomic row pointers, which get reads with no lock while the
// writers, who hold the shard's mu, change it.
//
// A slot goes from empty to a row, from a row to another row of the same ID
// (stored rows are never changed in place), from a row to the tombstone and
// from the tombstone to a row; never back to empty. So a row stays
// reachable from its home slot for as long as it is held, and a reader's
// probe reaches it however the other slots change meanwhile. Tombstones
// and growth are dealt with by moving every row to a new array and
// publishing that; a reader still probing the old one sees the rows as
// they were at that moment, which is as if its read had happened then.
//
// A probe reads the row of each slot it passes, to compare IDs. IDs from
// NextID are consecutive, and the multiplicative hash spreads them evenly
// over the slots, so a probe for such an ID usually reads one slot and one
// row (1.00 slots a probe, on average, in a table of 100k such rows).
// (Keeping each ID beside its pointer, to pass other IDs' slots without
// reading their rows, doubled the arrays and made Get 22% slower.)
type rowMap[A any] struct {
	tab  atomic.Pointer[rowSlots[A]]
	tomb *Entry[A] // marks a removed row's slot; never handed out
	live int       // rows held; writers only
	used int       // slots not empty, live rows and tombstones; writers only
}

// rowSlots is one array of slots; its length is a power of two.
type rowSlots[A any] struct {
	slots []atomic.Pointer[Entry[A]]
	shift uint // 64 - log2(len(slots))
}

// minSlots is the size of a new shard's array.
const minSlots = 8

func (m *rowMap[A]) init() {
	m.tomb = new(Entry[A])
	m.tab.Store(newRowSlots[A](minSlots))
}

// newRowSlots returns an array of at least n slots.
func newRowSlots[A any](n int) *rowSlots[A] {
	shift := uint(64)
	for size := 1; size < n; size <<= 1 {
		shift--
	}
	return &rowSlots[A]{slots: make([]atomic.Pointer[Entry[A]], 1<<(64-shift)), shift: shift}
}

// home returns id's first slot. The shard was chosen by the top shardBits
// bits of the same multiplicative hash: the slot comes from the bits below
// them, so that the IDs of one shard spread over its slots.
func (t *rowSlots[A]) home(id ID) uint64 {
	return (uint64(id) * 0x9E3779B97F4A7C15 << shardBits) >> t.shift
}

func (t *rowSlots[A]) next(i uint64) uint64 {
	return (i + 1) & uint64(len(t.slots)-1)
}

// get returns the row for id, or nil. It takes no lock.
func (m *rowMap[A]) get(id ID) *Entry[A] {
	_, e := m.find(m.tab.Load(), id)
	return e
}

// find returns the row for id in t and its slot, or a nil row. An array
// always has an empty slot, which ends a probe for an ID not held.
func (m *rowMap[A]) find(t *rowSlots[A], id ID) (uint64, *Entry[A]) {
	home := t.home(id)
	for i := home; ; {
		e := t.slots[i].Load()
		if e == nil || e.ID == id && e != m.tomb {
			return i, e
		}
		if i = t.next(i); i == home {
			panic(errNoEmptySlot)
		}
	}
}

// errNoEmptySlot is the panic of a probe that went round a whole array: the
// writers keep an array at most 3/4 full, so it means a bug in rowMap, which
// a probe would otherwise repeat for ever.
var errNoEmptySlot = errors.New("connmgr: internal error: a row array has no empty slot")

// put stores e as the row for e.ID, and returns the row it replaced, or nil.
// The caller holds the shard's mu.
func (m *rowMap[A]) put(e *Entry[A]) *Entry[A] {
	t := m.tab.Load()
	free := -1 // the first tombstone on the probe, where a new row goes
	home := t.home(e.ID)
	for i := home; ; {
		old := t.slots[i].Load()
		switch {
		case old == nil:
			if free >= 0 {
				t.slots[free].Store(e)
			} else if (m.used+1)*4 > len(t.slots)*3 { // over 3/4 full: grow, or sweep the tombstones
				m.rehash(m.live + 1)
				m.insertInto(m.tab.Load(), e)
			} else {
				t.slots[i].Store(e)
				m.used++
			}
			m.live++
			return nil
		case old == m.tomb:
			if free < 0 {
				free = int(i)
			}
		case old.ID == e.ID:
			// In place, not in the first tombstone: a reader that has
			// passed that slot would find neither.
			t.slots[i].Store(e)
			return old
		}
		if i = t.next(i); i == home {
			panic(errNoEmptySlot)
		}
	}
}

// remove puts the tombstone in the slot of the row for id, and returns that
// row, or nil. The caller holds the shard's mu.
func (m *rowMap[A]) remove(id ID) *Entry[A] {
	t := m.tab.Load()
	i, e := m.find(t, id)
	if e != nil {
		t.slots[i].Store(m.tomb)
		m.live--
	}
	return e
}

// rehash moves the rows to a new array sized for n rows, at most half full,
// leaving the tombstones behind, and publishes it. The caller holds the
// shard's mu.
func (m *rowMap[A]) rehash(n int) {
	old := m.tab.Load()
	t := newRowSlots[A](max(minSlots, 2*n))
	m.used = 0
	for i := range old.slots {
		if e := old.slots[i].Load(); e != nil && e != m.tomb {
			m.insertInto(t, e)
		}
	}
	m.tab.Store(t) // filled: a reader never sees it part way
}

// insertInto stores e, whose ID t does not hold, in t, which has room.
func (m *rowMap[A]) insertInto(t *rowSlots[A], e *Entry[A]) {
	home := t.home(e.ID)
	i := home
	for t.slots[i].Load() != nil {
		if i = t.next(i); i == home {
			panic(errNoEmptySlot)
		}
	}
	t.slots[i].Store(e)
	m.used++
}

// each calls fn with every row. The caller holds the shard's mu (a read
// lock is enough).
func (m *rowMap[A]) each(fn func(*Entry[A])) {
	t := m.tab.Load()
	for i := range t.slots {
		if e := t.slots[i].Load(); e != nil && e != m.tomb {
			fn(e)
		}
	}
}

package connmgr

import (
	"cmp"
	"hash/maphash"
	"slices"
	"sync"
)

// nameIndex files each row under its name, so that ByName costs O(matches).
// It is sharded by name as the rows are by ID, and holds the same *Entry
// pointers as the row shards: entries are never changed once stored, so
// ByName copies them without taking any row shard's lock.
//
// It is changed only by a goroutine that holds the row shard lock of the ID
// it files, so for any one ID the index and the row agree whenever that lock
// is free.
type nameIndex[A any] struct {
	seed   maphash.Seed
	shards [numShards]nameShard[A]
}

// nameShard holds the names that hash to it.
type nameShard[A any] struct {
	// mu protects sets and everything in them. It is taken after a row
	// shard's mu, or alone, and never together with another name shard's mu.
	mu   sync.RWMutex
	sets map[string]*nameSet[A]
	_    [64]byte // keeps neighbouring shards' locks off one cache line
}

// nameSet holds the rows of one name twice: by ID, to file and remove one
// in O(1), and as a list in ID order, so that ByName is a copy rather than a
// walk of a map and a sort. The list is kept in step with the map while
// that is cheap: a new ID larger than every other (IDs are handed out in
// increasing order, so nearly every new row), a row replaced in place, or a
// row added or removed in the middle of a short list. Any other change drops
// the list, and the next ByName rebuilds it.
type nameSet[A any] struct {
	rows map[ID]*Entry[A]
	// sorted holds the rows in ID order, or is nil once dropped. A set
	// always has a row (it goes with its last), so a list in step is never
	// empty, and nil says "dropped" alone.
	sorted []*Entry[A]
}

// ordered reports whether the list is in step with the map.
func (set *nameSet[A]) ordered() bool { return set.sorted != nil }

// maxShift is the longest list whose middle put and remove shift elements
// to keep it in step (a few hundred nanoseconds at most); past it they drop
// the list instead, so a name with many rows never costs a Pop more than a
// map delete.
const maxShift = 256

func (x *nameIndex[A]) init() {
	x.seed = maphash.MakeSeed()
	for i := range x.shards {
		x.shards[i].sets = make(map[string]*nameSet[A])
	}
}

// shard returns the shard that holds name.
func (x *nameIndex[A]) shard(name string) *nameShard[A] {
	return &x.shards[maphash.String(x.seed, name)&(numShards-1)]
}

// put files e, which replaces old (nil for a new row).
func (x *nameIndex[A]) put(old, e *Entry[A]) {
	if old != nil && old.Name != e.Name {
		x.remove(old)
	}
	s := x.shard(e.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.sets[e.Name]
	if set == nil {
		set = &nameSet[A]{rows: make(map[ID]*Entry[A]), sorted: make([]*Entry[A], 0, 1)}
		s.sets[e.Name] = set
	}
	set.rows[e.ID] = e
	if !set.ordered() {
		return
	}
	i, found := set.search(e.ID)
	switch {
	case found:
		set.sorted[i] = e
	case i == len(set.sorted):
		set.sorted = append(set.sorted, e)
	case len(set.sorted) < maxShift:
		set.sorted = slices.Insert(set.sorted, i, e)
	default:
		set.drop()
	}
}

// remove takes e out of the index, dropping its name when no row is left
// under it.
func (x *nameIndex[A]) remove(e *Entry[A]) {
	s := x.shard(e.Name)
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.sets[e.Name]
	if set == nil {
		return
	}
	delete(set.rows, e.ID)
	if len(set.rows) == 0 {
		delete(s.sets, e.Name)
		return
	}
	if !set.ordered() {
		return
	}
	switch i, found := set.search(e.ID); {
	case !found: // cannot happen while the list is ordered; keep it honest
		set.drop()
	case i == len(set.sorted)-1:
		set.sorted[i] = nil
		set.sorted = set.sorted[:i]
	case len(set.sorted) <= maxShift:
		set.sorted = slices.Delete(set.sorted, i, i+1)
	default:
		set.drop()
	}
}

// search returns where id is, or would be, in the ordered list.
func (set *nameSet[A]) search(id ID) (int, bool) {
	return slices.BinarySearchFunc(set.sorted, id, func(e *Entry[A], id ID) int {
		return cmp.Compare(e.ID, id)
	})
}

// drop lets go of the ordered list until the next ByName rebuilds it.
func (set *nameSet[A]) drop() {
	set.sorted = nil
}

// order rebuilds the ordered list. The caller holds the shard's write lock.
func (set *nameSet[A]) order() {
	set.sorted = make([]*Entry[A], 0, len(set.rows))
	for _, e := range set.rows {
		set.sorted = append(set.sorted, e)
	}
	slices.SortFunc(set.sorted, func(a, b *Entry[A]) int { return cmp.Compare(a.ID, b.ID) })
}

// byName returns copies of the rows filed under name, in ID order.
func (x *nameIndex[A]) byName(name string) []Entry[A] {
	s := x.shard(name)
	s.mu.RLock()
	if set := s.sets[name]; set == nil || set.ordered() {
		out := set.copyOut()
		s.mu.RUnlock()
		return out
	}
	// The list was dropped: rebuild it under the write lock, unless another
	// ByName did in between.
	s.mu.RUnlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.sets[name]
	if set != nil && !set.ordered() {
		set.order()
	}
	return set.copyOut()
}

// copyOut returns copies of the set's rows in ID order. The caller holds
// the shard's lock, at least for reading, and the set is ordered.
func (set *nameSet[A]) copyOut() []Entry[A] {
	if set == nil || len(set.rows) == 0 {
		return nil
	}
	out := make([]Entry[A], 0, len(set.sorted))
	for _, e := range set.sorted {
		out = append(out, *e) // entries are immutable once stored
	}
	return out
}

// counts returns the number of rows under each name.
func (x *nameIndex[A]) counts() map[string]int {
	out := make(map[string]int)
	for i := range x.shards {
		s := &x.shards[i]
		s.mu.RLock()
		for name, set := range s.sets {
			out[name] = len(set.rows)
		}
		s.mu.RUnlock()
	}
	return out
}

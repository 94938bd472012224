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
	// mu protects rows. It is taken after a row shard's mu, or alone, and
	// never together with another name shard's mu.
	mu   sync.RWMutex
	rows map[string]map[ID]*Entry[A]
	_    [64]byte // keeps neighbouring shards' locks off one cache line
}

func (x *nameIndex[A]) init() {
	x.seed = maphash.MakeSeed()
	for i := range x.shards {
		x.shards[i].rows = make(map[string]map[ID]*Entry[A])
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
	set := s.rows[e.Name]
	if set == nil {
		set = make(map[ID]*Entry[A])
		s.rows[e.Name] = set
	}
	set[e.ID] = e
	s.mu.Unlock()
}

// remove takes e out of the index, dropping its name when no row is left
// under it.
func (x *nameIndex[A]) remove(e *Entry[A]) {
	s := x.shard(e.Name)
	s.mu.Lock()
	set := s.rows[e.Name]
	delete(set, e.ID)
	if len(set) == 0 {
		delete(s.rows, e.Name)
	}
	s.mu.Unlock()
}

// byName returns copies of the rows filed under name, sorted by ID.
func (x *nameIndex[A]) byName(name string) []Entry[A] {
	s := x.shard(name)
	s.mu.RLock()
	set := s.rows[name]
	var buf [16]idEntry[A] // sorting IDs, not entries, saves a cache miss per row
	found := buf[:0]
	for id, e := range set {
		found = append(found, idEntry[A]{id, e})
	}
	s.mu.RUnlock()
	if len(found) == 0 {
		return nil
	}
	slices.SortFunc(found, func(a, b idEntry[A]) int { return cmp.Compare(a.id, b.id) })
	out := make([]Entry[A], len(found))
	for i, f := range found {
		out[i] = *f.e // entries are immutable: no lock needed
	}
	return out
}

// idEntry is an entry with its ID at hand.
type idEntry[A any] struct {
	id ID
	e  *Entry[A]
}

// counts returns the number of rows under each name.
func (x *nameIndex[A]) counts() map[string]int {
	out := make(map[string]int)
	for i := range x.shards {
		s := &x.shards[i]
		s.mu.RLock()
		for name, set := range s.rows {
			out[name] = len(set)
		}
		s.mu.RUnlock()
	}
	return out
}

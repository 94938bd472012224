package connmgr

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"
)

// shardBits sets the number of row shards (64): enough that goroutines
// working on different connections rarely meet on a lock, few enough that
// Range and Stats stay cheap.
const (
	shardBits = 6
	numShards = 1 << shardBits
)

// Options configures a Table. The zero value is an unbounded table.
type Options struct {
	// Capacity is the most rows the table holds at once. A Push of a new ID
	// beyond it returns ErrFull and evicts nothing; a Push that replaces a
	// row always succeeds. Zero (the default) means unbounded; a negative
	// value is an error from New.
	Capacity int
}

// Entry is one row: a connection's ID, name, attributes and the time of its
// last Push. An Entry is a copy: changing it changes nothing in the table.
type Entry[A any] struct {
	// ID is the connection's ID.
	ID ID
	// Name says what or who the connection is for: a bot, a user, a room.
	// Many rows may share a name; ByName finds them.
	Name string
	// Attrs holds the typed attributes.
	Attrs A
	// Since is when the row was pushed (a replacing Push resets it).
	Since time.Time
}

// Table holds one row of typed attributes per connection. Its methods are
// safe for concurrent use; see the package doc for what is atomic.
type Table[A any] struct {
	schema   schema
	capacity int64        // 0: unbounded
	rows     atomic.Int64 // rows held; a new row reserves its slot here first
	shards   [numShards]shard[A]
	names    nameIndex[A]
}

// shard holds the rows whose ID hashes to it. A stored *Entry is never
// changed: Update and SetName store a changed copy, so a reader may copy an
// entry it found without a lock, or after letting go of the lock it found it
// under.
type shard[A any] struct {
	// mu serializes the changes to rows, and protects counts. Get reads
	// rows without it. Lock order: a row shard's mu, then at most one name
	// shard's mu at a time (see nameShard). Never two row shards.
	mu     sync.RWMutex
	rows   rowMap[A]
	counts counters
	_      [64]byte // keeps neighbouring shards' locks off one cache line
}

// New returns an empty table whose schema is the exported fields of A. It
// returns an error, naming the field, when A is not a struct, when a field
// has a type a row cannot hold or a bad connmgr tag, or when opts is
// invalid. See the package doc for the types and tags.
func New[A any](opts Options) (*Table[A], error) {
	s, err := newSchema(reflect.TypeFor[A]())
	if err != nil {
		return nil, err
	}
	if opts.Capacity < 0 {
		return nil, fmt.Errorf("connmgr: Options.Capacity is %d: use 0 for unbounded or a positive limit", opts.Capacity)
	}
	t := &Table[A]{schema: s, capacity: int64(opts.Capacity)}
	for i := range t.shards {
		t.shards[i].rows.init()
	}
	t.names.init()
	return t, nil
}

// shard returns the shard that holds id. IDs are sequential, so a
// multiplicative hash spreads neighbours over every shard.
func (t *Table[A]) shard(id ID) *shard[A] {
	return &t.shards[(uint64(id)*0x9E3779B97F4A7C15)>>(64-shardBits)]
}

// Push stores the row for id: a connection opened. A row already held for
// id is replaced, because the open event is authoritative (Stats.Replaced
// counts these). Capped strings in attrs are truncated first. Push returns
// ErrFull, and stores nothing, when id is new and the table holds
// Options.Capacity rows. It allocates the row: about 100 bytes plus A.
func (t *Table[A]) Push(id ID, name string, attrs A) error {
	e := &Entry[A]{ID: id, Name: name, Attrs: attrs, Since: time.Now()}
	cut := t.schema.capStrings(&e.Attrs)
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.rows.get(id)
	if old == nil && !t.reserve() {
		s.counts.fullRejects++
		return ErrFull
	}
	s.rows.put(e)
	t.names.put(old, e)
	s.counts.pushed(old != nil, cut)
	return nil
}

// reserve takes a slot for a new row, and reports false when the table is
// full. Reserving before inserting keeps Capacity exact under concurrency.
func (t *Table[A]) reserve() bool {
	if t.capacity == 0 {
		t.rows.Add(1)
		return true
	}
	for {
		n := t.rows.Load()
		if n >= t.capacity {
			return false
		}
		if t.rows.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// Pop removes the row for id, a connection closed, and returns it. It
// reports false, and changes nothing, when there is no row for id.
func (t *Table[A]) Pop(id ID) (Entry[A], bool) {
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.rows.remove(id)
	if e == nil {
		return Entry[A]{}, false
	}
	t.rows.Add(-1)
	t.names.remove(e)
	s.counts.pops++
	return *e, true
}

// Get returns a copy of the row for id, and reports whether there is one.
// It takes no lock: it costs a hash lookup and the copy.
func (t *Table[A]) Get(id ID) (Entry[A], bool) {
	e := t.shard(id).rows.get(id)
	if e == nil {
		return Entry[A]{}, false
	}
	return *e, true
}

// SetName renames the row for id and moves it in the name index. It
// returns ErrNotFound, and creates nothing, when there is no row for id.
func (t *Table[A]) SetName(id ID, name string) error {
	return t.change(id, func(e *Entry[A]) int {
		e.Name = name
		return 0
	})
}

// Update calls fn with a copy of the attributes of the row for id and
// stores the result, capped strings truncated, as one atomic change of that
// row. It returns ErrNotFound, and creates nothing, when there is no row
// for id. fn runs with the row's shard locked: it must be quick, must not
// call the table, and must not keep the pointer it is given, which is the
// new row's own. If fn panics, the row is unchanged. Update panics if
// fn is nil. It allocates the changed row, as Push does.
func (t *Table[A]) Update(id ID, fn func(*A)) error {
	if fn == nil {
		panic("connmgr: Update called with a nil func")
	}
	return t.change(id, func(e *Entry[A]) int {
		fn(&e.Attrs)
		return t.schema.capStrings(&e.Attrs)
	})
}

// change stores a copy of the row for id changed by fn, which returns the
// number of strings it truncated, or returns ErrNotFound.
func (t *Table[A]) change(id ID, fn func(*Entry[A]) int) error {
	s := t.shard(id)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.rows.get(id)
	if old == nil {
		return ErrNotFound
	}
	e := new(Entry[A])
	*e = *old
	cut := fn(e)
	s.rows.put(e)
	t.names.put(old, e)
	s.counts.updates++
	s.counts.truncations += int64(cut)
	return nil
}

// ByName returns copies of the rows named name, in ID order (the order
// IDs were handed out). It costs O(matches), not O(rows): the rows come
// from an index, copied under one read lock, so the result is a snapshot
// of that name's rows.
func (t *Table[A]) ByName(name string) []Entry[A] {
	return t.names.byName(name)
}

// Range calls fn with a copy of each row until fn returns false. It copies
// one shard's rows at a time and calls fn with no lock held, so fn may call
// the table. Each row is visited at most once, but a Range is not a
// snapshot: rows pushed or popped meanwhile may or may not be visited.
func (t *Table[A]) Range(fn func(Entry[A]) bool) {
	var buf []Entry[A]
	for i := range t.shards {
		buf = t.shards[i].appendRows(buf[:0])
		for _, e := range buf {
			if !fn(e) {
				return
			}
		}
	}
}

// appendRows appends copies of the shard's rows to buf.
func (s *shard[A]) appendRows(buf []Entry[A]) []Entry[A] {
	s.mu.RLock()
	defer s.mu.RUnlock()
	s.rows.each(func(e *Entry[A]) { buf = append(buf, *e) })
	return buf
}

// Len returns the number of rows.
func (t *Table[A]) Len() int {
	return int(t.rows.Load())
}

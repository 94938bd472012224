package bench

import (
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connkit/connkit/connmgr"
)

// cmRows is the table size of every connmgr benchmark, and cmPerName the
// rows that share a name (so ByName returns cmPerName of cmRows rows).
const (
	cmRows    = 100_000
	cmPerName = 10
)

// cmAttrs is a realistic attribute struct: a capped string, a number, a
// flag and a time.
type cmAttrs struct {
	User   string `connmgr:"size=32"`
	Room   int64
	Admin  bool
	Joined time.Time
}

type cmEntry = connmgr.Entry[cmAttrs]

// cmStore is the interface each implementation is benchmarked through:
// connmgr's Table, a map guarded by a sync.RWMutex, and a sync.Map, all
// holding the same Entry struct.
type cmStore interface {
	Push(id connmgr.ID, name string, a cmAttrs) error
	Pop(id connmgr.ID) (cmEntry, bool)
	Get(id connmgr.ID) (cmEntry, bool)
	Update(id connmgr.ID, fn func(*cmAttrs)) error
}

var cmImpls = []struct {
	name string
	new  func() cmStore
}{
	{"connmgr", func() cmStore {
		t, err := connmgr.New[cmAttrs](connmgr.Options{})
		if err != nil {
			panic(err)
		}
		return t
	}},
	{"map-rwmutex", func() cmStore { return &rwStore{m: make(map[connmgr.ID]cmEntry)} }},
	{"sync-map", func() cmStore { return &syncStore{} }},
}

// rwStore is the map+RWMutex a Go programmer writes first.
type rwStore struct {
	mu sync.RWMutex // protects m
	m  map[connmgr.ID]cmEntry
}

func (s *rwStore) Push(id connmgr.ID, name string, a cmAttrs) error {
	e := cmEntry{ID: id, Name: name, Attrs: a, Since: time.Now()}
	s.mu.Lock()
	s.m[id] = e
	s.mu.Unlock()
	return nil
}

func (s *rwStore) Pop(id connmgr.ID) (cmEntry, bool) {
	s.mu.Lock()
	e, ok := s.m[id]
	delete(s.m, id)
	s.mu.Unlock()
	return e, ok
}

func (s *rwStore) Get(id connmgr.ID) (cmEntry, bool) {
	s.mu.RLock()
	e, ok := s.m[id]
	s.mu.RUnlock()
	return e, ok
}

func (s *rwStore) Update(id connmgr.ID, fn func(*cmAttrs)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.m[id]
	if !ok {
		return connmgr.ErrNotFound
	}
	fn(&e.Attrs)
	s.m[id] = e
	return nil
}

// byNameScan is getAllByName as zhamao/connection-manager does it: a scan
// of every row.
func (s *rwStore) byNameScan(name string) []cmEntry {
	var out []cmEntry
	s.mu.RLock()
	for _, e := range s.m {
		if e.Name == name {
			out = append(out, e)
		}
	}
	s.mu.RUnlock()
	return out
}

// syncStore is a sync.Map of Entry values. Its Update is a Load and a
// Store: not atomic, unlike the others.
type syncStore struct{ m sync.Map }

func (s *syncStore) Push(id connmgr.ID, name string, a cmAttrs) error {
	s.m.Store(id, cmEntry{ID: id, Name: name, Attrs: a, Since: time.Now()})
	return nil
}

func (s *syncStore) Pop(id connmgr.ID) (cmEntry, bool) {
	v, ok := s.m.LoadAndDelete(id)
	if !ok {
		return cmEntry{}, false
	}
	return v.(cmEntry), true
}

func (s *syncStore) Get(id connmgr.ID) (cmEntry, bool) {
	v, ok := s.m.Load(id)
	if !ok {
		return cmEntry{}, false
	}
	return v.(cmEntry), true
}

func (s *syncStore) Update(id connmgr.ID, fn func(*cmAttrs)) error {
	v, ok := s.m.Load(id)
	if !ok {
		return connmgr.ErrNotFound
	}
	e := v.(cmEntry)
	fn(&e.Attrs)
	s.m.Store(id, e)
	return nil
}

// cmNames are the names rows are pushed under, shared by every
// implementation so that name strings do not count in bytes per row.
var cmNames = func() []string {
	names := make([]string, cmRows/cmPerName)
	for i := range names {
		names[i] = fmt.Sprintf("user-%d", i)
	}
	return names
}()

// cmFill pushes cmRows rows into s and returns their IDs and the heap bytes
// s grew by per row.
func cmFill(b *testing.B, s cmStore) ([]connmgr.ID, float64) {
	b.Helper()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	ids := make([]connmgr.ID, cmRows)
	joined := time.Now()
	for i := range ids {
		ids[i] = connmgr.NextID()
		a := cmAttrs{User: cmNames[i%len(cmNames)], Room: int64(i), Joined: joined}
		if err := s.Push(ids[i], cmNames[i%len(cmNames)], a); err != nil {
			b.Fatal(err)
		}
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	idBytes := float64(cmRows * 8) // the ids slice is ours, not s's
	return ids, (float64(after.HeapAlloc-before.HeapAlloc) - idBytes) / cmRows
}

// cmParallel runs body from b.RunParallel goroutines, each walking ids in a
// stride so that reads spread over the whole table.
func cmParallel(b *testing.B, ids []connmgr.ID, body func(id connmgr.ID)) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	var starts atomic.Int64
	b.RunParallel(func(pb *testing.PB) {
		w := newCMWalk(&starts)
		for pb.Next() {
			body(ids[w.next()])
		}
	})
}

// cmWalk walks the indexes of cmRows rows in a stride, so that reads spread
// over the whole table, each goroutine from a start of its own.
type cmWalk struct{ i int }

// newCMWalk returns the walk of the next goroutine counted in starts.
func newCMWalk(starts *atomic.Int64) *cmWalk {
	return &cmWalk{i: int(starts.Add(1)) * 7919 % cmRows}
}

// next returns the walk's index and moves it on.
func (w *cmWalk) next() int {
	i := w.i
	if w.i += 104729; w.i >= cmRows {
		w.i %= cmRows
	}
	return i
}

// BenchmarkConnmgrGet reads a row by ID from a table of 100k rows, from
// parallel goroutines, and reports the heap bytes each row costs. Compare
// with: benchstat -col /Impl
func BenchmarkConnmgrGet(b *testing.B) {
	for _, impl := range cmImpls {
		b.Run("Rows=100k/Impl="+impl.name, func(b *testing.B) {
			s := impl.new()
			ids, perRow := cmFill(b, s)
			cmParallel(b, ids, func(id connmgr.ID) {
				if _, ok := s.Get(id); !ok {
					b.Error("row missing")
				}
			})
			b.ReportMetric(perRow, "B/row")
		})
	}
}

// BenchmarkConnmgrGetPaired times connmgr's Get against map+RWMutex's in
// the same moments: both tables of 100k rows are in memory at once, and
// each b.RunParallel goroutine reads from one, then the other, in turns of
// 64 Gets, each turn timed on its own. Separate runs of the two drift apart
// on a virtual machine (single runs of either ranged over 2x within one
// report); paired, both see the same drift. Metrics: connmgr-ns/get and
// map-rwmutex-ns/get are each one's mean Get per goroutine, and
// connmgr/map-rwmutex their ratio in the run.
func BenchmarkConnmgrGetPaired(b *testing.B) {
	table, peer := cmImpls[0].new(), cmImpls[1].new()
	tableIDs, _ := cmFill(b, table)
	peerIDs, _ := cmFill(b, peer)
	b.Run("Rows=100k", func(b *testing.B) {
		const turn = 64 // Gets between two clock reads
		var ours, theirs, ourGets, theirGets atomic.Int64
		b.ReportAllocs()
		b.ResetTimer()
		var starts atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			w := newCMWalk(&starts)
			var (
				mine, peers time.Duration
				myN, peerN  int64
				connmgrTurn = starts.Load()%2 == 0 // goroutines start on different sides
				n           = 0
				start       = time.Now()
			)
			for pb.Next() {
				var ok bool
				if i := w.next(); connmgrTurn {
					_, ok = table.Get(tableIDs[i])
				} else {
					_, ok = peer.Get(peerIDs[i])
				}
				if !ok {
					b.Error("row missing")
					return
				}
				if n++; n == turn {
					if d := time.Since(start); connmgrTurn {
						mine, myN = mine+d, myN+int64(n)
					} else {
						peers, peerN = peers+d, peerN+int64(n)
					}
					connmgrTurn, n, start = !connmgrTurn, 0, time.Now()
				}
			}
			ours.Add(int64(mine))
			ourGets.Add(myN)
			theirs.Add(int64(peers))
			theirGets.Add(peerN)
		})
		if ourGets.Load() == 0 || theirGets.Load() == 0 {
			return // b.N too small for a whole turn of each
		}
		perGet := func(d, n *atomic.Int64) float64 { return float64(d.Load()) / float64(n.Load()) }
		b.ReportMetric(perGet(&ours, &ourGets), "connmgr-ns/get")
		b.ReportMetric(perGet(&theirs, &theirGets), "map-rwmutex-ns/get")
		b.ReportMetric(perGet(&ours, &ourGets)/perGet(&theirs, &theirGets), "connmgr/map-rwmutex")
	})
}

// BenchmarkConnmgrUpdate changes one field of a row, from parallel
// goroutines.
func BenchmarkConnmgrUpdate(b *testing.B) {
	for _, impl := range cmImpls {
		b.Run("Rows=100k/Impl="+impl.name, func(b *testing.B) {
			s := impl.new()
			ids, _ := cmFill(b, s)
			cmParallel(b, ids, func(id connmgr.ID) {
				if err := s.Update(id, func(a *cmAttrs) { a.Room++ }); err != nil {
					b.Error(err)
				}
			})
		})
	}
}

// BenchmarkConnmgrChurn opens and closes a connection (Push then Pop of a
// new ID) in a table that holds 100k rows, from parallel goroutines.
// connmgr also keeps its name index current; the others have none.
func BenchmarkConnmgrChurn(b *testing.B) {
	for _, impl := range cmImpls {
		b.Run("Rows=100k/Impl="+impl.name, func(b *testing.B) {
			s := impl.new()
			ids, _ := cmFill(b, s)
			a := cmAttrs{User: "churn", Joined: time.Now()}
			cmParallel(b, ids, func(connmgr.ID) {
				id := connmgr.NextID()
				if err := s.Push(id, cmNames[uint64(id)%uint64(len(cmNames))], a); err != nil {
					b.Error(err)
				}
				s.Pop(id)
			})
		})
	}
}

// BenchmarkConnmgrByName finds the 10 rows of one name among 100k: through
// connmgr's index; by a scan of a map+RWMutex (zhamao's getAllByName, and
// the fastest scan there is); and by a scan with connmgr's own Range.
func BenchmarkConnmgrByName(b *testing.B) {
	b.Run("Rows=100k/Match=10/Impl=connmgr", func(b *testing.B) {
		t, _ := connmgr.New[cmAttrs](connmgr.Options{})
		cmFill(b, t)
		cmByName(b, t.ByName)
	})
	b.Run("Rows=100k/Match=10/Impl=scan", func(b *testing.B) {
		s := &rwStore{m: make(map[connmgr.ID]cmEntry)}
		cmFill(b, s)
		cmByName(b, s.byNameScan)
	})
	b.Run("Rows=100k/Match=10/Impl=scan-range", func(b *testing.B) {
		t, _ := connmgr.New[cmAttrs](connmgr.Options{})
		cmFill(b, t)
		cmByName(b, func(name string) (out []cmEntry) {
			t.Range(func(e cmEntry) bool {
				if e.Name == name {
					out = append(out, e)
				}
				return true
			})
			return out
		})
	})
}

func cmByName(b *testing.B, byName func(string) []cmEntry) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if got := byName(cmNames[i%len(cmNames)]); len(got) != cmPerName {
			b.Fatalf("ByName returned %d rows, want %d", len(got), cmPerName)
		}
	}
}

package connmgr

import (
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
)

func TestCapacity(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{Capacity: 2})
	a, b, c := NextID(), NextID(), NextID()
	mustPush(t, tb, a, "x")
	mustPush(t, tb, b, "x")
	if err := tb.Push(c, "x", attrs{}); !errors.Is(err, ErrFull) {
		t.Fatalf("third Push: err = %v, want ErrFull", err)
	}
	if _, ok := tb.Get(c); ok {
		t.Fatal("a rejected Push stored a row")
	}
	if _, ok := tb.Get(a); !ok {
		t.Fatal("a rejected Push evicted a row")
	}
	mustPush(t, tb, a, "y") // replacing needs no room
	tb.Pop(b)
	mustPush(t, tb, c, "x") // a Pop makes room
	st := tb.Stats()
	if st.Rows != 2 || st.Capacity != 2 || st.FullRejects != 1 || st.Pushes != 4 || st.Replaced != 1 || st.Pops != 1 {
		t.Fatalf("Stats = %+v", st)
	}
}

// Capacity is exact when many goroutines push at once.
func TestCapacityConcurrent(t *testing.T) {
	t.Parallel()
	const capacity, goroutines, each = 100, 8, 50
	tb := newTable(t, Options{Capacity: capacity})
	var ok, full atomic.Int64
	var wg sync.WaitGroup
	for range goroutines {
		wg.Go(func() {
			for range each {
				switch err := tb.Push(NextID(), "n", attrs{}); {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, ErrFull):
					full.Add(1)
				default:
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if ok.Load() != capacity || full.Load() != goroutines*each-capacity || tb.Len() != capacity {
		t.Fatalf("stored %d, rejected %d, Len %d; want %d stored", ok.Load(), full.Load(), tb.Len(), capacity)
	}
	if n := countRange(tb); n != capacity {
		t.Fatalf("Range saw %d rows, want %d", n, capacity)
	}
}

// A Push on an existing ID replaces the row, its name included.
func TestPushReplaces(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{})
	id := NextID()
	mustPush(t, tb, id, "old")
	first, _ := tb.Get(id)
	if err := tb.Push(id, "new", attrs{Room: 7}); err != nil {
		t.Fatal(err)
	}
	e, _ := tb.Get(id)
	if e.Name != "new" || e.Attrs.Room != 7 || e.Since.Before(first.Since) {
		t.Fatalf("after replace, Get = %+v", e)
	}
	if got := tb.ByName("old"); len(got) != 0 {
		t.Fatalf(`ByName("old") = %v after replace`, got)
	}
	if got := tb.ByName("new"); len(got) != 1 || tb.Len() != 1 {
		t.Fatalf(`ByName("new") = %v, Len %d`, got, tb.Len())
	}
}

// SetName and Update on a missing ID fail and create nothing.
func TestNotFound(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{})
	id := NextID()
	if err := tb.SetName(id, "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("SetName: err = %v, want ErrNotFound", err)
	}
	called := false
	if err := tb.Update(id, func(*attrs) { called = true }); !errors.Is(err, ErrNotFound) || called {
		t.Fatalf("Update: err = %v, called %v; want ErrNotFound, not called", err, called)
	}
	if _, ok := tb.Pop(id); ok {
		t.Fatal("Pop of a missing ID reported a row")
	}
	if tb.Len() != 0 || len(tb.ByName("x")) != 0 || len(tb.Stats().Names) != 0 {
		t.Fatal("a failed call created a row")
	}
}

// Get returns a copy; Pop returns the row and removes it everywhere.
func TestGetCopyAndPop(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{})
	id := NextID()
	if err := tb.Push(id, "n", attrs{User: "u", Room: 1}); err != nil {
		t.Fatal(err)
	}
	e, _ := tb.Get(id)
	e.Attrs.Room, e.Name = 99, "changed"
	if again, _ := tb.Get(id); again.Attrs.Room != 1 || again.Name != "n" {
		t.Fatalf("changing a Get result changed the table: %+v", again)
	}
	p, ok := tb.Pop(id)
	if !ok || p.Attrs.User != "u" || p.ID != id {
		t.Fatalf("Pop = %+v, %v", p, ok)
	}
	if _, ok := tb.Get(id); ok || tb.Len() != 0 || len(tb.ByName("n")) != 0 {
		t.Fatal("row still visible after Pop")
	}
}

func TestSetNameUpdateByName(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{})
	ids := []ID{NextID(), NextID(), NextID()}
	for _, id := range ids {
		mustPush(t, tb, id, "lobby")
	}
	if err := tb.SetName(ids[1], "room"); err != nil {
		t.Fatal(err)
	}
	if err := tb.Update(ids[0], func(a *attrs) { a.Admin = true }); err != nil {
		t.Fatal(err)
	}
	lobby := tb.ByName("lobby")
	if got := entryIDs(lobby); !slices.Equal(got, []ID{ids[0], ids[2]}) {
		t.Fatalf(`ByName("lobby") IDs = %v, want %v`, got, []ID{ids[0], ids[2]})
	}
	if !lobby[0].Attrs.Admin {
		t.Fatal("ByName does not show the Update")
	}
	if got := entryIDs(tb.ByName("room")); !slices.Equal(got, []ID{ids[1]}) {
		t.Fatalf(`ByName("room") = %v`, got)
	}
	want := map[string]int{"lobby": 2, "room": 1}
	if st := tb.Stats(); !maps.Equal(st.Names, want) || st.Updates != 2 {
		t.Fatalf("Stats = %+v, want Names %v and 2 updates", st, want)
	}
}

// A panicking Update leaves the row unchanged and the table usable; a nil
// func is a caller mistake.
func TestUpdatePanics(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{})
	id := NextID()
	mustPush(t, tb, id, "n")
	func() {
		defer func() { _ = recover() }()
		_ = tb.Update(id, func(a *attrs) { a.Room = 5; panic("boom") })
	}()
	if e, _ := tb.Get(id); e.Attrs.Room != 0 {
		t.Fatalf("a panicking Update changed the row: %+v", e)
	}
	defer func() {
		if r := recover(); r != "connmgr: Update called with a nil func" {
			t.Fatalf("recover() = %v", r)
		}
	}()
	_ = tb.Update(id, nil)
}

// Range visits every row once and may call the table from its func.
func TestRange(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{})
	want := map[ID]bool{}
	for range 500 {
		id := NextID()
		mustPush(t, tb, id, "n")
		want[id] = true
	}
	seen := map[ID]bool{}
	tb.Range(func(e Entry[attrs]) bool {
		if seen[e.ID] {
			t.Fatalf("Range visited %d twice", e.ID)
		}
		seen[e.ID] = true
		tb.Pop(e.ID) // would deadlock if Range held a lock
		return true
	})
	if !maps.Equal(seen, want) || tb.Len() != 0 {
		t.Fatalf("Range saw %d of %d rows; %d left", len(seen), len(want), tb.Len())
	}
	mustPush(t, tb, NextID(), "a")
	mustPush(t, tb, NextID(), "b")
	calls := 0
	tb.Range(func(Entry[attrs]) bool { calls++; return false })
	if calls != 1 {
		t.Fatalf("Range went on after false: %d calls", calls)
	}
}

func TestNextID(t *testing.T) {
	t.Parallel()
	a, b := NextID(), NextID()
	if a == 0 || b <= a {
		t.Fatalf("NextID gave %d then %d", a, b)
	}
}

// TestModel runs random Push, SetName, Update, Pop, Get and ByName calls
// from parallel goroutines and checks each against a reference model. Each
// goroutine owns its IDs, so its model is exact for them, while all share
// the names, so the index shards see contention. Run with -race.
func TestModel(t *testing.T) {
	t.Parallel()
	const goroutines, idsEach, ops = 8, 16, 3000
	tb := newTable(t, Options{})
	names := []string{"a", "b", "c", "d"}
	models := make([]map[ID]Entry[attrs], goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		ids := make([]ID, idsEach)
		for i := range ids {
			ids[i] = NextID()
		}
		models[g] = map[ID]Entry[attrs]{}
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for range ops {
				if err := modelStep(tb, models[g], r, ids[r.IntN(idsEach)], names[r.IntN(len(names))]); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	all := map[ID]Entry[attrs]{}
	for _, m := range models {
		maps.Copy(all, m)
	}
	checkAgainst(t, tb, all, names)
}

// modelStep applies one random operation on id to tb and to model, and
// checks that tb agrees with model about id afterwards.
func modelStep(tb *Table[attrs], model map[ID]Entry[attrs], r *rand.Rand, id ID, name string) error {
	want, held := model[id]
	switch r.IntN(5) {
	case 0, 1:
		a := attrs{Room: r.IntN(1000)}
		if err := tb.Push(id, name, a); err != nil {
			return err
		}
		want, held = Entry[attrs]{ID: id, Name: name, Attrs: a}, true
	case 2:
		err := tb.SetName(id, name)
		if held != (err == nil) {
			return fmt.Errorf("SetName(%d): err = %v, row held %v", id, err, held)
		}
		want.Name = name
	case 3:
		err := tb.Update(id, func(a *attrs) { a.Room++ })
		if held != (err == nil) {
			return fmt.Errorf("Update(%d): err = %v, row held %v", id, err, held)
		}
		want.Attrs.Room++
	case 4:
		if _, ok := tb.Pop(id); ok != held {
			return fmt.Errorf("Pop(%d) = %v, row held %v", id, ok, held)
		}
		held = false
	}
	if held {
		model[id] = want
	} else {
		delete(model, id)
	}
	return checkID(tb, id, want, held)
}

// checkID checks that Get and ByName agree with the model about id.
func checkID(tb *Table[attrs], id ID, want Entry[attrs], held bool) error {
	got, ok := tb.Get(id)
	if ok != held || ok && (got.Name != want.Name || got.Attrs != want.Attrs) {
		return fmt.Errorf("Get(%d) = %+v, %v; want %+v, %v", id, got, ok, want, held)
	}
	if !held {
		return nil
	}
	if !slices.Contains(entryIDs(tb.ByName(want.Name)), id) {
		return fmt.Errorf("ByName(%q) misses %d", want.Name, id)
	}
	return nil
}

// checkAgainst checks the whole table against model, with nothing running.
func checkAgainst(t *testing.T, tb *Table[attrs], model map[ID]Entry[attrs], names []string) {
	t.Helper()
	if tb.Len() != len(model) || countRange(tb) != len(model) {
		t.Fatalf("Len %d, Range %d rows; model has %d", tb.Len(), countRange(tb), len(model))
	}
	counts := map[string]int{}
	for _, name := range names {
		var want []ID
		for id, e := range model {
			if e.Name == name {
				want = append(want, id)
			}
		}
		slices.Sort(want)
		if got := entryIDs(tb.ByName(name)); !slices.Equal(got, want) {
			t.Fatalf("ByName(%q) = %v, want %v", name, got, want)
		}
		if len(want) > 0 {
			counts[name] = len(want)
		}
	}
	if st := tb.Stats(); !maps.Equal(st.Names, counts) {
		t.Fatalf("Stats.Names = %v, want %v", st.Names, counts)
	}
}

func mustPush(t *testing.T, tb *Table[attrs], id ID, name string) {
	t.Helper()
	if err := tb.Push(id, name, attrs{}); err != nil {
		t.Fatalf("Push(%d, %q): %v", id, name, err)
	}
}

func entryIDs(es []Entry[attrs]) []ID {
	ids := make([]ID, len(es))
	for i, e := range es {
		ids[i] = e.ID
	}
	return ids
}

func countRange(tb *Table[attrs]) int {
	n := 0
	tb.Range(func(Entry[attrs]) bool { n++; return true })
	return n
}

// TestSameIDs has goroutines race on the same few IDs, at capacity, with
// every call: the index and the rows must agree at the end, Len must never
// exceed the capacity, and Stats must add up. Run with -race.
func TestSameIDs(t *testing.T) {
	t.Parallel()
	const capacity = 5
	tb := newTable(t, Options{Capacity: capacity})
	ids := make([]ID, 8)
	for i := range ids {
		ids[i] = NextID()
	}
	names := []string{"a", "b", "c"}
	var over atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for range 5000 {
				id, name := ids[r.IntN(len(ids))], names[r.IntN(len(names))]
				switch r.IntN(5) {
				case 0:
					if err := tb.Push(id, name, attrs{}); err != nil && !errors.Is(err, ErrFull) {
						t.Error(err)
					}
				case 1:
					_ = tb.SetName(id, name)
				case 2:
					tb.Pop(id)
				case 3:
					_ = tb.Update(id, func(a *attrs) { a.Room++ })
				case 4:
					for _, e := range tb.ByName(name) {
						if e.Name != name {
							t.Errorf("ByName(%q) returned a row named %q", name, e.Name)
						}
					}
				}
				if n := tb.Len(); n > capacity {
					over.Store(int64(n))
				}
			}
		})
	}
	wg.Wait()
	if n := over.Load(); n != 0 {
		t.Errorf("Len reached %d, capacity %d", n, capacity)
	}
	rows := map[ID]string{}
	tb.Range(func(e Entry[attrs]) bool { rows[e.ID] = e.Name; return true })
	indexed := 0
	for _, name := range names {
		for _, e := range tb.ByName(name) {
			indexed++
			if rows[e.ID] != name {
				t.Errorf("the index has %d under %q, its row says %q", e.ID, name, rows[e.ID])
			}
		}
	}
	if indexed != len(rows) || len(rows) != tb.Len() {
		t.Errorf("index holds %d rows, Range %d, Len %d", indexed, len(rows), tb.Len())
	}
	st := tb.Stats()
	if st.Pushes-st.Replaced-st.Pops != int64(st.Rows) {
		t.Errorf("Stats do not add up: pushes %d - replaced %d - pops %d != rows %d", st.Pushes, st.Replaced, st.Pops, st.Rows)
	}
	sum := 0
	for _, n := range st.Names {
		sum += n
	}
	if sum != st.Rows {
		t.Errorf("Stats.Names sums to %d, Rows is %d", sum, st.Rows)
	}
}

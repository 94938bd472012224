package connmgr

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// collidingIDs returns n IDs whose home slots in an array of 1024 are all
// among its first four, and so are in any smaller array: probes are long,
// pass runs of tombstones and wrap around the end of the array.
func collidingIDs(n int) []ID {
	t := newRowSlots[attrs](1024)
	var ids []ID
	for x := ID(0); len(ids) < n; x++ {
		if t.home(x) < 4 {
			ids = append(ids, x)
		}
	}
	return ids
}

// checkSlots fails t unless m's counts agree with its array: used is the
// number of slots not empty, at most 3/4 of them, and live the rows.
func checkSlots(t *testing.T, m *rowMap[attrs], what string) {
	t.Helper()
	used, live := 0, 0
	slots := m.tab.Load().slots
	for i := range slots {
		if e := slots[i].Load(); e != nil {
			used++
			if e != m.tomb {
				live++
			}
		}
	}
	if used != m.used || live != m.live || used*4 > len(slots)*3 {
		t.Fatalf("%s: %d slots, %d not empty, %d rows; the map counts used %d, live %d", what, len(slots), used, live, m.used, m.live)
	}
}

// TestRowMapAgainstMap runs random puts, removes and gets on one rowMap and
// on a Go map, and wants the same answers: on consecutive IDs, as NextID
// gives, and on IDs that all want the same few slots. Then it removes
// nearly every row and churns: the array must shrink back.
func TestRowMapAgainstMap(t *testing.T) {
	t.Parallel()
	consecutive := make([]ID, 300)
	for i := range consecutive {
		consecutive[i] = ID(i + 1)
	}
	for _, set := range []struct {
		name string
		ids  []ID
	}{{"consecutive", consecutive}, {"colliding", collidingIDs(300)}} {
		var m rowMap[attrs]
		m.init()
		want := map[ID]*Entry[attrs]{}
		rng := rand.New(rand.NewPCG(1, 2))
		for step := range 200_000 {
			id := set.ids[rng.IntN(len(set.ids))]
			switch rng.IntN(3) {
			case 0:
				e := &Entry[attrs]{ID: id, Attrs: attrs{Room: step}}
				if got := m.put(e); got != want[id] {
					t.Fatalf("%s, step %d: put(%d) replaced %p, want %p", set.name, step, id, got, want[id])
				}
				want[id] = e
			case 1:
				if got := m.remove(id); got != want[id] {
					t.Fatalf("%s, step %d: remove(%d) = %p, want %p", set.name, step, id, got, want[id])
				}
				delete(want, id)
			default:
				if got := m.get(id); got != want[id] {
					t.Fatalf("%s, step %d: get(%d) = %p, want %p", set.name, step, id, got, want[id])
				}
			}
			if step%997 == 0 {
				checkSlots(t, &m, fmt.Sprintf("%s, step %d", set.name, step))
			}
		}
		checkSlots(t, &m, set.name)
		seen := map[ID]bool{}
		m.each(func(e *Entry[attrs]) {
			if want[e.ID] != e || seen[e.ID] {
				t.Errorf("%s: each gave %d (%p) unexpectedly", set.name, e.ID, e)
			}
			seen[e.ID] = true
		})
		if len(seen) != len(want) {
			t.Errorf("%s: each gave %d rows, want %d", set.name, len(seen), len(want))
		}

		for id := range want {
			m.remove(id)
		}
		for i := range 1000 { // two rows at a time, each a new ID
			m.put(&Entry[attrs]{ID: ID(1<<40 + i)})
			if i >= 2 {
				m.remove(ID(1<<40 + i - 2))
			}
		}
		checkSlots(t, &m, set.name+", after the churn")
		if n := len(m.tab.Load().slots); n != minSlots {
			t.Errorf("%s: %d slots for %d rows after the churn; want the array back to %d", set.name, n, m.live, minSlots)
		}
	}
}

// TestGetNeverMissesAHeldRow reads rows that stay in the table throughout,
// with no lock, while writers update them and push and pop other rows
// around them, through many rehashes: every Get must find its row, whole.
func TestGetNeverMissesAHeldRow(t *testing.T) {
	t.Parallel()
	tb := newTable(t, Options{})
	held := make([]ID, 64)
	for i := range held {
		held[i] = NextID()
		mustPush(t, tb, held[i], "held")
	}
	var (
		stop    atomic.Bool
		churned atomic.Int64 // the writers' rounds
		wg      sync.WaitGroup
		misses  atomic.Int64
		reads   atomic.Int64
	)
	for w := range 2 { // churn: new rows pushed and popped, the held ones updated
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 2))
			var mine []ID
			for !stop.Load() {
				if len(mine) < 2000 && rng.IntN(2) == 0 {
					id := NextID()
					if err := tb.Push(id, "churn", attrs{}); err != nil {
						t.Errorf("Push = %v", err)
						return
					}
					mine = append(mine, id)
				} else if len(mine) > 0 {
					k := rng.IntN(len(mine))
					tb.Pop(mine[k])
					mine[k] = mine[len(mine)-1]
					mine = mine[:len(mine)-1]
				}
				id := held[rng.IntN(len(held))]
				if err := tb.Update(id, func(a *attrs) { a.Room++ }); err != nil {
					t.Errorf("Update(%d) = %v", id, err)
				}
				churned.Add(1)
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for n := 0; !stop.Load(); n++ {
				id := held[n%len(held)]
				e, ok := tb.Get(id)
				if !ok || e.ID != id || e.Name != "held" {
					misses.Add(1)
				}
				reads.Add(1)
				if n >= 100_000 && churned.Load() >= 20_000 { // the writers may start late
					stop.Store(true)
				}
			}
		})
	}
	wg.Wait()
	if n := misses.Load(); n > 0 {
		t.Fatalf("%d of %d Gets of rows held throughout missed them or got another row", n, reads.Load())
	}
	if st := tb.Stats(); st.Rows < len(held) || st.Pushes < 1000 {
		t.Fatalf("Stats = %+v: the churn did not happen", st)
	}
}

// TestProbeOfAFullArrayPanics fills an array past what the writers allow
// (every slot a row) and wants each probe to stop with errNoEmptySlot where
// it would otherwise go round for ever: a counting bug in rowMap then fails
// the tests instead of hanging them.
func TestProbeOfAFullArrayPanics(t *testing.T) {
	var m rowMap[attrs]
	m.init()
	tab := m.tab.Load()
	for i := range tab.slots {
		tab.slots[i].Store(&Entry[attrs]{ID: ID(1000 + i)})
	}
	m.live = len(tab.slots)
	m.used = 0 // as a counting bug would leave it: put sees room and probes
	for name, probe := range map[string]func(){
		"get":        func() { m.get(1) },
		"remove":     func() { m.remove(1) },
		"put":        func() { m.put(&Entry[attrs]{ID: 1}) },
		"insertInto": func() { m.insertInto(tab, &Entry[attrs]{ID: 1}) },
	} {
		func() {
			defer func() {
				if r := recover(); r != errNoEmptySlot {
					t.Errorf("%s on a full array: recovered %v, want errNoEmptySlot", name, r)
				}
			}()
			probe()
		}()
	}
}

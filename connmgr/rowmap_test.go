package connmgr

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// TestRowMapAgainstMap runs random puts, removes and gets on one rowMap and
// on a Go map, and wants the same answers. The IDs are drawn from a small
// set of multiples of 1<<20, which the hash sends to few home slots: long
// probes, runs of tombstones to pass and to reuse, and every rehash (grow,
// and sweep of the tombstones) happen many times.
func TestRowMapAgainstMap(t *testing.T) {
	t.Parallel()
	for _, spread := range []uint64{1, 1 << 20} {
		var m rowMap[attrs]
		m.init()
		want := map[ID]*Entry[attrs]{}
		rng := rand.New(rand.NewPCG(1, spread))
		for step := range 200_000 {
			id := ID(rng.Uint64N(300) * spread)
			switch rng.IntN(3) {
			case 0:
				e := &Entry[attrs]{ID: id, Attrs: attrs{Room: step}}
				if got := m.put(e); got != want[id] {
					t.Fatalf("spread %d, step %d: put(%d) replaced %p, want %p", spread, step, id, got, want[id])
				}
				want[id] = e
			case 1:
				if got := m.remove(id); got != want[id] {
					t.Fatalf("spread %d, step %d: remove(%d) = %p, want %p", spread, step, id, got, want[id])
				}
				delete(want, id)
			default:
				if got := m.get(id); got != want[id] {
					t.Fatalf("spread %d, step %d: get(%d) = %p, want %p", spread, step, id, got, want[id])
				}
			}
			if m.live != len(want) {
				t.Fatalf("spread %d, step %d: live = %d, want %d", spread, step, m.live, len(want))
			}
		}
		seen := map[ID]bool{}
		m.each(func(e *Entry[attrs]) {
			if want[e.ID] != e || seen[e.ID] {
				t.Errorf("spread %d: each gave %d (%p) unexpectedly", spread, e.ID, e)
			}
			seen[e.ID] = true
		})
		if len(seen) != len(want) {
			t.Errorf("spread %d: each gave %d rows, want %d", spread, len(seen), len(want))
		}
		if n := len(m.tab.Load().slots); n > 4*max(len(want), minSlots) {
			t.Errorf("spread %d: %d slots for %d rows: the array does not shrink when the rows go", spread, n, len(want))
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
		stop   atomic.Bool
		wg     sync.WaitGroup
		misses atomic.Int64
		reads  atomic.Int64
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
			}
		})
	}
	for range 2 {
		wg.Go(func() {
			for n := 0; !stop.Load() || n < 100_000; n++ {
				id := held[n%len(held)]
				e, ok := tb.Get(id)
				if !ok || e.ID != id || e.Name != "held" {
					misses.Add(1)
				}
				reads.Add(1)
				if n == 100_000 {
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

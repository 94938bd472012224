package connmgr

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
)

// TestByNameOrder drives one table through random changes on names with
// more rows than maxShift, pushed in random ID order, so that the index's
// ordered list is kept in step, shifted, dropped and rebuilt; after each
// change ByName must return exactly the model's rows, in ID order, with
// their current attributes.
func TestByNameOrder(t *testing.T) {
	t.Parallel()
	const nIDs, ops = 3 * maxShift, 6000
	tb := newTable(t, Options{})
	ids := make([]ID, nIDs)
	for i := range ids {
		ids[i] = NextID()
	}
	r := rand.New(rand.NewPCG(7, 7))
	// Push every ID once, in an order that is mostly increasing (as IDs
	// arrive) with some out of order, so both ends of the list see work.
	order := slices.Clone(ids)
	for i := range order {
		if r.IntN(8) == 0 {
			j := r.IntN(len(order))
			order[i], order[j] = order[j], order[i]
		}
	}
	names := []string{"big", "small", "other"}
	model := map[ID]Entry[attrs]{}
	push := func(id ID, name string) {
		a := attrs{Room: r.IntN(1 << 20)}
		if err := tb.Push(id, name, a); err != nil {
			t.Fatal(err)
		}
		model[id] = Entry[attrs]{ID: id, Name: name, Attrs: a}
	}
	for _, id := range order {
		push(id, names[min(r.IntN(8), 2)>>1]) // mostly "big"
	}
	for i := range ops {
		id := ids[r.IntN(nIDs)]
		name := names[r.IntN(len(names))]
		switch e, held := model[id]; r.IntN(4) {
		case 0:
			push(id, name)
		case 1:
			if held {
				if err := tb.SetName(id, name); err != nil {
					t.Fatal(err)
				}
				e.Name = name
				model[id] = e
			}
		case 2:
			if held {
				if err := tb.Update(id, func(a *attrs) { a.Room++ }); err != nil {
					t.Fatal(err)
				}
				e.Attrs.Room++
				model[id] = e
			}
		case 3:
			tb.Pop(id)
			delete(model, id)
		}
		// Not after every change: changes that pile up between two ByName
		// calls are what drop the list.
		if r.IntN(3) == 0 {
			for _, n := range names {
				if err := sameRows(tb.ByName(n), model, n); err != nil {
					t.Fatalf("after %d changes: %v", i+1, err)
				}
			}
		}
	}
}

// sameRows reports how got differs from the rows model holds under name,
// in ID order.
func sameRows(got []Entry[attrs], model map[ID]Entry[attrs], name string) error {
	var want []Entry[attrs]
	for _, e := range model {
		if e.Name == name {
			want = append(want, e)
		}
	}
	slices.SortFunc(want, func(a, b Entry[attrs]) int { return int(a.ID) - int(b.ID) })
	if len(got) != len(want) {
		return fmt.Errorf("ByName(%q) returned %d rows, want %d", name, len(got), len(want))
	}
	for i := range got {
		if got[i].ID != want[i].ID || got[i].Name != name || got[i].Attrs != want[i].Attrs {
			return fmt.Errorf("ByName(%q)[%d] = %d %q %+v, want %d %+v", name, i, got[i].ID, got[i].Name, got[i].Attrs, want[i].ID, want[i].Attrs)
		}
	}
	return nil
}

// TestByNameWhileChanging calls ByName on a name with more rows than
// maxShift while other goroutines push, pop and update its rows out of ID
// order, so that the list is dropped and rebuilt under readers (run with
// -race). Every result must be in ID order and show rows as they were
// stored: each writer keeps Room equal to the row's ID.
func TestByNameWhileChanging(t *testing.T) {
	t.Parallel()
	const writers, idsEach, rounds = 4, maxShift, 300
	tb := newTable(t, Options{})
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range writers {
		ids := make([]ID, idsEach)
		for i := range ids {
			ids[i] = NextID()
		}
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(w), 3))
			for range rounds * idsEach / 8 {
				id := ids[r.IntN(idsEach)]
				switch r.IntN(3) {
				case 0:
					if err := tb.Push(id, "room", attrs{Room: int(id)}); err != nil {
						t.Error(err)
						return
					}
				case 1:
					tb.Pop(id)
				case 2:
					_ = tb.Update(id, func(a *attrs) { a.User = "u" })
				}
			}
		})
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				rows := tb.ByName("room")
				for i, e := range rows {
					if e.Name != "room" || e.Attrs.Room != int(e.ID) || i > 0 && rows[i-1].ID >= e.ID {
						t.Errorf("ByName: row %d of %d is %+v after ID %d", i, len(rows), e, rows[max(i-1, 0)].ID)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
}

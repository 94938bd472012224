package pool

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

type labelKey struct{}

// WithLabel returns a context that names the borrower of every connection
// acquired with it, such as "GET /users" or "billing.Charge". The label shows
// in Borrowed, in leak reports and in the error of Close. It must not hold a
// secret. Without a label, a borrow whose stack was captured is named after
// the function that acquired it.
func WithLabel(ctx context.Context, label string) context.Context {
	return context.WithValue(ctx, labelKey{}, &label)
}

// labelOf returns the label of ctx, or nil. It is a pointer so that a borrow
// records it with one atomic store and no copy.
func labelOf(ctx context.Context) *string {
	s, _ := ctx.Value(labelKey{}).(*string)
	return s
}

// LeakKind says what a Borrow passed to LeakConfig.OnLeak reports.
type LeakKind uint8

const (
	// NotLeaked is the kind of the borrows returned by Borrowed.
	NotLeaked LeakKind = iota
	// LeakHeld reports a borrow held longer than LeakConfig.Threshold.
	LeakHeld
	// LeakReturned reports that a borrow reported as LeakHeld was returned.
	LeakReturned
	// LeakDropped reports a Conn that became unreachable while still
	// borrowed: its borrower lost it without Release. The pool destroyed the
	// connection (its state is unknown) and took its slot back.
	LeakDropped
)

// Borrow describes one borrowed connection: who holds it, since when, and
// where it was acquired.
type Borrow struct {
	// ID identifies the borrow; IDs are unique within a pool and increase.
	ID uint64
	// Pool is the name of the pool it came from.
	Pool string
	// Label is the borrower's label from WithLabel; without one, the
	// function that acquired, when the stack was captured; else "".
	Label string
	// Since is when the connection was acquired.
	Since time.Time
	// Leak is what a report passed to LeakConfig.OnLeak is about.
	Leak LeakKind
	// Ended is when the borrow ended, for LeakReturned and LeakDropped.
	Ended time.Time

	stack *stackInfo
}

// Age returns how long the connection has been (or, once ended, was)
// borrowed.
func (b Borrow) Age() time.Duration {
	if !b.Ended.IsZero() {
		return b.Ended.Sub(b.Since)
	}
	return time.Since(b.Since)
}

// Stack returns the acquisition stack, one "function\n\tfile:line" pair a
// frame, innermost first, starting at the caller of Acquire; or "" when it
// was not captured (see LeakConfig.Stacks).
func (b Borrow) Stack() string {
	if b.stack == nil {
		return ""
	}
	return b.stack.String()
}

// String returns the report block: the pool, the borrow, who holds it and
// for how long, then the acquisition stack when it was captured, such as
//
//	pool "users-db" borrow 17 by "GET /users/{id}", held 31.2s
//	    acquired at:
//	        main.(*server).user
//	            /app/server.go:88
func (b Borrow) String() string {
	var sb strings.Builder
	who := "(no label)"
	if b.Label != "" {
		who = fmt.Sprintf("by %q", b.Label)
	}
	age := b.Age().Round(time.Millisecond)
	switch b.Leak {
	case LeakReturned:
		fmt.Fprintf(&sb, "pool %q borrow %d %s was returned after %v, after being reported as leaked", b.Pool, b.ID, who, age)
	case LeakDropped:
		fmt.Fprintf(&sb, "pool %q borrow %d %s was dropped without Release after %v; the connection was destroyed", b.Pool, b.ID, who, age)
	default:
		fmt.Fprintf(&sb, "pool %q borrow %d %s, held %v", b.Pool, b.ID, who, age)
	}
	if b.stack != nil {
		sb.WriteString("\n    acquired at:")
		for _, line := range strings.Split(strings.TrimSuffix(b.stack.String(), "\n"), "\n") {
			sb.WriteString("\n        ")
			sb.WriteString(strings.Replace(line, "\t", "    ", 1))
		}
	}
	return sb.String()
}

// borrowRecord returns the record of borrow id of e. The caller makes sure
// the record in e is id's: it owns e's resource, or it checks e.borrow
// again afterwards.
func (p *Pool[T]) borrowRecord(e *entry[T], id uint64) Borrow {
	b := Borrow{ID: id, Pool: p.cfg.Name, Since: wallTime(e.since.Load()), stack: e.stack.Load()}
	if l := e.label.Load(); l != nil {
		b.Label = *l
	} else if b.stack != nil {
		b.Label = b.stack.caller()
	}
	return b
}

// currentBorrow returns the record of e's borrow in progress, if any,
// consistent even while e changes hands.
func (p *Pool[T]) currentBorrow(e *entry[T]) (Borrow, bool) {
	for {
		b := e.borrow.Load()
		if b == 0 {
			return Borrow{}, false
		}
		rec := p.borrowRecord(e, b&borrowIDMask)
		if e.borrow.Load()&borrowIDMask == b&borrowIDMask {
			return rec, true
		}
	}
}

// Borrowed returns the connections borrowed now, oldest first. The slice is
// the caller's.
func (p *Pool[T]) Borrowed() []Borrow {
	return p.borrows(0)
}

// Leaks returns the connections borrowed for longer than
// LeakConfig.Threshold now, oldest first, or nil when no threshold is set.
func (p *Pool[T]) Leaks() []Borrow {
	if p.cfg.Leak.Threshold <= 0 {
		return nil
	}
	return p.borrows(p.cfg.Leak.Threshold)
}

// borrows returns the borrows older than minAge, oldest first.
func (p *Pool[T]) borrows(minAge time.Duration) []Borrow {
	p.mu.Lock()
	entries := make([]*entry[T], 0, len(p.entries))
	for e := range p.entries {
		entries = append(entries, e)
	}
	p.mu.Unlock()
	var out []Borrow
	for _, e := range entries {
		if rec, ok := p.currentBorrow(e); ok && rec.Age() >= minAge {
			out = append(out, rec)
		}
	}
	sortBorrows(out)
	return out
}

func sortBorrows(bs []Borrow) {
	slices.SortFunc(bs, func(a, b Borrow) int { return cmp.Compare(a.ID, b.ID) })
}

// reportBorrows formats borrows as report blocks, each on new lines, for
// errors.
func reportBorrows(bs []Borrow) string {
	var sb strings.Builder
	for _, b := range bs {
		sb.WriteString("\n\t")
		sb.WriteString(strings.ReplaceAll(b.String(), "\n", "\n\t"))
	}
	return sb.String()
}

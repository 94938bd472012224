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
// secret.
func WithLabel(ctx context.Context, label string) context.Context {
	return context.WithValue(ctx, labelKey{}, label)
}

// labelOf returns the label of ctx, or "".
func labelOf(ctx context.Context) string {
	s, _ := ctx.Value(labelKey{}).(string)
	return s
}

// Borrow describes one borrowed connection: who holds it and since when.
type Borrow struct {
	// ID identifies the borrow; IDs are unique within a pool and increase.
	ID uint64
	// Pool is the name of the pool it came from.
	Pool string
	// Label is the borrower's label from WithLabel, or "".
	Label string
	// Since is when the connection was acquired.
	Since time.Time
}

// Age returns how long the connection has been borrowed.
func (b Borrow) Age() time.Duration { return time.Since(b.Since) }

// String returns a one-line report, such as
//
//	pool "redis" borrow 17 by "GET /users", held 7.2s
func (b Borrow) String() string {
	who := "(no label)"
	if b.Label != "" {
		who = fmt.Sprintf("by %q", b.Label)
	}
	return fmt.Sprintf("pool %q borrow %d %s, held %v", b.Pool, b.ID, who, b.Age().Round(time.Millisecond))
}

// Borrowed returns the connections borrowed now, oldest first. The slice is
// the caller's.
func (p *Pool[T]) Borrowed() []Borrow {
	p.mu.Lock()
	out := make([]Borrow, 0, len(p.entries))
	for e := range p.entries {
		if c := e.conn.Load(); c != nil {
			out = append(out, c.borrow())
		}
	}
	p.mu.Unlock()
	sortBorrows(out)
	return out
}

func sortBorrows(bs []Borrow) {
	slices.SortFunc(bs, func(a, b Borrow) int { return cmp.Compare(a.ID, b.ID) })
}

// reportBorrows formats borrows one per line, indented, for errors.
func reportBorrows(bs []Borrow) string {
	var sb strings.Builder
	for _, b := range bs {
		sb.WriteString("\n\t")
		sb.WriteString(b.String())
	}
	return sb.String()
}

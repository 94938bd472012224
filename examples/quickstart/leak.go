package main

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/connkit/connkit/pool"
)

// leakThreshold is how long a borrow may be held before it is reported.
const leakThreshold = 100 * time.Millisecond

// cart is what the checkout pool holds: a stand-in for a database session.
type cart struct{ id int }

// leak shows a connection borrowed and never returned: reported once past
// the threshold, with its label and the stack of its Acquire, and named
// again by Close.
func (d *demo) leak(ctx context.Context) error {
	reports := make(chan pool.Borrow, 1)
	var carts atomic.Int32
	p, err := pool.New(pool.Config[*cart]{
		Name: "checkout",
		Dial: func(context.Context) (*cart, error) {
			return &cart{id: int(carts.Add(1))}, nil
		},
		MaxSize: 1,
		Leak: pool.LeakConfig{
			Threshold: leakThreshold,
			Stacks:    pool.StacksAlways, // for tests and staging; pool.StacksSampled in production
			OnLeak: func(b pool.Borrow) {
				select {
				case reports <- b:
				default:
				}
			},
		},
	})
	if err != nil {
		return err
	}
	d.track(p)
	d.section(fmt.Sprintf("leak detection: a connection borrowed and never returned (threshold %v, stacks always)", leakThreshold))

	held, err := handleCheckout(ctx, p)
	if err != nil {
		return err
	}
	d.say("   handleCheckout returned without releasing its connection")
	d.progress("waiting for the leak report", leakThreshold+leakThreshold/4)
	var b pool.Borrow
	select {
	case b = <-reports:
	case <-ctx.Done():
		return fmt.Errorf("waiting for the leak report: %w", ctx.Err())
	}
	d.say("   OnLeak:\n%s", indent(b.String(), "   | "))

	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	err = p.Close(cctx)
	if err == nil {
		return errors.New("pool.Close with a borrow outstanding returned nil")
	}
	head, _, _ := strings.Cut(err.Error(), "acquired at:")
	d.say("   Close within 50ms destroys it under its holder, and names the holder:\n%s\n   |         ... (the stack, as above)",
		indent(strings.TrimRight(head, " \t\n"), "   | "))
	runtime.KeepAlive(held) // still referenced: a leak, not a dropped handle (those are found by the GC)
	return nil
}

// handleCheckout has the classic bug: it acquires a connection for the
// checkout and keeps it in the order it returns, and nothing ever releases
// it.
func handleCheckout(ctx context.Context, p *pool.Pool[*cart]) (*pool.Conn[*cart], error) {
	c, err := p.Acquire(pool.WithLabel(ctx, "forgotten in handleCheckout"))
	if err != nil {
		return nil, err
	}
	// BUG: no c.Release() on this path.
	return c, nil
}

// indent prefixes each line of text with prefix.
func indent(text, prefix string) string {
	return prefix + strings.ReplaceAll(strings.TrimSuffix(text, "\n"), "\n", "\n"+prefix)
}

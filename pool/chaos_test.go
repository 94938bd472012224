package pool_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/pool/pooltest"
)

// owned is a pooled TCP connection that knows who holds it, so that a
// connection handed to two borrowers at once is caught.
type owned struct {
	net.Conn
	owner atomic.Int64
}

// TestChaosCancellationStorm makes 10,000 acquires with random deadlines
// between 0 and 5ms on a pool of 4 whose dials take 1 to 3ms, from 64
// goroutines: no connection is ever held by two borrowers, no more than 4
// are ever open, every acquire is accounted for (released, destroyed or
// still out: none at the end), the pool's own Stats agree with the
// borrowers' counts and the dialer's, and Close leaves no descriptor behind.
func TestChaosCancellationStorm(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted sync.WaitGroup
	accepted.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Go(func() {
				var b [1]byte
				c.Read(b[:]) // until the pool closes it
				c.Close()
			})
		}
	})
	fds, err := pooltest.SnapshotFDs()
	if err != nil {
		t.Fatal(err)
	}

	const size, acquires, workers = 4, 10_000, 64
	var open, maxOpen atomic.Int64
	p, err := pool.New(pool.Config[*owned]{
		Name: "storm",
		Dial: func(ctx context.Context) (*owned, error) {
			if !lifecycle.Sleep(ctx, time.Millisecond+rand.N(2*time.Millisecond)) {
				return nil, ctx.Err()
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", ln.Addr().String())
			if err != nil {
				return nil, err
			}
			n := open.Add(1)
			for m := maxOpen.Load(); n > m && !maxOpen.CompareAndSwap(m, n); m = maxOpen.Load() {
			}
			return &owned{Conn: c}, nil
		},
		Close: func(c *owned) error {
			open.Add(-1)
			return c.Close()
		},
		MaxSize: size,
	})
	if err != nil {
		t.Fatal(err)
	}

	var released, destroyed, failed, next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for me := next.Add(1); me <= acquires; me = next.Add(1) {
				ctx, cancel := context.WithTimeout(context.Background(), rand.N(5*time.Millisecond))
				c, err := p.Acquire(ctx)
				cancel()
				if err != nil {
					if !errors.Is(err, context.DeadlineExceeded) {
						t.Errorf("Acquire = %v, want a deadline error", err)
					}
					failed.Add(1)
					continue
				}
				if prev := c.Value().owner.Swap(me); prev != 0 {
					t.Errorf("connection handed to borrower %d while %d holds it", me, prev)
				}
				time.Sleep(rand.N(200 * time.Microsecond))
				c.Value().owner.Store(0)
				if rand.N(10) == 0 {
					c.Destroy()
					destroyed.Add(1)
				} else {
					c.Release()
					released.Add(1)
				}
			}
		})
	}
	wg.Wait()

	st := p.Stats()
	if st.Borrowed != 0 {
		t.Errorf("%d connections still borrowed after every borrower returned", st.Borrowed)
	}
	if got := released.Load() + destroyed.Load(); st.Acquires != got {
		t.Errorf("Stats.Acquires = %d, but borrowers released %d and destroyed %d", st.Acquires, released.Load(), destroyed.Load())
	}
	if st.Acquires+failed.Load() != acquires {
		t.Errorf("%d handed out + %d failed != %d acquires", st.Acquires, failed.Load(), acquires)
	}
	// The pool's own counters agree with the borrowers': every Destroy is
	// counted as broken, every failed acquire as a timeout, and no
	// connection was destroyed for any other reason while the pool ran.
	// Dials abandoned by their acquirers finish in the background, and
	// destroyed connections are counted and closed in the background: wait
	// until all of that is done (the counts settle) before comparing.
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(time.Millisecond) {
		st = p.Stats()
		settled := st.Constructing == 0 && st.Destroyed.Total() >= destroyed.Load() &&
			int64(st.Open) == open.Load() && st.Dials-st.DialErrors-st.Destroyed.Total() == open.Load()
		if settled || time.Now().After(deadline) {
			break
		}
	}
	if st.Destroyed.Broken != destroyed.Load() || st.Destroyed.Total() != st.Destroyed.Broken {
		t.Errorf("Stats.Destroyed = %+v, but borrowers destroyed %d", st.Destroyed, destroyed.Load())
	}
	if st.Timeouts != failed.Load() || st.CanceledAcquires != failed.Load() {
		t.Errorf("Stats: %d timeouts, %d canceled; but %d acquires failed, each by its deadline", st.Timeouts, st.CanceledAcquires, failed.Load())
	}
	if opened := st.Dials - st.DialErrors - st.Destroyed.Total(); int64(st.Open) != open.Load() || opened != open.Load() {
		t.Errorf("Stats: %d open, %d dials - %d failed - %d destroyed = %d; the dialer has %d open",
			st.Open, st.Dials, st.DialErrors, st.Destroyed.Total(), opened, open.Load())
	}
	if m := maxOpen.Load(); m > size {
		t.Errorf("%d connections open at once, MaxSize is %d", m, size)
	}
	t.Logf("%d acquires: %d handed out, %d timed out, %d destroyed, %d dials", acquires, st.Acquires, failed.Load(), destroyed.Load(), st.Dials)
	pooltest.VerifyNone(t, p)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := open.Load(); n != 0 {
		t.Errorf("%d connections open after Close", n)
	}
	ln.Close()
	accepted.Wait()
	leaked, err := fds.Leaked()
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range leaked {
		t.Errorf("descriptor left open: %v", fd)
	}
}

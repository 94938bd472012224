package pool

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// A connection released just as a caller parks must reach that caller: it
// may not stay in the hot cache, where puddle cannot see it, while the
// caller waits in puddle for it. Stranded, every borrower would park behind
// the first (none takes from the cache while one is parked) until its
// AcquireTimeout.
func TestNoCallerStrandedBesideHotConnection(t *testing.T) {
	t.Parallel()
	for _, size := range []int{1, 2} {
		t.Run(fmt.Sprintf("MaxSize=%d", size), func(t *testing.T) {
			t.Parallel()
			cfg := new(backend).config()
			cfg.MaxSize = size
			cfg.AcquireTimeout = 5 * time.Second
			p := newPool(t, cfg)
			const goroutines, borrows = 8, 2000
			var wg sync.WaitGroup
			for range goroutines {
				wg.Go(func() {
					for range borrows {
						c, err := p.Acquire(context.Background())
						if err != nil {
							t.Error(err)
							return
						}
						c.Release()
					}
				})
			}
			wg.Wait()
			if s := p.Stats(); s.Idle != s.Open || s.Borrowed != 0 || s.Acquires != goroutines*borrows {
				t.Errorf("after the borrows: %d idle, %d borrowed, %d acquires; want all %d open idle, 0, %d",
					s.Idle, s.Borrowed, s.Acquires, s.Open, goroutines*borrows)
			}
		})
	}
}

// Connections idle in the hot cache count toward MinIdle: the pool does not
// dial more because puddle holds fewer idle.
func TestMinIdleCountsHotConnections(t *testing.T) {
	t.Parallel()
	var b backend
	cfg := b.config()
	cfg.MinIdle, cfg.MaxSize = 2, 4
	p := newPool(t, cfg)
	waitFor(t, "the warm connections", func() bool { return p.Stats().Idle == 2 })
	openIdle(t, p, 2) // both back in the cache
	mustAcquire(t, p).Destroy()
	// The destroy wakes the maintainer, which tops up with one dial: one
	// connection is still idle, in the cache.
	waitFor(t, "the refill", func() bool { return b.dials.Load() == 3 && p.Stats().Idle == 2 })
	time.Sleep(20 * time.Millisecond)
	if n := b.dials.Load(); n != 3 {
		t.Errorf("%d dials; want 3: two warm, one to replace the destroyed one", n)
	}
}

// A release that found nobody waiting, and parks its connection in the hot
// cache only after a caller parked, hands it to that caller.
func TestReleaseRacingAParkingCaller(t *testing.T) {
	t.Parallel()
	cfg := oneConn(new(backend))
	cfg.AcquireTimeout = time.Second
	p := newPool(t, cfg)
	var once sync.Once
	p.testHook = func(at hookPoint) {
		if at != hookPut {
			return
		}
		once.Do(func() {
			waitFor(t, "a caller to park", func() bool { return p.Stats().Waiting == 1 })
			time.Sleep(5 * time.Millisecond) // from the Waiting count into puddle's queue
		})
	}
	held := mustAcquire(t, p)
	got := make(chan error, 1)
	go func() {
		c, err := p.Acquire(context.Background())
		if err == nil {
			c.Release()
		}
		got <- err
	}()
	held.Release()
	if err := <-got; err != nil {
		t.Fatalf("the parked caller: %v; want the connection released as it parked", err)
	}
}

// A release that found the pool open, and parks its connection in the hot
// cache only after Close drained it, hands it to Close: Close destroys it
// and returns.
func TestReleaseRacingClose(t *testing.T) {
	t.Parallel()
	var b backend
	p := mustNew(t, b.config())
	closed := make(chan error, 1)
	var once sync.Once
	p.testHook = func(at hookPoint) {
		if at != hookPut {
			return
		}
		once.Do(func() {
			go func() { closed <- p.Close(context.Background()) }()
			waitFor(t, "Close to start", p.closed.Load)
			time.Sleep(5 * time.Millisecond) // past Close's own drain
		})
	}
	mustAcquire(t, p).Release()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close still waits for the connection released as it began")
	}
	if n := b.closes.Load(); n != 1 {
		t.Errorf("%d connections closed, want 1", n)
	}
}

// A borrower that found nobody waiting, and looks at the slots only after a
// caller parked and a release parked its connection there, leaves that
// connection to the parked caller: it came first.
func TestParkedCallerServedBeforeHotTaker(t *testing.T) {
	t.Parallel()
	cfg := oneConn(new(backend))
	cfg.AcquireTimeout = 5 * time.Second
	p := newPool(t, cfg)
	held := mustAcquire(t, p)

	takerPaused, takerGo := make(chan struct{}), make(chan struct{})
	var taking atomic.Bool // not a sync.Once: the parked caller passes there while the taker waits in it
	var putOnce, parkedOnce sync.Once
	got := make(chan string, 2)
	p.testHook = func(at hookPoint) {
		switch at {
		case hookTake: // the taker: it saw nobody waiting
			if taking.CompareAndSwap(false, true) {
				close(takerPaused)
				<-takerGo
			}
		case hookPut: // the release: it saw nobody waiting; a caller parks now
			putOnce.Do(func() {
				go borrowInTurn(t, p, got, "parked")
				waitFor(t, "a caller to park", func() bool { return p.Stats().Waiting == 1 })
				time.Sleep(20 * time.Millisecond) // from the Waiting count into puddle's queue, else the taker would find it free there
			})
		case hookPutParked: // the connection is in a slot: the taker looks now
			parkedOnce.Do(func() {
				close(takerGo)
				time.Sleep(5 * time.Millisecond)
			})
		}
	}
	go borrowInTurn(t, p, got, "taker")
	<-takerPaused
	held.Release()
	if first, second := <-got, <-got; first != "parked" || second != "taker" {
		t.Fatalf("served %s, then %s; want the parked caller first", first, second)
	}
}

// Stats never counts a connection twice, though one may move from puddle's
// idle list to the hot cache while it counts.
func TestStatsCountsAMovingConnectionOnce(t *testing.T) {
	t.Parallel()
	p := newPool(t, oneConn(new(backend)))
	openIdle(t, p, 1)
	p.drainHot() // idle in puddle
	var once sync.Once
	p.testHook = func(at hookPoint) {
		if at == hookStat {
			once.Do(func() { mustAcquire(t, p).Release() }) // now in the cache
		}
	}
	if s := p.Stats(); s.Idle != 1 || s.Open != 1 {
		t.Fatalf("Stats: %d idle, %d open; want 1, 1", s.Idle, s.Open)
	}
	if n := p.hotIdle(); n != 1 {
		t.Fatalf("%d connections in the cache, want the one borrowed during Stats", n)
	}
}

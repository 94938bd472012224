package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/pool"
	"github.com/redis/go-redis/v9"
)

// storm is pool's TestChaosCancellationStorm in bursts, on a real backend:
// acquires with random deadlines between 0 and 5ms, from many goroutines
// at once, on a pool of stormSize Redis connections whose dials take 1 to
// 3ms longer than they would. A borrow holds its connection up to 0.2ms and
// sends nothing; one in ten is destroyed instead of released.
type storm struct {
	b     *backend
	p     *pool.Pool[*redis.Conn]
	tally *load // every acquire: errors by kind, waits

	open, maxOpen                                 atomic.Int64 // connections open now, and at most
	bursts, attempts, failed, released, destroyed atomic.Int64
}

const stormSize = 4

// newStorm returns a storm on a pool to the Redis server srv reached at
// addr.
func newStorm(t *testing.T, srv *testenv.Redis, addr string) *storm {
	s := &storm{tally: newLoad()}
	s.b = redisBackend(t, srv, addr, func(c *pool.Config[*redis.Conn]) {
		c.Name, c.MaxSize = "storm", stormSize
		// Nothing destroys a connection between puddle's acquire and the
		// hand-out (a failed ping, an expired lifetime), so that
		// Stats.Acquires counts exactly the connections handed out.
		c.PingAfterIdle, c.MaxLifetime, c.MaxIdleTime, c.HealthCheckPeriod = -1, -1, -1, -1
		dial, closeFn := c.Dial, c.Close
		c.Dial = func(ctx context.Context) (*redis.Conn, error) {
			if !lifecycle.Sleep(ctx, time.Millisecond+rand.N(2*time.Millisecond)) {
				return nil, ctx.Err()
			}
			v, err := dial(ctx)
			if err == nil {
				n := s.open.Add(1)
				for m := s.maxOpen.Load(); n > m && !s.maxOpen.CompareAndSwap(m, n); m = s.maxOpen.Load() {
				}
			}
			return v, err
		}
		c.Close = func(v *redis.Conn) error {
			s.open.Add(-1)
			return closeFn(v)
		}
	})
	s.p = s.b.pool.(*pool.Pool[*redis.Conn])
	return s
}

// burst makes n acquires from workers goroutines, each with a random
// deadline between 0 and 5ms.
func (s *storm) burst(n, workers int) {
	s.bursts.Add(1)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for next.Add(1) <= int64(n) {
				ctx, cancel := context.WithTimeout(context.Background(), rand.N(5*time.Millisecond))
				s.borrow(ctx)
				cancel()
			}
		})
	}
	wg.Wait()
}

// borrow makes one acquire bounded by ctx and, when it succeeds, holds the
// connection briefly and gives it back; it returns the acquire's error.
func (s *storm) borrow(ctx context.Context) error {
	s.attempts.Add(1)
	began := time.Now()
	c, err := s.p.Acquire(ctx)
	wait := time.Since(began)
	if err != nil {
		s.failed.Add(1)
		s.tally.record(began, wait, wait, err, classify)
		return err
	}
	unclaim := s.b.owners.claim(c.Value())
	time.Sleep(rand.N(200 * time.Microsecond))
	unclaim()
	if rand.N(10) == 0 {
		c.Destroy()
		s.destroyed.Add(1)
	} else {
		c.Release()
		s.released.Add(1)
	}
	s.tally.record(began, time.Since(began), wait, nil, classify)
	return nil
}

// serves reports, as an error, whether an acquire with a deadline of
// within fails, retrying every 50ms.
func (s *storm) serves(within time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	for {
		bctx, bcancel := context.WithTimeout(ctx, 500*time.Millisecond)
		err := s.borrow(bctx)
		bcancel()
		if err == nil || !lifecycle.Sleep(ctx, 50*time.Millisecond) {
			return err
		}
	}
}

// check fails t unless the pool's Stats balance with what the borrowers
// saw: every acquire either handed out a connection or failed with a
// deadline or the dial error; every connection handed out was released or
// destroyed by its borrower, none is still borrowed and none was dropped;
// no more than stormSize were ever open; and none was handed to two
// borrowers at once.
func (s *storm) check(t *testing.T) {
	t.Helper()
	// A destroyed connection counts in Stats when its close has run, in
	// the background: wait for the last ones.
	st := s.p.Stats()
	for deadline := time.Now().Add(2 * time.Second); st.Destroyed.Broken < s.destroyed.Load() && time.Now().Before(deadline); st = s.p.Stats() {
		time.Sleep(5 * time.Millisecond)
	}
	given := s.released.Load() + s.destroyed.Load()
	if st.Borrowed != 0 {
		t.Errorf("storm: %d connections still borrowed after every borrower returned", st.Borrowed)
	}
	if st.Acquires != given {
		t.Errorf("storm: Stats.Acquires = %d, but borrowers released %d and destroyed %d", st.Acquires, s.released.Load(), s.destroyed.Load())
	}
	if given+s.failed.Load() != s.attempts.Load() {
		t.Errorf("storm: %d handed out + %d failed != %d acquires", given, s.failed.Load(), s.attempts.Load())
	}
	if st.Destroyed.Dropped != 0 {
		t.Errorf("storm: %d connections were dropped without Release and reclaimed by the pool", st.Destroyed.Dropped)
	}
	if st.Destroyed.Broken != s.destroyed.Load() {
		t.Errorf("storm: Stats.Destroyed.Broken = %d, but borrowers destroyed %d", st.Destroyed.Broken, s.destroyed.Load())
	}
	if m := s.maxOpen.Load(); m > stormSize {
		t.Errorf("storm: %d connections open at once, MaxSize is %d", m, stormSize)
	}
	for _, e := range s.tally.unknownErrors("acquire-timeout", "backend-down") {
		t.Errorf("storm: an acquire failed with neither a deadline nor the dial error: %s", e)
	}
	s.b.owners.check(t, "storm: ")
}

// summary is the storm's figures.
func (s *storm) summary() string {
	st := s.p.Stats()
	return fmt.Sprintf("%d bursts, %d acquires: %d handed out (%d destroyed), %d failed; Stats: acquires %d, timeouts %d, dials %d (%d failed); %s",
		s.bursts.Load(), s.attempts.Load(), s.released.Load()+s.destroyed.Load(), s.destroyed.Load(), s.failed.Load(),
		st.Acquires, st.Timeouts, st.Dials, st.DialErrors, s.tally.summary())
}

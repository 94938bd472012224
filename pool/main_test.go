package pool

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fconn is a fake connection.
type fconn struct {
	id     int
	gen    int // the backend's generation when dialed
	closed atomic.Bool
	dirty  atomic.Bool // session state changed, as a backend adapter would track
	resets atomic.Int32
}

// backend is a fake backend that counts what the pool does to it.
type backend struct {
	dials, closes, pings atomic.Int32
	open, maxOpen        atomic.Int32

	mu      sync.Mutex // protects the fields below
	down    error      // dials fail with it while set
	hang    bool       // dials block until their context ends
	hold    chan struct{}
	pingErr error
	gen     int // bumped by a restart, which kills the connections of older generations
	dialAt  []time.Time
}

var errRefused = errors.New("dial tcp 127.0.0.1:6379: connect: connection refused")

func (b *backend) dial(ctx context.Context) (*fconn, error) {
	n := b.dials.Add(1)
	b.mu.Lock()
	down, hang, hold, gen := b.down, b.hang, b.hold, b.gen
	b.dialAt = append(b.dialAt, time.Now())
	b.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if hang {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if down != nil {
		return nil, down
	}
	open := b.open.Add(1)
	for {
		m := b.maxOpen.Load()
		if open <= m || b.maxOpen.CompareAndSwap(m, open) {
			break
		}
	}
	return &fconn{id: int(n), gen: gen}, nil
}

func (b *backend) close(c *fconn) error {
	if c.closed.Swap(true) {
		panic("connection closed twice")
	}
	b.closes.Add(1)
	b.open.Add(-1)
	return nil
}

func (b *backend) ping(ctx context.Context, c *fconn) error {
	b.pings.Add(1)
	b.mu.Lock()
	defer b.mu.Unlock()
	if c.gen != b.gen {
		return errors.New("read tcp: connection reset by peer")
	}
	return b.pingErr
}

func (b *backend) set(f func(b *backend)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	f(b)
}

// config returns a config on b with the background sweep off, so that tests
// see only what they cause.
func (b *backend) config() Config[*fconn] {
	return Config[*fconn]{
		Name:              "test",
		Dial:              b.dial,
		Close:             b.close,
		MaxSize:           4,
		HealthCheckPeriod: -1,
	}
}

// oneConn returns b's config for a pool of one connection, so that every
// second borrower waits.
func oneConn(b *backend) Config[*fconn] {
	cfg := b.config()
	cfg.MaxSize = 1
	return cfg
}

// mustNew returns New(cfg), failing the test on error. The test closes it.
func mustNew(t *testing.T, cfg Config[*fconn]) *Pool[*fconn] {
	t.Helper()
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// newPool returns a pool closed at the end of the test, which fails if Close
// reports borrows still out. In a synctest bubble, it is closed inside the
// bubble.
func newPool(t *testing.T, cfg Config[*fconn]) *Pool[*fconn] {
	t.Helper()
	p := mustNew(t, cfg)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := p.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func mustAcquire(t *testing.T, p *Pool[*fconn]) *Conn[*fconn] {
	t.Helper()
	c, err := p.Acquire(testCtx(t))
	if err != nil {
		t.Fatalf("Acquire: %v", err)
	}
	return c
}

// openIdle borrows n connections at once and gives them all back, so that
// p holds n open, idle connections.
func openIdle(t *testing.T, p *Pool[*fconn], n int) {
	t.Helper()
	var cs []*Conn[*fconn]
	for range n {
		cs = append(cs, mustAcquire(t, p))
	}
	for _, c := range cs {
		c.Release()
	}
}

// waitFor polls cond until it holds, failing the test after a while.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

package pool

import (
	"bytes"
	"context"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// reports collects what OnLeak is given.
type reports struct {
	mu  sync.Mutex
	got []Borrow
}

func (r *reports) onLeak(b Borrow) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, b)
}

func (r *reports) all() []Borrow {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Borrow(nil), r.got...)
}

// acquireForReport is the call site the leak reports must name.
//
//go:noinline
func acquireForReport(t *testing.T, p *Pool[*fconn]) *Conn[*fconn] {
	c, err := p.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestLeakConfigValidation(t *testing.T) {
	t.Parallel()
	var b backend
	tests := []struct {
		give LeakConfig
		want string
	}{
		{LeakConfig{Threshold: -1}, "Config.Leak.Threshold is negative"},
		{LeakConfig{Stacks: 7}, "Config.Leak.Stacks is 7, not a StackMode"},
		{LeakConfig{SampleEvery: -2}, "Config.Leak.SampleEvery is negative"},
	}
	for _, tt := range tests {
		cfg := b.config()
		cfg.Leak = tt.give
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("New with %+v = %v, want %q", tt.give, err, tt.want)
		}
	}
}

func TestLeakReportedOnceThenReturned(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var b backend
		var r reports
		cfg := b.config()
		cfg.Name = "orders"
		cfg.Leak = LeakConfig{Threshold: time.Second, Stacks: StacksAlways, OnLeak: r.onLeak}
		p := newPool(t, cfg)

		quick := mustAcquire(t, p)
		c := acquireForReport(t, p)
		time.Sleep(500 * time.Millisecond)
		quick.Release() // returned in time: never reported
		time.Sleep(5 * time.Second)
		synctest.Wait()
		got := r.all()
		if len(got) != 1 {
			t.Fatalf("%d reports after 5s past the threshold, want exactly 1: %v", len(got), got)
		}
		held := got[0]
		if held.Leak != LeakHeld || held.ID != c.id || held.Pool != "orders" {
			t.Errorf("report = %+v", held)
		}
		if held.Age() < time.Second {
			t.Errorf("reported at age %v, before the threshold", held.Age())
		}
		if !strings.Contains(held.Label, "pool.acquireForReport") || !strings.Contains(held.Stack(), "pool.acquireForReport") {
			t.Errorf("report does not name the acquiring function:\nlabel %q\n%s", held.Label, held.Stack())
		}
		if strings.Contains(held.Stack(), "(*Pool[") {
			t.Errorf("the stack shows the pool's own frames:\n%s", held.Stack())
		}
		if leaks := p.Leaks(); len(leaks) != 1 || leaks[0].ID != c.id {
			t.Errorf("Leaks() = %v", leaks)
		}

		c.Release()
		got = r.all()
		if len(got) != 2 || got[1].Leak != LeakReturned || got[1].ID != c.id {
			t.Fatalf("after Release: %v; want a LeakReturned follow-up", got)
		}
		if s := got[1].String(); !strings.Contains(s, "was returned after 5.5s, after being reported as leaked") {
			t.Errorf("follow-up report = %q", s)
		}
		if len(p.Leaks()) != 0 || len(p.Borrowed()) != 0 {
			t.Error("a returned borrow is still listed")
		}
	})
}

func TestSampledStacksExactlyOneInN(t *testing.T) {
	t.Parallel()
	var b backend
	cfg := b.config()
	cfg.MaxSize = 40
	cfg.Leak = LeakConfig{Stacks: StacksSampled, SampleEvery: 4}
	p := newPool(t, cfg)
	var held []*Conn[*fconn]
	for range 40 {
		held = append(held, mustAcquire(t, p))
	}
	withStack := 0
	for _, b := range p.Borrowed() {
		if b.Stack() != "" {
			withStack++
			if b.ID%4 != 0 {
				t.Errorf("borrow %d has a stack; want only multiples of 4", b.ID)
			}
		}
	}
	if withStack != 10 {
		t.Errorf("%d of 40 borrows carry a stack, want 10", withStack)
	}
	for _, c := range held {
		c.Release()
	}
}

func TestLabelsAndBorrowed(t *testing.T) {
	t.Parallel()
	var b backend
	p := newPool(t, b.config())
	c1, _ := p.Acquire(WithLabel(context.Background(), "GET /users"))
	c2 := mustAcquire(t, p)
	bs := p.Borrowed()
	if len(bs) != 2 || bs[0].Label != "GET /users" || bs[1].Label != "" || bs[0].Stack() != "" {
		t.Fatalf("Borrowed = %+v", bs)
	}
	if s := bs[1].String(); !strings.Contains(s, `pool "test" borrow 2 (no label), held`) {
		t.Errorf("String = %q", s)
	}
	bs[0].Label = "changed"
	if p.Borrowed()[0].Label != "GET /users" {
		t.Error("Borrowed does not return copies")
	}
	if p.Leaks() != nil {
		t.Error("Leaks without a threshold is not nil")
	}
	c1.Release()
	c2.Release()
}

// dropHandle acquires a connection and loses the handle.
//
//go:noinline
func dropHandle(t *testing.T, p *Pool[*fconn]) {
	c, err := p.Acquire(WithLabel(context.Background(), "lost by dropHandle"))
	if err != nil {
		t.Fatal(err)
	}
	_ = c.Value()
}

func TestDroppedHandleIsReclaimed(t *testing.T) {
	t.Parallel()
	var b backend
	var r reports
	cfg := b.config()
	cfg.MaxSize = 1
	cfg.Leak.OnLeak = r.onLeak
	p := newPool(t, cfg)

	// A borrow and a Release first: the dropped handle then comes from the
	// slab the idle connection held, which the borrow must take from it.
	mustAcquire(t, p).Release()
	dropHandle(t, p)
	waitFor(t, "the dropped handle to be found", func() bool {
		runtime.GC()
		return len(r.all()) == 1
	})
	got := r.all()[0]
	if got.Leak != LeakDropped || got.Label != "lost by dropHandle" {
		t.Errorf("report = %+v", got)
	}
	if s := got.String(); !strings.Contains(s, "was dropped without Release after") {
		t.Errorf("report text = %q", s)
	}
	// The slot is back: with MaxSize 1, this would block forever otherwise.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := p.Acquire(ctx)
	if err != nil {
		t.Fatalf("Acquire after the drop = %v; the slot was not given back", err)
	}
	c.Release()
	waitFor(t, "the destroy", func() bool { return p.Stats().Destroyed.Dropped == 1 })
	if n := b.closes.Load(); n != 1 {
		t.Errorf("%d connections closed, want the dropped one", n)
	}
}

func TestReleasedHandlesAreNotReportedAsDropped(t *testing.T) {
	t.Parallel()
	var b backend
	var r reports
	cfg := b.config()
	cfg.MaxSize = 2
	cfg.Leak.OnLeak = r.onLeak
	p := newPool(t, cfg)
	for range 200 { // several slabs' worth, collected as they go
		c := mustAcquire(t, p)
		c.Release()
	}
	held := mustAcquire(t, p)
	for range 3 {
		runtime.GC()
	}
	time.Sleep(10 * time.Millisecond) // cleanups run on their own goroutine
	if got := r.all(); len(got) != 0 {
		t.Errorf("reports for handles that were released or are still held: %v", got)
	}
	held.Release()
}

func TestDefaultOnLeakLogs(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		var mu sync.Mutex
		var b backend
		cfg := b.config()
		cfg.Logger = slog.New(slog.NewTextHandler(&lockedWriter{w: &buf, mu: &mu}, nil))
		cfg.Leak.Threshold = time.Second
		p := newPool(t, cfg)
		c, _ := p.Acquire(WithLabel(context.Background(), "nightly report"))
		time.Sleep(2 * time.Second)
		synctest.Wait()
		c.Release()
		mu.Lock()
		out := buf.String()
		mu.Unlock()
		for _, want := range []string{"connection borrowed longer than the leak threshold", `by \"nightly report\"`, "was returned after 2s"} {
			if !strings.Contains(out, want) {
				t.Errorf("log lacks %q:\n%s", want, out)
			}
		}
	})
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

// TestReleaseNeverReportedAsDropped races Release against garbage
// collection: a handle given back must never be taken for a dropped one,
// even when the collector runs while Release is under way.
func TestReleaseNeverReportedAsDropped(t *testing.T) {
	t.Parallel()
	var b backend
	var r reports
	cfg := b.config()
	cfg.MaxSize = 8
	cfg.Leak.OnLeak = r.onLeak
	p := newPool(t, cfg)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				runtime.GC()
			}
		}
	})
	deadline := time.Now().Add(2 * time.Second)
	for range 16 {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				c, err := p.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				c.Release()
			}
		})
	}
	time.Sleep(time.Until(deadline))
	close(stop)
	wg.Wait()
	if got := r.all(); len(got) != 0 {
		t.Errorf("%d released borrows reported as dropped, first: %v", len(got), got[0])
	}
	if n := p.Stats().Destroyed.Dropped; n != 0 {
		t.Errorf("Destroyed.Dropped = %d, want 0", n)
	}
}

// An idle connection holds its handle slab, and the slab's cleanup must not
// hold the connection back: a pool dropped without Close, with no
// background goroutine to keep it alive, is collected with its connections
// (whose own cleanups, such as a net.Conn's, then run).
func TestPoolDroppedWithoutCloseIsCollected(t *testing.T) {
	collected := make(chan struct{})
	func() {
		p, err := New(Config[*int]{
			Dial: func(context.Context) (*int, error) {
				v := new(int)
				runtime.AddCleanup(v, func(ch chan struct{}) { close(ch) }, collected)
				return v, nil
			},
			MaxSize:           1,
			HealthCheckPeriod: -1, // no maintainer goroutine
		})
		if err != nil {
			t.Fatal(err)
		}
		for range 3 { // the second and third borrows reuse the slab the first made
			c, err := p.Acquire(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			c.Release()
		}
	}()
	waitFor(t, "the dropped pool's connection to be collected", func() bool {
		runtime.GC()
		select {
		case <-collected:
			return true
		default:
			return false
		}
	})
}

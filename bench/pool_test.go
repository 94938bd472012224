package bench

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"runtime"
	"testing"
	"time"

	"github.com/connkit/connkit/pool"
	fatih "github.com/fatih/pool"
	"github.com/jackc/puddle/v2"
	commons "github.com/jolestar/go-commons-pool/v2"
	silenceper "github.com/silenceper/pool"
)

// conn is the pooled value: trivial and in memory, so that the benchmarks
// measure the pools and nothing else.
type conn struct{ _ int }

var poolScenarios = []struct{ size, goroutines int }{
	{8, 2},  // uncontended: more connections than borrowers
	{2, 16}, // contended: borrowers queue for connections
}

// BenchmarkAcquireRelease borrows and returns one connection per op, from
// b.RunParallel goroutines, in every pool a Go user might pick. Compare the
// Impl columns with:
//
//	benchstat -col /Impl results.txt
func BenchmarkAcquireRelease(b *testing.B) {
	impls := []struct {
		name string
		run  func(b *testing.B, ctx context.Context, size, goroutines int)
		// uncontendedOnly leaves a pool out of the contended scenarios.
		uncontendedOnly bool
	}{
		{name: "connkit", run: benchConnkit},
		{name: "puddle", run: benchPuddle},
		{name: "database-sql", run: benchDatabaseSQL},
		{name: "go-commons-pool", run: benchCommonsPool},
		{name: "fatih-pool", run: benchFatih},
		// silenceper/pool v1.0.0 loses a wake-up when borrowers wait: a Put
		// that lands between a Get's look at the idle channel and its
		// joining the wait queue goes to the idle channel, and the Get
		// waits forever. With 16 borrowers on 2 connections it deadlocked
		// the benchmark.
		{name: "silenceper-pool", run: benchSilenceper, uncontendedOnly: true},
		{name: "channel", run: benchChannel},
	}
	// A request handler's context can be cancelled; a background job's
	// often cannot. Pools may pay differently for each when they wait.
	cancelable, cancel := context.WithCancel(context.Background())
	defer cancel()
	contexts := []struct {
		name string
		ctx  context.Context
	}{{"background", context.Background()}, {"cancelable", cancelable}}
	for _, sc := range poolScenarios {
		for _, c := range contexts {
			for _, impl := range impls {
				if impl.uncontendedOnly && sc.goroutines > sc.size {
					continue
				}
				name := fmt.Sprintf("Size=%d/Goroutines=%d/Ctx=%s/Impl=%s", sc.size, sc.goroutines, c.name, impl.name)
				b.Run(name, func(b *testing.B) { impl.run(b, c.ctx, sc.size, sc.goroutines) })
			}
		}
	}
}

// runParallel runs body from the given number of goroutines (rounded to a
// multiple of GOMAXPROCS, as b.RunParallel requires).
func runParallel(b *testing.B, goroutines int, body func()) {
	b.Helper()
	b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			body()
		}
	})
}

// connkitConfig is a pool as a production user configures it: pings,
// lifetime with jitter and reset configured (none fires on a clean, busy
// connection), and no leak stacks.
func connkitConfig(size int) pool.Config[*conn] {
	return pool.Config[*conn]{
		Name:           "bench",
		Dial:           func(context.Context) (*conn, error) { return &conn{}, nil },
		Close:          func(*conn) error { return nil },
		Ping:           func(context.Context, *conn) error { return nil },
		Reset:          func(context.Context, *conn) error { return nil },
		Dirty:          func(*conn) bool { return false },
		MaxSize:        size,
		MaxLifetime:    time.Hour,
		LifetimeJitter: time.Minute,
		MaxIdleTime:    time.Hour,
	}
}

func benchConnkit(b *testing.B, ctx context.Context, size, goroutines int) {
	p, err := pool.New(connkitConfig(size))
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close(context.Background())
	warm(b, size, func() (func(), error) {
		c, err := p.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		return c.Release, nil
	})
	runParallel(b, goroutines, func() {
		c, err := p.Acquire(ctx)
		if err != nil {
			b.Error(err)
			return
		}
		c.Release()
	})
}

func benchPuddle(b *testing.B, ctx context.Context, size, goroutines int) {
	p, err := puddle.NewPool(&puddle.Config[*conn]{
		Constructor: func(context.Context) (*conn, error) { return &conn{}, nil },
		Destructor:  func(*conn) {},
		MaxSize:     int32(size),
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	warm(b, size, func() (func(), error) {
		r, err := p.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		return r.Release, nil
	})
	runParallel(b, goroutines, func() {
		r, err := p.Acquire(ctx)
		if err != nil {
			b.Error(err)
			return
		}
		r.Release()
	})
}

func benchDatabaseSQL(b *testing.B, ctx context.Context, size, goroutines int) {
	db := sql.OpenDB(nopConnector{})
	defer db.Close()
	db.SetMaxOpenConns(size)
	db.SetMaxIdleConns(size)
	warm(b, size, func() (func(), error) {
		c, err := db.Conn(ctx)
		if err != nil {
			return nil, err
		}
		return func() { c.Close() }, nil
	})
	runParallel(b, goroutines, func() {
		c, err := db.Conn(ctx)
		if err != nil {
			b.Error(err)
			return
		}
		c.Close()
	})
}

func benchCommonsPool(b *testing.B, ctx context.Context, size, goroutines int) {
	cfg := commons.NewDefaultPoolConfig()
	cfg.MaxTotal, cfg.MaxIdle = size, size
	p := commons.NewObjectPool(ctx, commons.NewPooledObjectFactorySimple(
		func(context.Context) (any, error) { return &conn{}, nil }), cfg)
	defer p.Close(ctx)
	warm(b, size, func() (func(), error) {
		o, err := p.BorrowObject(ctx)
		if err != nil {
			return nil, err
		}
		return func() { p.ReturnObject(ctx, o) }, nil
	})
	runParallel(b, goroutines, func() {
		o, err := p.BorrowObject(ctx)
		if err != nil {
			b.Error(err)
			return
		}
		if err := p.ReturnObject(ctx, o); err != nil {
			b.Error(err)
		}
	})
}

// memConn is the net.Conn that fatih/pool requires, as trivial as conn:
// only Close, which the pool calls when it discards one, is implemented.
type memConn struct{ net.Conn }

func (memConn) Close() error { return nil }

// benchFatih borrows from fatih/pool: Get takes an idle connection or, when
// none is idle, dials a new one (it has no bound on open connections, so
// contended it dials and discards instead of waiting); Close on the
// returned wrapper gives it back. It takes no context.
func benchFatih(b *testing.B, _ context.Context, size, goroutines int) {
	p, err := fatih.NewChannelPool(size, size, func() (net.Conn, error) { return memConn{}, nil })
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	runParallel(b, goroutines, func() {
		c, err := p.Get()
		if err != nil {
			b.Error(err)
			return
		}
		if err := c.Close(); err != nil {
			b.Error(err)
		}
	})
}

// benchSilenceper borrows from silenceper/pool: bounded by MaxCap, a Get
// with every connection out waits for a Put. It takes no context.
func benchSilenceper(b *testing.B, _ context.Context, size, goroutines int) {
	p, err := silenceper.NewChannelPool(&silenceper.Config{
		InitialCap: size,
		MaxCap:     size,
		MaxIdle:    size,
		Factory:    func() (any, error) { return &conn{}, nil },
		Close:      func(any) error { return nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Release()
	runParallel(b, goroutines, func() {
		c, err := p.Get()
		if err != nil {
			b.Error(err)
			return
		}
		if err := p.Put(c); err != nil {
			b.Error(err)
		}
	})
}

// benchChannel is the floor: a buffered channel of connections, the design
// of the simplest pools (fatih/pool, silenceper/pool), with none of their
// bookkeeping.
func benchChannel(b *testing.B, ctx context.Context, size, goroutines int) {
	ch := make(chan *conn, size)
	for range size {
		ch <- &conn{}
	}
	runParallel(b, goroutines, func() {
		select {
		case c := <-ch:
			ch <- c
		case <-ctx.Done():
			b.Error(ctx.Err())
		}
	})
}

// warm borrows size connections at once and gives them back, so that every
// implementation starts the timed loop with a full set of idle connections.
func warm(b *testing.B, size int, acquire func() (release func(), err error)) {
	b.Helper()
	var releases []func()
	for range size {
		release, err := acquire()
		if err != nil {
			b.Fatal(err)
		}
		releases = append(releases, release)
	}
	for _, r := range releases {
		r()
	}
}

// nopConnector is a database/sql driver whose connections do nothing.
type nopConnector struct{}

func (nopConnector) Connect(context.Context) (driver.Conn, error) { return nopConn{}, nil }
func (nopConnector) Driver() driver.Driver                        { return nopDriver{} }

type nopDriver struct{}

func (nopDriver) Open(string) (driver.Conn, error) { return nopConn{}, nil }

type nopConn struct{}

var errNotSupported = errors.New("bench: not supported")

func (nopConn) Prepare(string) (driver.Stmt, error) { return nil, errNotSupported }
func (nopConn) Close() error                        { return nil }
func (nopConn) Begin() (driver.Tx, error)           { return nil, errNotSupported }

// BenchmarkLeakTracking measures what leak tracking adds to a borrow:
// StacksOff (labels, ages and dropped-handle detection only), StacksSampled
// with SampleEvery 64, and StacksAlways. Compare with:
//
//	benchstat -col /Stacks results.txt
func BenchmarkLeakTracking(b *testing.B) {
	modes := []struct {
		name string
		leak pool.LeakConfig
	}{
		{"off", pool.LeakConfig{Stacks: pool.StacksOff}},
		{"sampled64", pool.LeakConfig{Stacks: pool.StacksSampled, SampleEvery: 64}},
		{"always", pool.LeakConfig{Stacks: pool.StacksAlways}},
	}
	for _, m := range modes {
		b.Run("Size=8/Goroutines=2/Stacks="+m.name, func(b *testing.B) {
			cfg := connkitConfig(8)
			cfg.Leak = m.leak
			cfg.Leak.Threshold = time.Minute // the sweep runs, as in production
			p, err := pool.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer p.Close(context.Background())
			ctx := pool.WithLabel(context.Background(), "bench")
			warm(b, 8, func() (func(), error) {
				c, err := p.Acquire(ctx)
				if err != nil {
					return nil, err
				}
				return c.Release, nil
			})
			runParallel(b, 2, func() {
				c, err := p.Acquire(ctx)
				if err != nil {
					b.Error(err)
					return
				}
				c.Release()
			})
		})
	}
}

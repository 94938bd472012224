package bench

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/reset"
	"github.com/redis/go-redis/v9"
)

// redisPool returns a pool of size dedicated connections of client,
// closed with the benchmark, without the background sweep and with no
// ping on acquire, so that an op costs only what it sends.
func redisPool(b *testing.B, client *redis.Client, size int, resetOn bool) *pool.Pool[*redis.Conn] {
	b.Helper()
	cfg := reset.NewRedis(client).PoolConfig()
	cfg.MaxSize = size
	cfg.HealthCheckPeriod = -1
	cfg.PingAfterIdle = -1
	if !resetOn {
		cfg.Reset = nil // a dirty connection is destroyed on release and redialed
	}
	p, err := pool.New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { p.Close(context.Background()) })
	return p
}

// BenchmarkRedisReset measures a borrow of a pooled dedicated connection
// that runs one round trip of two commands and gives it back: clean (GET,
// PING), or dirty (GET, SELECT 0) and then reset in place or destroyed and
// redialed. The reset runs after Release, off the borrower; the next
// Acquire waits for it, so its cost is in the op.
func BenchmarkRedisReset(b *testing.B) {
	srv := testenv.StartRedis(b, nil)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: 4})
	b.Cleanup(func() { client.Close() })
	ctx := context.Background()
	modes := []struct {
		name    string
		second  func(p redis.Pipeliner)
		resetOn bool
	}{
		{"clean", func(p redis.Pipeliner) { p.Ping(ctx) }, true},
		{"dirty-reset", func(p redis.Pipeliner) { p.Select(ctx, 0) }, true},
		{"dirty-redial", func(p redis.Pipeliner) { p.Select(ctx, 0) }, false},
	}
	for _, m := range modes {
		b.Run("Redis/Op=GET/Mode="+m.name, func(b *testing.B) {
			p := redisPool(b, client, 1, m.resetOn)
			b.ReportAllocs()
			redisBorrows(b, p, m.second)
			b.StopTimer()
			s := p.Stats()
			b.ReportMetric(float64(s.Resets)/float64(b.N), "resets/op")
			b.ReportMetric(float64(s.Dials)/float64(b.N), "dials/op")
		})
	}
}

// redisBorrows runs the benchmark's loop: borrow a connection from p, send
// GET and second in one round trip, give the connection back.
func redisBorrows(b *testing.B, p *pool.Pool[*redis.Conn], second func(redis.Pipeliner)) {
	ctx := context.Background()
	for b.Loop() {
		c, err := p.Acquire(ctx)
		if err != nil {
			b.Fatal(err)
		}
		_, err = c.Value().Pipelined(ctx, func(p redis.Pipeliner) error {
			p.Get(ctx, "k")
			second(p)
			return nil
		})
		if err != nil && !errors.Is(err, redis.Nil) {
			b.Fatal(err)
		}
		c.Release()
	}
}

// BenchmarkRedisGet compares GET through a pool-borrowed dedicated
// connection with go-redis's own pooled client.Get, at 8 goroutines, with
// connkit's MaxSize equal to go-redis's PoolSize.
func BenchmarkRedisGet(b *testing.B) {
	const goroutines, size = 8, 8
	srv := testenv.StartRedis(b, nil)
	ctx := context.Background()
	parallelism := max(1, goroutines/runtime.GOMAXPROCS(0))
	b.Run("Redis/Op=GET/Impl=connkit", func(b *testing.B) {
		client := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: size})
		defer client.Close()
		p := redisPool(b, client, size, true)
		b.ReportAllocs()
		b.SetParallelism(parallelism)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if err := pooledGet(ctx, p); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	// go-redis's dedicated connection with no pool around it: each
	// goroutine holds one *redis.Conn for the whole run. The difference
	// between this and go-redis is go-redis's; between connkit and this,
	// connkit's pool and command tracking.
	b.Run("Redis/Op=GET/Impl=go-redis-conn", func(b *testing.B) {
		benchGoRedisGet(b, srv.Addr(), size, parallelism, func(c *redis.Client) (redis.Cmdable, func() error) {
			conn := c.Conn()
			return conn, conn.Close
		})
	})
	b.Run("Redis/Op=GET/Impl=go-redis", func(b *testing.B) {
		benchGoRedisGet(b, srv.Addr(), size, parallelism, func(c *redis.Client) (redis.Cmdable, func() error) {
			return c, func() error { return nil }
		})
	})
}

// pooledGet borrows a dedicated connection from p, runs GET on it and
// gives it back.
func pooledGet(ctx context.Context, p *pool.Pool[*redis.Conn]) error {
	c, err := p.Acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return get(ctx, c.Value())
}

// get runs the benchmarks' GET on c; the key is never set, and its absence
// is not an error.
func get(ctx context.Context, c redis.Cmdable) error {
	if err := c.Get(ctx, "k").Err(); err != redis.Nil {
		return err
	}
	return nil
}

// BenchmarkRedisGetPaired times BenchmarkRedisGet's connkit and go-redis
// GETs in the same moments: each of 8 goroutines does one GET through a
// dedicated connection borrowed from connkit's pool and one through
// go-redis's pooled client.Get, in turn (which goes first alternates), each
// timed on its own. Separate runs of the two are minutes apart in a report,
// and on a virtual machine the loopback round trip drifts more than that
// (go-redis's own runs ranged from 20.6 to 39.3 µs within one report);
// paired, both see the same drift and the same load on the server.
// Metrics: connkit-ns/get and go-redis-ns/get are each one's mean GET, and
// connkit/go-redis their ratio in the run.
func BenchmarkRedisGetPaired(b *testing.B) {
	const goroutines, size = 8, 8
	srv := testenv.StartRedis(b, nil)
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: size})
	defer client.Close()
	p := redisPool(b, client, size, true)
	peer := redis.NewClient(&redis.Options{Addr: srv.Addr(), PoolSize: size, PoolTimeout: 30 * time.Second})
	defer peer.Close()
	b.Run("Redis/Op=GET", func(b *testing.B) {
		var ours, theirs atomic.Int64
		b.SetParallelism(max(1, goroutines/runtime.GOMAXPROCS(0)))
		b.RunParallel(func(pb *testing.PB) {
			var mine, peers time.Duration
			connkitFirst := false
			for pb.Next() {
				connkitFirst = !connkitFirst
				for _, connkit := range [2]bool{connkitFirst, !connkitFirst} {
					start := time.Now()
					var err error
					if connkit {
						err = pooledGet(ctx, p)
						mine += time.Since(start)
					} else {
						err = get(ctx, peer)
						peers += time.Since(start)
					}
					if err != nil {
						b.Error(err)
						return
					}
				}
			}
			ours.Add(int64(mine))
			theirs.Add(int64(peers))
		})
		b.ReportMetric(float64(ours.Load())/float64(b.N), "connkit-ns/get")
		b.ReportMetric(float64(theirs.Load())/float64(b.N), "go-redis-ns/get")
		b.ReportMetric(float64(ours.Load())/float64(theirs.Load()), "connkit/go-redis")
	})
}

// benchGoRedisGet runs GET from parallel goroutines, each through what open
// returns for it, on a go-redis client of its own.
func benchGoRedisGet(b *testing.B, addr string, size, parallelism int, open func(*redis.Client) (redis.Cmdable, func() error)) {
	ctx := context.Background()
	client := redis.NewClient(&redis.Options{Addr: addr, PoolSize: size, PoolTimeout: 30 * time.Second})
	defer client.Close()
	b.ReportAllocs()
	b.SetParallelism(parallelism)
	b.RunParallel(func(pb *testing.PB) {
		c, done := open(client)
		defer done()
		for pb.Next() {
			if err := get(ctx, c); err != nil {
				b.Error(err)
			}
		}
	})
}

package bench

import (
	"context"
	"testing"
	"time"

	"github.com/connkit/connkit/internal/faultproxy"
	"github.com/connkit/connkit/internal/testenv"
	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
)

// rttLatency is the delay the fault proxy adds in each direction in
// BenchmarkResetRoundTrips: a round trip costs 2*rttLatency more than on
// loopback, which dwarfs what the servers spend on any command.
const rttLatency = time.Millisecond

// BenchmarkResetRoundTrips repeats the clean and dirty-reset borrows of
// BenchmarkMySQLBorrow (connkit) and BenchmarkRedisReset through a proxy
// that adds rttLatency each way, so that the network decides: a clean
// borrow is one round trip, a dirty one with its reset in place should be
// two, and its extra time over a clean borrow, in round trips, is the
// reset's count (a reset of two round trips would add twice as much). On
// loopback the same comparison is at the edge, since RESET and
// COM_RESET_CONNECTION cost the servers more than a GET or a SELECT 1.
func BenchmarkResetRoundTrips(b *testing.B) {
	ctx := context.Background()
	b.Run("Backend=mysql", func(b *testing.B) {
		srv := testenv.StartMariaDB(b, nil)
		proxy := faultproxy.Start(b, srv.Addr())
		proxy.SetLatency(rttLatency)
		for _, mode := range []struct{ name, query string }{
			{"clean", "SELECT 1"},
			{"dirty-reset", "SELECT @a := 1"},
		} {
			b.Run("Mode="+mode.name, func(b *testing.B) {
				cfg, err := mysql.ParseDSN(srv.DSN())
				if err != nil {
					b.Fatal(err)
				}
				cfg.Addr = proxy.Addr()
				mysqlBorrows(b, openBenchDB(b, cfg, "connkit"), mode.query)
			})
		}
	})
	b.Run("Backend=redis", func(b *testing.B) {
		srv := testenv.StartRedis(b, nil)
		proxy := faultproxy.Start(b, srv.Addr())
		proxy.SetLatency(rttLatency)
		client := redis.NewClient(&redis.Options{Addr: proxy.Addr(), PoolSize: 4})
		b.Cleanup(func() { client.Close() })
		for _, mode := range []struct {
			name   string
			second func(p redis.Pipeliner)
		}{
			{"clean", func(p redis.Pipeliner) { p.Ping(ctx) }},
			{"dirty-reset", func(p redis.Pipeliner) { p.Select(ctx, 0) }},
		} {
			b.Run("Mode="+mode.name, func(b *testing.B) {
				redisBorrows(b, redisPool(b, client, 1, true), mode.second)
			})
		}
	})
}

package reset_test

import (
	"context"
	"log"
	"time"

	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/reset"
	"github.com/redis/go-redis/v9"
)

// ExampleNewRedis pools dedicated Redis connections: a handler may SELECT,
// WATCH or name its connection, and the next one still gets a connection
// in the client's configured session (DB 2, named "app"). It needs a
// redis-server on localhost:6379, so it is compiled but not run.
func ExampleNewRedis() {
	client := redis.NewClient(&redis.Options{Addr: "localhost:6379", DB: 2, ClientName: "app", PoolSize: 16})
	defer client.Close()

	cfg := reset.NewRedis(client).PoolConfig() // Dial, Close, Ping, Dirty, Reset; MaxSize 16
	cfg.Name = "sessions"
	p, err := pool.New(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(context.Background())

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = p.With(ctx, func(ctx context.Context, conn *redis.Conn) error {
		// Dirties the connection: it is reset in one round trip on return.
		if err := conn.Select(ctx, 5).Err(); err != nil {
			return err
		}
		return conn.Set(ctx, "k", "v", 0).Err()
	})
	if err != nil {
		log.Print(err)
	}
	err = p.With(ctx, func(ctx context.Context, conn *redis.Conn) error {
		// A clean borrow: given back at no cost. This connection is on DB 2.
		return conn.Get(ctx, "k").Err()
	})
	if err != nil && err != redis.Nil {
		log.Print(err)
	}
}

package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/connkit/connkit/health"
	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/reset"
	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"
)

// redisOptions returns the options for -redis: host:port, or a redis:// URL.
func redisOptions(addr string) (*redis.Options, error) {
	if !strings.Contains(addr, "://") {
		return &redis.Options{Addr: addr}, nil
	}
	opts, err := redis.ParseURL(addr)
	if err != nil {
		return nil, fmt.Errorf("-redis: %w", err)
	}
	return opts, nil
}

// openPool opens a pool of one connection for cfg, so that every borrower
// gets the same one, closed at the end and shown in the summary.
func openPool[T any](d *demo, cfg pool.Config[T]) (*pool.Pool[T], error) {
	cfg.MaxSize = 1
	cfg.AcquireTimeout = 2 * time.Second
	p, err := pool.New(cfg)
	if err != nil {
		return nil, err
	}
	d.closeLater(cfg.Name+" pool", p.Close)
	d.track(p)
	return p, nil
}

// redis pools connections to the Redis server of opts: a borrower's SELECT
// is undone before the next borrower gets the same connection.
func (d *demo) redis(ctx context.Context, opts *redis.Options) error {
	opts.PoolSize = 4 // room for the pool's connection and the health check's
	client := redis.NewClient(opts)
	d.closeLater("redis client", func(context.Context) error { return client.Close() })
	p, err := openPool(d, reset.NewRedis(client).PoolConfig()) // Name "redis"
	if err != nil {
		return err
	}
	d.section(fmt.Sprintf("pool against Redis at %s (reset.NewRedis(client).PoolConfig())", opts.Addr))

	if err := d.check(ctx, "health.Redis", health.Redis(client)); err != nil {
		return err
	}
	var first int64
	err = p.With(pool.WithLabel(ctx, "borrower 1"), func(ctx context.Context, c *redis.Conn) error {
		if err := c.Select(ctx, 3).Err(); err != nil {
			return err
		}
		info, err := c.ClientInfo(ctx).Result()
		if err == nil {
			first = info.ID
			d.say("   borrower 1: SELECT 3; CLIENT ID %d, db %d: dirty, reset when given back", info.ID, info.DB)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	err = p.With(pool.WithLabel(ctx, "borrower 2"), func(ctx context.Context, c *redis.Conn) error {
		info, err := c.ClientInfo(ctx).Result()
		if err == nil {
			d.say("   borrower 2: CLIENT ID %d, db %d: %s", info.ID, info.DB, sameConn(first == info.ID, opts.DB == info.DB))
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("redis: %w", err)
	}
	d.say("   %s", formatPool(p.Stats()))
	return nil
}

// mysql pools connections to MySQL or MariaDB: a borrower's SET time_zone
// is undone before the next borrower gets the same connection. The DSN is
// never printed, nor cfg.Passwd.
func (d *demo) mysql(ctx context.Context, cfg *mysql.Config) error {
	connector, err := reset.MySQLConnector(cfg)
	if err != nil {
		return fmt.Errorf("-mysql: %w", err)
	}
	db := sql.OpenDB(connector)
	d.closeLater("mysql db", func(context.Context) error { return db.Close() })
	p, err := openPool(d, reset.NewSQL(db).PoolConfig()) // Name "mysql"
	if err != nil {
		return err
	}
	d.section(fmt.Sprintf("pool against MySQL at %s@%s/%s (reset.MySQLConnector, reset.NewSQL(db).PoolConfig())", cfg.User, cfg.Addr, cfg.DBName))

	if err := d.check(ctx, "health.SQL", health.SQL(db)); err != nil {
		return redact(cfg, err)
	}
	var first int64
	var fresh string
	err = p.With(pool.WithLabel(ctx, "borrower 1"), func(ctx context.Context, c *sql.Conn) error {
		id, tz, err := session(ctx, c)
		if err != nil {
			return err
		}
		first, fresh = id, tz
		if _, err := c.ExecContext(ctx, "SET time_zone = '+05:00'"); err != nil {
			return err
		}
		_, dirty, err := session(ctx, c)
		d.say("   borrower 1: connection %d, time_zone %s; SET time_zone = '+05:00': %s, dirty", id, tz, dirty)
		return err
	})
	if err != nil {
		return redact(cfg, fmt.Errorf("mysql: %w", err))
	}
	err = p.With(pool.WithLabel(ctx, "borrower 2"), func(ctx context.Context, c *sql.Conn) error {
		id, tz, err := session(ctx, c)
		if err == nil {
			d.say("   borrower 2: connection %d, time_zone %s: %s", id, tz, sameConn(id == first, tz == fresh))
		}
		return err
	})
	if err != nil {
		return redact(cfg, fmt.Errorf("mysql: %w", err))
	}
	d.say("   %s", formatPool(p.Stats()))
	return nil
}

// session returns the connection's ID and time zone.
func session(ctx context.Context, c *sql.Conn) (id int64, tz string, err error) {
	err = c.QueryRowContext(ctx, "SELECT CONNECTION_ID(), @@session.time_zone").Scan(&id, &tz)
	return id, tz, err
}

// sameConn says what the second borrower found.
func sameConn(sameID, clean bool) string {
	switch {
	case sameID && clean:
		return "the same connection, reset in place"
	case clean:
		return "a new connection (this server cannot reset in place)"
	default:
		return "NOT RESET"
	}
}

// check runs a health checker once, bounded by 2s, and prints its result.
func (d *demo) check(ctx context.Context, name string, c health.Checker) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	start := time.Now()
	err := c.Check(ctx)
	took := time.Since(start).Round(100 * time.Microsecond)
	if err != nil {
		d.say("   %s check: failed after %v", name, took)
		return fmt.Errorf("%s: %w", name, err)
	}
	d.say("   %s check: ok in %v", name, took)
	return nil
}

// redact returns err with cfg's password replaced by REDACTED wherever its
// message quotes it.
func redact(cfg *mysql.Config, err error) error {
	if cfg.Passwd == "" || !strings.Contains(err.Error(), cfg.Passwd) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), cfg.Passwd, "REDACTED"))
}

// redactf is fmt.Errorf, with the password of dsn replaced by REDACTED
// wherever the message quotes it.
func redactf(dsn, format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	at := strings.LastIndex(dsn, "@")
	colon := strings.Index(dsn, ":")
	if colon < 0 || at < colon+1 {
		return err
	}
	pass := dsn[colon+1 : at]
	if pass == "" || !strings.Contains(err.Error(), pass) {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), pass, "REDACTED"))
}

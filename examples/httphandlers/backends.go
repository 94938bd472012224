package main

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"time"

	"github.com/go-sql-driver/mysql"
	"github.com/redis/go-redis/v9"

	"github.com/connkit/connkit/health"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/reset"
)

const (
	// poolSize is each pool's MaxSize: the most connections the service
	// holds to each backend for its handlers.
	poolSize = 8
	// spareConns is what the Redis client and the *sql.DB keep beyond the
	// pool's MaxSize, for the health checks, which use them directly.
	spareConns = 2

	acquireTimeout = 2 * time.Second // a handler waits this long for a connection
	leakThreshold  = 5 * time.Second // a borrow held longer is logged, with its label

	// usersTable is the example's own table, created in the DSN's database
	// at start-up if missing. visitsKey prefixes the example's Redis keys.
	usersTable = "connkit_example_users"
	visitsKey  = "connkit_example:visits:"
)

// backends are the service's connections: a Redis client and a MySQL
// *sql.DB, a pool of dedicated connections of each for the handlers, and the
// passwords they hold, which no response or log line may show.
type backends struct {
	client  *redis.Client
	db      *sql.DB
	redis   *pool.Pool[*redis.Conn]
	mysql   *pool.Pool[*sql.Conn]
	secrets []string
}

// openBackends opens the clients and pools of o and adds each to group as it
// goes, a pool after its client so that the pool closes first. It dials
// nothing: the pools dial on demand. On error, what was opened is in group.
func openBackends(o options, logger *slog.Logger, group *lifecycle.Group) (*backends, error) {
	b := &backends{}
	if err := b.openRedis(o, logger, group); err != nil {
		return nil, err
	}
	if err := b.openMySQL(o, logger, group); err != nil {
		return nil, err
	}
	return b, nil
}

// openRedis opens the Redis client and the "redis" pool of its dedicated
// connections, which reset.Redis resets when a borrower changed the session.
func (b *backends) openRedis(o options, logger *slog.Logger, group *lifecycle.Group) error {
	b.client = redis.NewClient(&redis.Options{
		Addr:                  o.redisAddr,
		Password:              o.redisPassword,
		PoolSize:              poolSize + spareConns, // the pool's dedicated connections come from here
		DialTimeout:           2 * time.Second,
		DialerRetries:         1,    // one try per dial: the pool's backoff spaces them (see reset.Redis)
		ContextTimeoutEnabled: true, // a handler's deadline bounds its commands
	})
	group.Add("redis client", func(context.Context) error { return b.client.Close() })
	b.addSecret(o.redisPassword)

	cfg := reset.NewRedis(b.client).PoolConfig() // Name "redis"; Dial, Close, Ping, Dirty, Reset
	p, err := pool.New(withLimits(cfg, logger))
	if err != nil {
		return fmt.Errorf("redis pool: %w", err)
	}
	group.Add("redis pool", p.Close)
	b.redis = p
	return nil
}

// openMySQL opens a *sql.DB on reset.MySQLConnector for o's DSN, and the
// "mysql" pool of its dedicated connections.
func (b *backends) openMySQL(o options, logger *slog.Logger, group *lifecycle.Group) error {
	dsn, err := mysql.ParseDSN(o.mysqlDSN)
	if err != nil {
		return fmt.Errorf("-mysql: %w", err) // the driver's errors never quote the DSN
	}
	if dsn.Timeout == 0 {
		dsn.Timeout = 5 * time.Second // dial timeout, when the DSN sets none
	}
	b.addSecret(dsn.Passwd)
	connector, err := reset.MySQLConnector(dsn)
	if err != nil {
		return fmt.Errorf("-mysql: %w", err)
	}
	b.db = sql.OpenDB(connector)
	b.db.SetMaxOpenConns(poolSize + spareConns) // at least the pool's MaxSize
	b.db.SetMaxIdleConns(poolSize + spareConns)
	group.Add("mysql db", func(context.Context) error { return b.db.Close() })

	cfg := reset.NewSQL(b.db).PoolConfig() // Name "mysql"; Dial, Close, Ping, Dirty, Reset, IsBroken
	p, err := pool.New(withLimits(cfg, logger))
	if err != nil {
		return fmt.Errorf("mysql pool: %w", err)
	}
	group.Add("mysql pool", p.Close)
	b.mysql = p
	return nil
}

// withLimits returns cfg with the settings both pools share: size, acquire
// timeout, leak reports (with one acquisition stack in 64) and logger.
func withLimits[T any](cfg pool.Config[T], logger *slog.Logger) pool.Config[T] {
	cfg.MaxSize = poolSize
	cfg.AcquireTimeout = acquireTimeout
	cfg.Leak = pool.LeakConfig{Threshold: leakThreshold, Stacks: pool.StacksSampled}
	cfg.Logger = logger
	return cfg
}

// addSecret records a password that must never be shown.
func (b *backends) addSecret(s string) {
	if s != "" {
		b.secrets = append(b.secrets, s)
	}
}

// createTable creates the users table if it is missing and puts the example's
// rows in it, through the pool like any handler.
func (b *backends) createTable(ctx context.Context) error {
	err := b.mysql.With(pool.WithLabel(ctx, "setup"), func(ctx context.Context, c *sql.Conn) error {
		if _, err := c.ExecContext(ctx, "CREATE TABLE IF NOT EXISTS "+usersTable+
			" (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, email VARCHAR(128) NOT NULL)"); err != nil {
			return err
		}
		_, err := c.ExecContext(ctx, "INSERT IGNORE INTO "+usersTable+" (id, name, email) VALUES"+
			" (1, 'Ada Lovelace', 'ada@example.com'),"+
			" (2, 'Grace Hopper', 'grace@example.com'),"+
			" (3, 'Ken Thompson', 'ken@example.com')")
		return err
	})
	if err != nil {
		return fmt.Errorf("mysql: create table %s: %w", usersTable, err)
	}
	return nil
}

// newMonitor returns a health monitor of b, checking each backend every
// period, added to group. Its checks go through the Redis client and the
// *sql.DB, not the pools: a pool exhausted by slow handlers does not make
// the service look down, and the pools are reported beside the checks.
func (b *backends) newMonitor(period time.Duration, logger *slog.Logger, group *lifecycle.Group) (*health.Monitor, error) {
	var secrets []string
	for _, s := range b.secrets {
		if len(s) >= 4 { // the Monitor refuses shorter ones, which would blank out unrelated text
			secrets = append(secrets, s)
		}
	}
	m, err := health.NewMonitor(health.MonitorOptions{
		Period:  period,
		Timeout: min(health.DefaultTimeout, period),
		Secrets: secrets,
		Logger:  logger,
	})
	if err != nil {
		return nil, err
	}
	group.Add("health monitor", func(context.Context) error { m.Close(); return nil })
	for _, err := range []error{
		m.Add("redis", health.Redis(b.client)),
		m.Add("mysql", health.SQL(b.db)),
		m.AddPool(b.redis),
		m.AddPool(b.mysql),
	} {
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

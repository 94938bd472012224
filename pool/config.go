package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// Defaults for the Config fields left zero.
const (
	DefaultConnectTimeout    = 10 * time.Second
	DefaultMaxIdleTime       = 30 * time.Minute
	DefaultMaxLifetime       = time.Hour
	DefaultHealthCheckPeriod = time.Minute
	DefaultPingAfterIdle     = time.Second
	DefaultPingTimeout       = 5 * time.Second
)

// Config configures a Pool. New copies it and fills in the defaults;
// changing it afterwards changes nothing.
//
// Durations that a pool enforces (MaxIdleTime, MaxLifetime,
// HealthCheckPeriod, PingAfterIdle) take their default when zero and are
// turned off when negative.
type Config[T any] struct {
	// Name names the pool in errors, logs, stats and leak reports. Empty
	// means "pool". It must not hold a secret.
	Name string

	// Dial opens a connection. It is required. It runs with a context that
	// keeps the values of the acquiring caller's context but not its
	// cancellation, bounded by ConnectTimeout and cancelled by Close, so a
	// caller that gives up never wastes a dial others are waiting for. Its
	// errors show in Stats.LastDialError, in AcquireError and in logs: they
	// must not hold a secret (a DSN with its password, a token).
	Dial func(ctx context.Context) (T, error)

	// Close closes a connection the pool destroys. Nil means connections need
	// no closing. Its error is logged, not returned.
	Close func(T) error

	// Ping checks that an idle connection still works. Nil means connections
	// are never pinged. It is bounded by PingTimeout; an error destroys the
	// connection.
	Ping func(ctx context.Context, v T) error

	// Reset brings a dirty connection back to the state of a fresh one before
	// it is reused. It runs after Release, off the releasing goroutine,
	// bounded by PingTimeout, and only for a connection marked with
	// Conn.MarkDirty or for which Dirty reports true: a clean release runs no
	// reset. An error destroys the connection. Nil means connections are
	// never reset; a dirty one is then destroyed on release, never reused.
	Reset func(ctx context.Context, v T) error

	// Dirty reports whether a released connection needs Reset. It is called
	// on every release, so it must be cheap and do no I/O: the backend
	// adapters in connkit's reset package track state as commands go out.
	// Nil means only Conn.MarkDirty makes a connection dirty.
	Dirty func(v T) bool

	// MaxSize caps the connections open at once, borrowed, idle and being
	// dialed together. Zero means max(4, runtime.GOMAXPROCS(0)).
	MaxSize int

	// MinIdle is how many idle connections the pool keeps ready, dialing
	// them in the background from New on and after each destroy, never
	// beyond MaxSize. Zero means none: connections are dialed on demand. It
	// must not exceed MaxSize.
	MinIdle int

	// AcquireTimeout bounds how long Acquire waits for a connection, on top
	// of the caller's context, the pings of idle connections it checks
	// included. Zero means only the caller's context bounds it.
	AcquireTimeout time.Duration

	// ConnectTimeout bounds each dial. Zero means DefaultConnectTimeout
	// (10s). It must not be negative: an unbounded dial to a blackholed
	// backend would hold a slot of the pool forever.
	ConnectTimeout time.Duration

	// MaxIdleTime destroys a connection that has been idle this long, on
	// acquire and in the background. Idle time counts from when the
	// connection was last handed out (Release reads no clock), so one
	// borrowed for longer than MaxIdleTime is retired when next acquired.
	// Zero means DefaultMaxIdleTime (30m); negative means idle connections
	// are never retired for idleness.
	MaxIdleTime time.Duration

	// MaxLifetime destroys a connection this long after it was dialed (plus
	// its jitter), on acquire, on release and in the background, so that
	// connections move when the backend behind a load balancer does. A
	// borrowed connection is never taken from its borrower. Release checks
	// against the pool's clock, which borrows and the sweep keep current:
	// with HealthCheckPeriod negative and no other borrow since the
	// lifetime ended, the next Acquire retires the connection instead.
	// Zero means DefaultMaxLifetime (1h); negative means no limit.
	MaxLifetime time.Duration

	// LifetimeJitter adds to each connection's MaxLifetime a random
	// duration, uniform in [0, LifetimeJitter), fixed when it is dialed, so
	// that connections dialed together do not all expire together. Zero
	// means no jitter.
	LifetimeJitter time.Duration

	// HealthCheckPeriod is how often the background sweep retires idle
	// connections past their limits, pings those idle longer than
	// PingAfterIdle, and tops the pool up to MinIdle. Zero means
	// DefaultHealthCheckPeriod (1m); negative means no background sweep (no
	// goroutine), and MinIdle is then only filled at New.
	HealthCheckPeriod time.Duration

	// PingAfterIdle is how long a connection may sit idle before it is
	// pinged: by Acquire before handing it out, and by the sweep as a
	// keepalive. Zero means DefaultPingAfterIdle (1s); negative means never.
	PingAfterIdle time.Duration

	// PingTimeout bounds each Ping and each Reset. Zero means
	// DefaultPingTimeout (5s).
	PingTimeout time.Duration

	// NewBackOff returns the policy that spaces dials after a dial failure.
	// While the backend is failing, at most one dial is in flight and the
	// callers in between get the last dial error at once, wrapped in a
	// *lifecycle.BackoffError. Nil means lifecycle.DefaultBackOff.
	NewBackOff func() backoff.BackOff

	// IsBroken reports whether an error returned by the function passed to
	// With means the connection is broken and must be destroyed rather than
	// reused. Nil means IsBroken, this package's default.
	IsBroken func(error) bool

	// Leak configures reports of borrows held too long or never returned:
	// see LeakConfig. The zero value records labels and ages and finds
	// dropped handles, and reports no borrow for its age.
	Leak LeakConfig

	// Logger receives the pool's log lines: dial failures and recoveries,
	// connections destroyed by a failed ping or reset, Close with borrows
	// outstanding. Nil means no logging, with one exception: leak reports,
	// which exist only when LeakConfig.Threshold asks for them, go to
	// slog.Default() when neither Logger nor LeakConfig.OnLeak is set, so
	// that a report asked for is never dropped.
	Logger *slog.Logger
}

// withDefaults returns a copy of cfg with the defaults filled in, or an
// error naming the first invalid field.
func (cfg Config[T]) withDefaults() (Config[T], error) {
	if cfg.Dial == nil {
		return cfg, errors.New("pool: Config.Dial is required")
	}
	if cfg.Name == "" {
		cfg.Name = "pool"
	}
	if cfg.MaxSize < 0 {
		return cfg, fmt.Errorf("pool: Config.MaxSize is negative (%d)", cfg.MaxSize)
	}
	if cfg.MaxSize == 0 {
		cfg.MaxSize = max(4, runtime.GOMAXPROCS(0))
	}
	if cfg.MinIdle < 0 || cfg.MinIdle > cfg.MaxSize {
		return cfg, fmt.Errorf("pool: Config.MinIdle (%d) must be between 0 and MaxSize (%d)", cfg.MinIdle, cfg.MaxSize)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"AcquireTimeout", cfg.AcquireTimeout},
		{"ConnectTimeout", cfg.ConnectTimeout},
		{"LifetimeJitter", cfg.LifetimeJitter},
		{"PingTimeout", cfg.PingTimeout},
	} {
		if d.v < 0 {
			return cfg, fmt.Errorf("pool: Config.%s is negative (%v)", d.name, d.v)
		}
	}
	defaultTo(&cfg.ConnectTimeout, DefaultConnectTimeout)
	defaultTo(&cfg.PingTimeout, DefaultPingTimeout)
	defaultTo(&cfg.MaxIdleTime, DefaultMaxIdleTime)
	defaultTo(&cfg.MaxLifetime, DefaultMaxLifetime)
	defaultTo(&cfg.HealthCheckPeriod, DefaultHealthCheckPeriod)
	defaultTo(&cfg.PingAfterIdle, DefaultPingAfterIdle)
	if cfg.IsBroken == nil {
		cfg.IsBroken = IsBroken
	}
	if err := cfg.Leak.validate(cfg.Logger); err != nil {
		return cfg, err
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

func defaultTo(d *time.Duration, def time.Duration) {
	if *d == 0 {
		*d = def
	}
}

// enabled reports whether a limit that is turned off when negative is on.
func enabled(d time.Duration) bool { return d > 0 }

package pool

import (
	"context"
	"strings"
	"testing"
	"time"
)

// FuzzConfig feeds New every combination of sizes and durations: it either
// returns a pool that works and closes, or an error that names the field,
// never a panic.
func FuzzConfig(f *testing.F) {
	f.Add(4, 1, int64(time.Second), int64(time.Second), int64(0), int64(time.Minute), int64(time.Second), int64(time.Second), int64(0))
	f.Add(-1, 0, int64(0), int64(0), int64(0), int64(0), int64(0), int64(0), int64(0))
	f.Add(2, 3, int64(-1), int64(-5), int64(-1), int64(-1), int64(-1), int64(-1), int64(-1))
	f.Fuzz(func(t *testing.T, maxSize, minIdle int, acquire, connect, idle, lifetime, jitter, ping, period int64) {
		if maxSize > 64 || minIdle > 64 {
			return // a pool that size dials too much for a fuzz iteration
		}
		p, err := New(Config[*fconn]{
			Dial:    func(context.Context) (*fconn, error) { return &fconn{}, nil },
			MaxSize: maxSize, MinIdle: minIdle,
			AcquireTimeout: time.Duration(acquire), ConnectTimeout: time.Duration(connect),
			MaxIdleTime: time.Duration(idle), MaxLifetime: time.Duration(lifetime),
			LifetimeJitter: time.Duration(jitter), PingTimeout: time.Duration(ping),
			HealthCheckPeriod: time.Duration(period),
		})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pool: Config.") {
				t.Fatalf("New error does not name the field: %v", err)
			}
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if c, err := p.TryAcquire(ctx); err == nil {
			c.Release()
		}
		if err := p.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

// FuzzLeakAndKeyedConfig feeds New the leak settings and NewKeyed its
// limits: a pool and a keyed pool that work and close, or an error naming
// the field, never a panic.
func FuzzLeakAndKeyedConfig(f *testing.F) {
	f.Add(int64(time.Second), uint8(StacksSampled), 64, 8, int64(time.Minute))
	f.Add(int64(-1), uint8(7), -1, -1, int64(-1))
	f.Add(int64(0), uint8(StacksAlways), 0, 0, int64(0))
	f.Fuzz(func(t *testing.T, threshold int64, stacks uint8, sampleEvery, maxKeys int, ttl int64) {
		cfg := Config[*fconn]{
			Dial: func(context.Context) (*fconn, error) { return &fconn{}, nil },
			Leak: LeakConfig{Threshold: time.Duration(threshold), Stacks: StackMode(stacks), SampleEvery: sampleEvery,
				OnLeak: func(Borrow) {}},
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		if p, err := New(cfg); err != nil {
			if !strings.HasPrefix(err.Error(), "pool: Config.") {
				t.Fatalf("New error does not name the field: %v", err)
			}
		} else {
			if c, err := p.Acquire(ctx); err == nil {
				c.Release()
			}
			if err := p.Close(ctx); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
		k, err := NewKeyed(KeyedConfig[string, *fconn]{
			New:        func(string) Config[*fconn] { return cfg },
			MaxKeys:    maxKeys,
			IdleKeyTTL: time.Duration(ttl),
		})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "pool: KeyedConfig.") {
				t.Fatalf("NewKeyed error does not name the field: %v", err)
			}
			return
		}
		if c, err := k.Acquire(ctx, "a"); err == nil {
			c.Release()
		}
		if err := k.Close(ctx); err != nil {
			t.Fatalf("Keyed Close: %v", err)
		}
	})
}

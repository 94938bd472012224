package pool

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// keyedBackends gives each key its own fake backend.
type keyedBackends struct {
	mu    sync.Mutex
	news  atomic.Int32
	byKey map[string]*backend
}

func (kb *keyedBackends) config(key string) Config[*fconn] {
	kb.news.Add(1)
	kb.mu.Lock()
	defer kb.mu.Unlock()
	if kb.byKey == nil {
		kb.byKey = make(map[string]*backend)
	}
	b := &backend{}
	kb.byKey[key] = b
	cfg := b.config()
	cfg.Name = "tenant-" + key
	return cfg
}

func (kb *keyedBackends) backend(key string) *backend {
	kb.mu.Lock()
	defer kb.mu.Unlock()
	return kb.byKey[key]
}

func newKeyed(t *testing.T, cfg KeyedConfig[string, *fconn]) *Keyed[string, *fconn] {
	t.Helper()
	k, err := NewKeyed(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := k.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return k
}

func TestNewKeyedRejectsBadConfig(t *testing.T) {
	t.Parallel()
	var kb keyedBackends
	tests := []struct {
		name string
		give KeyedConfig[string, *fconn]
		want string
	}{
		{"no New", KeyedConfig[string, *fconn]{}, "KeyedConfig.New is required"},
		{"negative MaxKeys", KeyedConfig[string, *fconn]{New: kb.config, MaxKeys: -1}, "KeyedConfig.MaxKeys is negative"},
		{"negative TTL", KeyedConfig[string, *fconn]{New: kb.config, IdleKeyTTL: -1}, "KeyedConfig.IdleKeyTTL is negative"},
	}
	for _, tt := range tests {
		if _, err := NewKeyed(tt.give); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: NewKeyed = %v, want %q", tt.name, err, tt.want)
		}
	}
}

func TestKeyedNewRunsOncePerKey(t *testing.T) {
	t.Parallel()
	var kb keyedBackends
	k := newKeyed(t, KeyedConfig[string, *fconn]{New: kb.config})
	var wg sync.WaitGroup
	for i := range 60 {
		wg.Go(func() {
			key := fmt.Sprint(i % 3)
			if err := k.With(testCtx(t), key, func(context.Context, *fconn) error { return nil }); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if n := kb.news.Load(); n != 3 {
		t.Errorf("New ran %d times for 3 keys", n)
	}
	if s := k.Stats(); len(s) != 3 || s["1"].Name != "tenant-1" || s["1"].Acquires != 20 {
		t.Errorf("Stats = %+v", s)
	}
}

func TestKeyedBadConfigIsRetried(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	var kb keyedBackends
	k := newKeyed(t, KeyedConfig[string, *fconn]{New: func(key string) Config[*fconn] {
		if calls.Add(1) == 1 {
			return Config[*fconn]{} // no Dial
		}
		return kb.config(key)
	}})
	if _, err := k.Acquire(testCtx(t), "a"); err == nil || !strings.Contains(err.Error(), "Config.Dial is required") {
		t.Fatalf("Acquire with a bad config = %v", err)
	}
	c, err := k.Acquire(testCtx(t), "a")
	if err != nil {
		t.Fatalf("second Acquire = %v; a failed New must not stick", err)
	}
	c.Release()
}

func TestKeyedMaxKeysEvictsLeastRecentlyUsed(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var kb keyedBackends
		k, _ := NewKeyed(KeyedConfig[string, *fconn]{New: kb.config, MaxKeys: 2})
		defer k.Close(context.Background())
		use := func(key string) {
			t.Helper()
			if err := k.With(context.Background(), key, func(context.Context, *fconn) error { return nil }); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
		}
		use("a")
		use("b")
		use("a") // b is now the least recently used
		use("c")
		synctest.Wait()
		if _, ok := k.Stats()["b"]; ok || k.Evicted() != 1 {
			t.Fatalf("keys after the third: %v, evicted %d; want b gone", k.Stats(), k.Evicted())
		}
		if kb.backend("b").open.Load() != 0 {
			t.Error("the evicted key's connections are still open")
		}

		// Every key has a borrow: no room can be made.
		ca, _ := k.Acquire(context.Background(), "a")
		cc, _ := k.Acquire(context.Background(), "c")
		if _, err := k.Acquire(context.Background(), "d"); !errors.Is(err, ErrTooManyKeys) {
			t.Errorf("Acquire of a new key with every key borrowed = %v, want ErrTooManyKeys", err)
		}
		ca.Release()
		cc.Release()
	})
}

func TestKeyedIdleKeyTTL(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var kb keyedBackends
		k, _ := NewKeyed(KeyedConfig[string, *fconn]{New: kb.config, IdleKeyTTL: time.Minute})
		defer k.Close(context.Background())
		idle, _ := k.Acquire(context.Background(), "idle")
		idle.Release()
		held, _ := k.Acquire(context.Background(), "held")
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		s := k.Stats()
		if _, ok := s["idle"]; ok {
			t.Error("the idle key's pool survived its TTL")
		}
		if _, ok := s["held"]; !ok {
			t.Error("a key with a borrowed connection was closed")
		}
		held.Release()
		// The key comes back on demand.
		c, err := k.Acquire(context.Background(), "idle")
		if err != nil {
			t.Fatal(err)
		}
		c.Release()
		if n := kb.news.Load(); n != 3 {
			t.Errorf("New ran %d times, want 3 (idle twice, held once)", n)
		}
	})
}

func TestKeyedClose(t *testing.T) {
	t.Parallel()
	var kb keyedBackends
	k, _ := NewKeyed(KeyedConfig[string, *fconn]{New: kb.config})
	leak, _ := k.Acquire(WithLabel(context.Background(), "report job"), "a")
	c, _ := k.Acquire(context.Background(), "b")
	c.Release()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	err := k.Close(ctx)
	if err == nil || !strings.Contains(err.Error(), `pool "tenant-a" borrow 1 by "report job"`) {
		t.Errorf("Close = %v; want it to name the holder in tenant-a", err)
	}
	if _, err := k.Acquire(context.Background(), "a"); !errors.Is(err, ErrClosed) {
		t.Errorf("Acquire after Close = %v, want ErrClosed", err)
	}
	if kb.backend("a").open.Load()+kb.backend("b").open.Load() != 0 {
		t.Error("connections left open after Close")
	}
	leak.Release()
	if err := k.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func TestKeyedNewPanicDoesNotStick(t *testing.T) {
	t.Parallel()
	var kb keyedBackends
	var calls atomic.Int32
	k := newKeyed(t, KeyedConfig[string, *fconn]{MaxKeys: 1, New: func(key string) Config[*fconn] {
		if calls.Add(1) == 1 {
			panic("bad tenant config")
		}
		return kb.config(key)
	}})
	func() {
		defer func() {
			if r := recover(); r != "bad tenant config" {
				t.Errorf("recovered %v", r)
			}
		}()
		_, _ = k.Acquire(testCtx(t), "a")
	}()
	c, err := k.Acquire(testCtx(t), "a")
	if err != nil {
		t.Fatalf("Acquire after New panicked = %v; the key must be made again", err)
	}
	c.Release()
	if n := calls.Load(); n != 2 {
		t.Errorf("New ran %d times, want 2", n)
	}
}

func TestKeyedSecondCloseWaitsForFirst(t *testing.T) {
	t.Parallel()
	var kb keyedBackends
	k, _ := NewKeyed(KeyedConfig[string, *fconn]{New: kb.config})
	c, _ := k.Acquire(context.Background(), "a")
	first := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		first <- k.Close(ctx) // waits for c until its deadline
	}()
	waitFor(t, "the first Close to start", func() bool { return !k.isOpen() })
	start := time.Now()
	if err := k.Close(context.Background()); err != nil {
		t.Errorf("second Close = %v", err)
	}
	// The first Close runs until its 200ms deadline, waiting for c; the
	// second must wait for it. (The first's own return comes a moment
	// after it let the second go, so that is not the test.)
	if took := time.Since(start); took < 100*time.Millisecond {
		t.Errorf("the second Close returned after %v, while the first was still waiting for its deadline", took)
	}
	select {
	case <-first:
	case <-time.After(5 * time.Second):
		t.Error("the first Close did not return")
	}
	c.Release()
}

// TestKeyedWithRunsFnOnce: With makes a key's pool again when Acquire
// finds it closed for idleness, but an error of fn's own that wraps
// ErrClosed (fn used another pool that is closing, say) is returned, not
// taken for that: fn's side effects must not repeat.
func TestKeyedWithRunsFnOnce(t *testing.T) {
	kb := &keyedBackends{}
	k := newKeyed(t, KeyedConfig[string, *fconn]{New: kb.config})
	var calls atomic.Int32
	fnErr := fmt.Errorf("charge: %w", ErrClosed)
	err := k.With(t.Context(), "a", func(ctx context.Context, c *fconn) error {
		if calls.Add(1) >= 100 {
			return errors.New("ran 100 times")
		}
		return fnErr
	})
	if n := calls.Load(); n != 1 || err != fnErr {
		t.Errorf("With = %v after %d calls of fn, want fn's error after one call", err, n)
	}
}

package pool

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// ErrTooManyKeys is returned by Keyed.Acquire for a new key when MaxKeys
// pools exist and every one of them has connections borrowed, so none can
// be closed to make room.
var ErrTooManyKeys = errors.New("pool: too many keys: every key's pool has connections borrowed")

// KeyedConfig configures a Keyed set of pools.
type KeyedConfig[K comparable, T any] struct {
	// New returns the config of the pool for key. It is required. It runs
	// once per key, on the goroutine of the first Acquire for that key,
	// however many callers race; again only after that key's pool was
	// closed for being idle or to make room. Give each pool a Name that
	// tells keys apart without holding a secret.
	New func(key K) Config[T]

	// MaxKeys caps how many keys have a pool at once. When a new key would
	// exceed it, the pool of the least recently used key with nothing
	// borrowed is closed to make room; when every key has borrows, Acquire
	// returns ErrTooManyKeys. Zero means no limit.
	MaxKeys int

	// IdleKeyTTL closes the pool of a key that has not been acquired from
	// for this long and has nothing borrowed, so that keys seen once do not
	// keep connections forever. Zero means keys are never closed for being
	// idle.
	IdleKeyTTL time.Duration
}

// Keyed is a set of pools, one per key: for connections that are not
// interchangeable, such as one pool per host and options, or per tenant. Its
// methods are safe for concurrent use.
type Keyed[K comparable, T any] struct {
	cfg     KeyedConfig[K, T]
	base    context.Context // ends when Close gives up waiting: bounds the closes of evicted pools
	cancel  context.CancelFunc
	stop    chan struct{}
	done    chan struct{}  // closed when Close has finished
	wg      sync.WaitGroup // the TTL sweeper and the closes of evicted pools
	evicted atomic.Int64

	mu     sync.Mutex // protects the fields below; taken before any pool's locks
	pools  map[K]*keyedPool[T]
	closed bool
}

// keyedPool is one key's pool, made once. Its fields other than lastUsed are
// set before ready is closed and only read after.
type keyedPool[T any] struct {
	ready    chan struct{}
	p        *Pool[T]
	err      error
	lastUsed atomic.Int64 // monotime of the last Acquire
}

// NewKeyed returns an empty set of pools, or an error naming the invalid
// field. Pools are made on the first Acquire of each key.
func NewKeyed[K comparable, T any](cfg KeyedConfig[K, T]) (*Keyed[K, T], error) {
	switch {
	case cfg.New == nil:
		return nil, errors.New("pool: KeyedConfig.New is required")
	case cfg.MaxKeys < 0:
		return nil, fmt.Errorf("pool: KeyedConfig.MaxKeys is negative (%d)", cfg.MaxKeys)
	case cfg.IdleKeyTTL < 0:
		return nil, fmt.Errorf("pool: KeyedConfig.IdleKeyTTL is negative (%v)", cfg.IdleKeyTTL)
	}
	k := &Keyed[K, T]{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{}), pools: make(map[K]*keyedPool[T])}
	k.base, k.cancel = context.WithCancel(context.Background())
	if cfg.IdleKeyTTL > 0 {
		k.wg.Add(1)
		go k.sweep()
	}
	return k, nil
}

// Acquire borrows a connection from key's pool, making the pool if it is the
// first Acquire for key. It is Pool.Acquire otherwise, with the same errors,
// plus ErrTooManyKeys and the error of an invalid Config from New.
func (k *Keyed[K, T]) Acquire(ctx context.Context, key K) (*Conn[T], error) {
	for {
		kp, err := k.poolFor(ctx, key)
		if err != nil {
			return nil, err
		}
		kp.lastUsed.Store(monotime())
		c, err := kp.p.Acquire(ctx)
		if errors.Is(err, ErrClosed) && k.isOpen() {
			continue // the key's pool was closed for idleness or room: make it again
		}
		return c, err
	}
}

// With is Pool.With on key's pool. fn runs once: an error of fn's is
// returned as it is, even one that wraps ErrClosed.
func (k *Keyed[K, T]) With(ctx context.Context, key K, fn func(ctx context.Context, v T) error) error {
	for {
		kp, err := k.poolFor(ctx, key)
		if err != nil {
			return err
		}
		kp.lastUsed.Store(monotime())
		c, err := kp.p.Acquire(ctx)
		if errors.Is(err, ErrClosed) && k.isOpen() {
			continue // the key's pool was closed for idleness or room: make it again
		}
		if err != nil {
			return err
		}
		return kp.p.use(ctx, c, fn)
	}
}

func (k *Keyed[K, T]) isOpen() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return !k.closed
}

// poolFor returns key's pool, making it once under racing callers.
func (k *Keyed[K, T]) poolFor(ctx context.Context, key K) (*keyedPool[T], error) {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return nil, ErrClosed
	}
	kp, ok := k.pools[key]
	if !ok {
		if err := k.makeRoomLocked(); err != nil {
			k.mu.Unlock()
			return nil, err
		}
		kp = &keyedPool[T]{ready: make(chan struct{})}
		k.pools[key] = kp
		k.mu.Unlock()
		k.build(key, kp)
	} else {
		k.mu.Unlock()
	}
	select {
	case <-kp.ready:
		return kp, kp.err
	case <-ctx.Done():
		return nil, fmt.Errorf("pool: waiting for a key's pool to be made: %w", ctx.Err())
	}
}

// build makes kp's pool with the config of New, or forgets the key on error
// so that the next Acquire tries again. A Close that ran meanwhile has kp in
// its list and closes the pool once it is ready.
func (k *Keyed[K, T]) build(key K, kp *keyedPool[T]) {
	defer func() {
		if kp.p == nil { // New failed or panicked: forget the key, free its place
			k.mu.Lock()
			if k.pools[key] == kp {
				delete(k.pools, key)
			}
			k.mu.Unlock()
		}
		close(kp.ready)
	}()
	kp.err = errors.New("pool: KeyedConfig.New panicked") // until it returns
	kp.p, kp.err = New(k.cfg.New(key))
}

// makeRoomLocked closes the least recently used idle key's pool when MaxKeys
// pools exist. k.mu must be held.
func (k *Keyed[K, T]) makeRoomLocked() error {
	if k.cfg.MaxKeys == 0 || len(k.pools) < k.cfg.MaxKeys {
		return nil
	}
	var victim K
	var oldest *keyedPool[T]
	for key, kp := range k.pools {
		if !isReady(kp) || kp.p == nil || kp.p.Stats().Borrowed > 0 {
			continue
		}
		if oldest == nil || kp.lastUsed.Load() < oldest.lastUsed.Load() {
			victim, oldest = key, kp
		}
	}
	if oldest == nil {
		return ErrTooManyKeys
	}
	k.evictLocked(victim, oldest)
	return nil
}

func isReady[T any](kp *keyedPool[T]) bool {
	select {
	case <-kp.ready:
		return true
	default:
		return false
	}
}

// evictLocked forgets key and closes its pool in the background: a borrow
// that raced in is waited for, until Close gives up. k.mu must be held.
func (k *Keyed[K, T]) evictLocked(key K, kp *keyedPool[T]) {
	delete(k.pools, key)
	k.evicted.Add(1)
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		_ = kp.p.Close(k.base) // an error here means Close gave up: reported by Close
	}()
}

// sweep closes the pools of keys idle longer than IdleKeyTTL.
func (k *Keyed[K, T]) sweep() {
	defer k.wg.Done()
	t := time.NewTicker(max(k.cfg.IdleKeyTTL/2, 10*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-k.stop:
			return
		case <-t.C:
		}
		now := monotime()
		k.mu.Lock()
		for key, kp := range k.pools {
			if isReady(kp) && kp.p != nil && now-kp.lastUsed.Load() > int64(k.cfg.IdleKeyTTL) && kp.p.Stats().Borrowed == 0 {
				k.evictLocked(key, kp)
			}
		}
		k.mu.Unlock()
	}
}

// Stats returns a snapshot of each key's pool.
func (k *Keyed[K, T]) Stats() map[K]Stats {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[K]Stats, len(k.pools))
	for key, kp := range k.pools {
		if isReady(kp) && kp.p != nil {
			out[key] = kp.p.Stats()
		}
	}
	return out
}

// Evicted returns how many keys' pools were closed for being idle or to make
// room.
func (k *Keyed[K, T]) Evicted() int64 { return k.evicted.Load() }

// Close closes every key's pool, each as Pool.Close does, waiting for
// borrowed connections until ctx ends, and returns their errors joined. It
// also waits for the pools closed earlier for idleness or room. Close is
// idempotent; a later call returns nil once the first has finished.
func (k *Keyed[K, T]) Close(ctx context.Context) error {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		<-k.done
		return nil
	}
	k.closed = true
	pools := make([]*keyedPool[T], 0, len(k.pools))
	for _, kp := range k.pools {
		pools = append(pools, kp)
	}
	clear(k.pools)
	k.mu.Unlock()
	close(k.stop)
	stop := context.AfterFunc(ctx, k.cancel)
	defer stop()

	errs := make([]error, len(pools))
	var wg sync.WaitGroup
	for i, kp := range pools {
		wg.Go(func() {
			<-kp.ready // made by a racing Acquire: New never blocks
			if kp.p != nil {
				errs[i] = kp.p.Close(ctx)
			}
		})
	}
	wg.Wait()
	k.wg.Wait()
	k.cancel()
	close(k.done)
	return errors.Join(errs...)
}

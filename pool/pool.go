package pool

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/connkit/connkit/lifecycle"
	"github.com/jackc/puddle/v2"
)

// Pool keeps connections of type T to one backend: warm, healthy, clean and
// bounded. Create one with New; its methods are safe for concurrent use.
type Pool[T any] struct {
	cfg    Config[T] // read-only after New
	log    *slog.Logger
	pp     *puddle.Pool[*entry[T]]
	base   context.Context // ends at Close: bounds dials, pings and resets
	noDial context.Context // base, marked so that construct refuses to dial
	cancel context.CancelFunc
	closed atomic.Bool
	done   chan struct{} // closed when Close has finished
	// clock is a recent monotime for Release, which reads no clock of its
	// own: moved forward by checkouts (at most once a millisecond) and by
	// every sweep, so it lags by no more than the time since the last of
	// them.
	clock atomic.Int64
	// open is len(entries): the connections dialed and not yet destroyed.
	// Acquire reads it to tell a full pool from one with room.
	open atomic.Int64

	// nextID is written by every borrow, from every CPU: on a cache line of
	// its own, so that the fields every borrow reads (closed, the counters)
	// are not invalidated with it (-9% on an uncontended Acquire+Release).
	_        [cacheLine]byte
	nextID   atomic.Uint64
	_        [cacheLine]byte
	hot      [maxHot]hotSlot[T] // idle connections outside puddle: see hotSlot
	stats    counters
	returned chan struct{} // a borrow ended; only signalled after Close started
	refill   chan struct{} // wakes the maintainer to top up MinIdle
	stop     chan struct{} // closed by Close to stop the maintainer
	wg       sync.WaitGroup
	detached sync.WaitGroup // borrows detached by Close whose connection is not closed yet

	// Lock order: puddle's lock may be taken while holding mu, never the
	// reverse (puddle calls no code of ours under its lock). No I/O under mu.
	mu          sync.Mutex // protects the fields below
	entries     map[*entry[T]]struct{}
	gate        *lifecycle.Gate
	lastFail    *lifecycle.BackoffError // the gate's last failure, nil once a dial succeeds
	probing     bool                    // a dial is in flight while the gate has failures
	outcomes    uint64                  // dial successes and recorded failures so far
	lastDialErr string
	closing     bool // Close has started: no new reset goroutine

	// testHook, set by a test before the pool is used, runs at the points
	// of the hot cache's protocol that tests pause at.
	testHook func(hookPoint)
}

// hookPoint is a point of the hot cache's protocol where Pool.testHook runs.
type hookPoint uint8

const (
	hookTake      hookPoint = iota // a borrower found nobody waiting, before it looks at the slots
	hookPut                        // a release found nobody waiting, before it parks its connection
	hookPutParked                  // a release parked its connection, before it looks at waiting again
	hookStat                       // Stats has counted puddle's idle connections, before it counts the cache's again
)

// cacheLine is larger than a cache line on the machines Go runs on (two
// 64-byte lines, for CPUs that fetch them in pairs).
const cacheLine = 128

// New returns a pool for cfg, or an error naming the first invalid field.
// It does not dial: connections are dialed on demand, and MinIdle of them in
// the background from the start.
func New[T any](cfg Config[T]) (*Pool[T], error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	var bo = lifecycle.DefaultBackOff()
	if cfg.NewBackOff != nil {
		if bo = cfg.NewBackOff(); bo == nil {
			return nil, errors.New("pool: Config.NewBackOff returned nil")
		}
	}
	p := &Pool[T]{
		cfg:      cfg,
		log:      cfg.Logger.With("pool", cfg.Name),
		done:     make(chan struct{}),
		returned: make(chan struct{}, 1),
		refill:   make(chan struct{}, 1),
		stop:     make(chan struct{}),
		entries:  make(map[*entry[T]]struct{}),
		gate:     lifecycle.NewGate("dial", bo),
	}
	p.clock.Store(monotime()) // not 0: in a synctest bubble, monotime is negative
	p.base, p.cancel = context.WithCancel(context.Background())
	p.noDial = context.WithValue(p.base, noDialKey{}, true)
	p.pp, err = puddle.NewPool(&puddle.Config[*entry[T]]{
		Constructor: p.construct,
		Destructor:  p.destruct,
		MaxSize:     int32(cfg.MaxSize),
	})
	if err != nil {
		return nil, fmt.Errorf("pool: %w", err)
	}
	if cfg.MinIdle > 0 || enabled(cfg.HealthCheckPeriod) || cfg.Leak.Threshold > 0 {
		p.wg.Add(1)
		go p.maintain()
	}
	return p, nil
}

// Acquire borrows a connection: an idle one when there is one (pinged first
// if it sat idle longer than PingAfterIdle), else a new one when the pool has
// room, else the next one released. Connections past their lifetime or idle
// limit, or that fail the ping, are destroyed on the way, invisibly to the
// caller. A caller who finds every connection borrowed first yields the CPU
// a few times, so that when borrows are short it gets one without parking;
// callers already parked are served first, in the order they parked.
//
// ctx (and AcquireTimeout) bound only the wait: a dial this caller started
// goes on, and its connection is left idle for the next caller. A caller
// whose ctx ended costs no idle connection: one that needs a ping is given
// back untouched, unless ctx ends during its ping, which then destroys it
// (its state is unknown). When the wait ends, the error is an *AcquireError
// carrying the pool's state, and errors.Is(err, context.DeadlineExceeded)
// holds for a timeout. When dials are failing, Acquire returns the dial
// error (a *lifecycle.BackoffError) at once instead of waiting for a dial of
// its own. After Close, it returns ErrClosed.
func (p *Pool[T]) Acquire(ctx context.Context) (*Conn[T], error) {
	// A caller who gave up gets nothing: handed a connection, it would
	// fail on it with ctx's error, and With would destroy it as broken.
	if err := p.gaveUp(ctx); err != nil {
		return nil, p.acquireError(ctx, err)
	}
	spins, start := 0, int64(0)
	for {
		if p.closed.Load() {
			return nil, ErrClosed
		}
		// The fast path: an idle connection, with no allocation and, from
		// the hot cache, no lock. With callers parked, it cannot succeed
		// (they are served first): skip it rather than contend for
		// puddle's lock, unless yielding gave them time.
		if spins > 0 || p.stats.waiting.Load() == 0 {
			if res, err := p.takeIdle(p.noDial); err == nil {
				c, err := p.checkout(ctx, res)
				if c != nil && spins > 0 {
					// Puddle counts neither this wait nor this acquire as
					// one that found nothing idle.
					p.stats.spunAcquires.Add(1)
					p.stats.spunWait.Add(monotime() - start)
				}
				if c != nil {
					return c, nil
				}
				if pf, ok := err.(*pingFailed); ok {
					// The backend may be down: wait on the slow path, all
					// of it since the ping within AcquireTimeout.
					return p.acquireSlow(ctx, time.Duration(monotime()-pf.since))
				}
				if err != nil {
					return nil, p.acquireError(ctx, err)
				}
				continue // destroyed on the way: try the next
			}
		}
		// Every connection is borrowed. Borrows are often short, and
		// parking in puddle's semaphore costs a wake-up and three
		// allocations: yield a few times for one to come back first. Only
		// when the pool is full: else it must dial, and only the slow path
		// does.
		if spins == acquireSpins || p.open.Load() < int64(p.cfg.MaxSize) {
			break
		}
		if spins == 0 {
			start = monotime()
		}
		spins++
		runtime.Gosched()
		if err := p.gaveUp(ctx); err != nil {
			return nil, p.acquireError(ctx, err)
		}
	}
	var waited time.Duration
	if spins > 0 {
		waited = time.Duration(monotime() - start)
		p.stats.spunWait.Add(int64(waited)) // puddle times only the wait that follows
	}
	return p.acquireSlow(ctx, waited)
}

// acquireSpins is how many times Acquire yields for a connection to come
// back before it parks. Each costs about as much as a borrow: a few hundred
// nanoseconds, against a wake-up of a parked caller.
const acquireSpins = 4

// acquireSlow waits for a connection, bounded by ctx and by what is left
// of AcquireTimeout after the caller already waited for waited. Close wakes
// it by freeing the slots of the borrowed connections (see detachBorrowed),
// so waiting costs nothing beyond puddle's own wait.
func (p *Pool[T]) acquireSlow(ctx context.Context, waited time.Duration) (*Conn[T], error) {
	p.stats.waiting.Add(1)
	defer p.stats.waiting.Add(-1)
	p.drainHot() // puddle serves the parked callers: see hotSlot
	if p.cfg.AcquireTimeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.AcquireTimeout-waited)
		defer cancel()
	}
	for {
		if p.closed.Load() {
			return nil, ErrClosed
		}
		res, err := p.pp.Acquire(ctx)
		if err != nil {
			return nil, p.acquireError(ctx, err)
		}
		c, err := p.checkout(ctx, res)
		if c != nil {
			return c, nil
		}
		if _, ok := err.(*pingFailed); err != nil && !ok {
			return nil, p.acquireError(ctx, err)
		}
	}
}

// gaveUp returns ctx's error, counted as a canceled acquire, once ctx has
// ended.
func (p *Pool[T]) gaveUp(ctx context.Context) error {
	err := ctx.Err()
	if err != nil {
		p.stats.canceled.Add(1)
	}
	return err
}

// acquireError turns puddle's error into the one Acquire returns.
func (p *Pool[T]) acquireError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, puddle.ErrClosedPool) || p.closed.Load():
		return ErrClosed
	case isContextErr(err) && ctx.Err() != nil:
		if errors.Is(err, context.DeadlineExceeded) {
			p.stats.timeouts.Add(1)
		}
		return &AcquireError{Pool: p.cfg.Name, Err: err, Stats: p.Stats()}
	}
	return err // a dial error, already naming the pool
}

// TryAcquire borrows an idle connection if one is ready at once, and
// returns ErrNotAvailable otherwise, without waiting. When the pool has room,
// a dial is started in the background so that a later call finds one. ctx is
// used only for the ping of a connection idle longer than PingAfterIdle:
// when it has ended before that ping, the connection stays idle and
// TryAcquire returns ctx's error.
func (p *Pool[T]) TryAcquire(ctx context.Context) (*Conn[T], error) {
	for {
		if p.closed.Load() {
			return nil, ErrClosed
		}
		res, err := p.takeIdle(p.base)
		switch {
		case errors.Is(err, puddle.ErrNotAvailable):
			return nil, ErrNotAvailable
		case err != nil:
			return nil, ErrClosed
		}
		c, err := p.checkout(ctx, res)
		if _, ok := err.(*pingFailed); c != nil || (err != nil && !ok) {
			return c, err
		}
	}
}

// pingFailed is checkout's error when the connection failed its ping and
// was destroyed, and ctx has not ended: Acquire tries another, within
// AcquireTimeout from since, when the ping began.
type pingFailed struct{ since int64 }

func (*pingFailed) Error() string { return "pool: a connection failed its ping on acquire" }

// checkout turns an acquired resource into a borrow, or destroys it and
// returns nil when it is past a limit or fails its ping. When ctx has ended
// before a ping it would need, checkout gives the connection back untouched
// and returns ctx's error, so that a caller who gave up costs the pool no
// connection; a ping that ctx cuts short destroys its connection (its
// protocol state is unknown) and returns ctx's error too, so that the
// caller's Acquire stops there instead of pinging the next one.
func (p *Pool[T]) checkout(ctx context.Context, res *puddle.Resource[*entry[T]]) (*Conn[T], error) {
	e := res.Value()
	if e.res == nil {
		e.res = res // fixed from now on, and published by the borrow word
	}
	now := monotime()
	p.tick(now)
	switch {
	case e.expired(now):
		p.destroy(res, reasonLifetime)
		return nil, nil
	case enabled(p.cfg.MaxIdleTime) && now-e.lastUsed > int64(p.cfg.MaxIdleTime):
		p.destroy(res, reasonIdle)
		return nil, nil
	case p.needsPing(e, now):
		if err := p.gaveUp(ctx); err != nil {
			res.ReleaseUnused()
			return nil, err
		}
		pctx := ctx
		if p.cfg.AcquireTimeout > 0 { // on the fast path, ctx has no AcquireTimeout yet
			var cancel context.CancelFunc
			pctx, cancel = context.WithTimeout(ctx, p.cfg.AcquireTimeout)
			defer cancel()
		}
		if err := p.ping(pctx, e); err != nil {
			p.log.Debug("destroyed a connection that failed its ping on acquire", "err", err)
			p.destroy(res, reasonPing)
			if err := p.gaveUp(ctx); err != nil {
				return nil, err
			}
			return nil, &pingFailed{since: now}
		}
		now = monotime()
	}
	id := p.nextID.Add(1)
	e.lastID = id
	p.recordBorrow(ctx, e, id, now)
	c := newHandle(e, id)
	e.borrow.Store(id)
	// Close sets closed, then looks at the borrows: either it sees this one,
	// or this sees closed and gives the connection up.
	if p.closed.Load() {
		p.giveBack(c, false, reasonClose)
		runtime.KeepAlive(c)
		return nil, nil
	}
	return c, nil
}

// With borrows a connection, calls fn with it, and gives it back on every
// path: released when fn returns nil or an ordinary error; destroyed when fn
// returns an error that Config.IsBroken reports as broken or a context error
// (the connection may be mid-request), or when fn panics (the panic goes
// on). It returns Acquire's error or fn's.
func (p *Pool[T]) With(ctx context.Context, fn func(ctx context.Context, v T) error) error {
	c, err := p.Acquire(ctx)
	if err != nil {
		return err
	}
	return p.use(ctx, c, fn)
}

// use calls fn with c's connection and gives c back, as With does.
func (p *Pool[T]) use(ctx context.Context, c *Conn[T], fn func(ctx context.Context, v T) error) (err error) {
	ok := false
	defer func() {
		if !ok || (err != nil && (p.cfg.IsBroken(err) || isContextErr(err))) {
			c.Destroy()
			return
		}
		c.Release()
	}()
	err = fn(ctx, c.e.value)
	ok = true
	return err
}

// giveBack ends the borrow of handle c if it is still in progress, so that
// the first Release or Destroy of a handle wins and a stale one does
// nothing: the connection is released for reuse when reuse is set, else
// destroyed for reason why.
func (p *Pool[T]) giveBack(c *Conn[T], reuse bool, why destroyReason) {
	e, id := c.e, c.id
	for {
		b := e.borrow.Load()
		if b&borrowIDMask != id {
			return // ended already
		}
		if !e.borrow.CompareAndSwap(b, 0) {
			continue // a flag changed under us
		}
		// The borrow is over, but the resource is still ours: the record in
		// e is still this borrow's until the resource goes back to puddle.
		if b&borrowReported != 0 {
			p.reportLeak(p.borrowRecord(e, id), LeakReturned)
		}
		switch {
		case b&borrowDetached != 0:
			p.closeDetached(e, reasonClose)
		case reuse:
			p.release(e, c.dirty.Load(), c.slab)
		default:
			p.destroy(e.res, why)
			p.notifyReturned()
		}
		return
	}
}

// tick moves the pool's clock forward to now, writing it at most once a
// millisecond so that borrows on many CPUs rarely write the shared line.
func (p *Pool[T]) tick(now int64) {
	for {
		old := p.clock.Load()
		if now-old <= int64(time.Millisecond) || p.clock.CompareAndSwap(old, now) {
			return // a CAS, so that a racing older now never moves it back
		}
	}
}

// releaseCheckWindow: Release reads the clock itself to check a
// connection's lifetime only if it ends within this long after the borrow
// began; past it, the pool's clock is close enough.
const releaseCheckWindow = time.Minute

// release takes back a connection its borrower released.
//
// It reads no clock of its own (a monotonic read costs 25ns on some VMs, as
// much as the rest of a release): a connection's idle time counts from when
// it was last handed out, which overstates it by the length of the borrow
// (so a connection borrowed for longer than PingAfterIdle is pinged before
// its next use), and its lifetime is checked against the pool's clock,
// which lags by at most the time since the last checkout or sweep. Only a
// connection whose lifetime ends within releaseCheckWindow of its hand-out
// is checked against the clock itself. One that still slips through (no
// borrow and no sweep since its lifetime ended) is retired by the next
// Acquire or sweep, never handed out.
func (p *Pool[T]) release(e *entry[T], dirty bool, slab *handleSlab[T]) {
	defer p.notifyReturned()
	e.slab = slab // for the next borrow, after a reset if there is one
	since := e.since.Load()
	if e.expires != 0 && (e.expired(p.clock.Load()) || e.expires-since < int64(releaseCheckWindow) && e.expired(monotime())) {
		p.destroy(e.res, reasonLifetime)
		return
	}
	if dirty || (p.cfg.Dirty != nil && p.cfg.Dirty(e.value)) {
		p.resetAsync(e.res)
		return
	}
	e.lastUsed = since
	p.putIdle(e)
}

// destroy closes the connection of res in the background and frees its slot.
func (p *Pool[T]) destroy(res *puddle.Resource[*entry[T]], why destroyReason) {
	res.Value().reason = why
	res.Destroy()
}

// destruct is puddle's destructor: it runs on a goroutine of puddle's for
// every connection that leaves the pool.
func (p *Pool[T]) destruct(e *entry[T]) {
	p.mu.Lock()
	delete(p.entries, e)
	p.open.Add(-1)
	p.mu.Unlock()
	p.stats.destroyed[e.reason].Add(1)
	if p.cfg.Close != nil {
		if err := p.cfg.Close(e.value); err != nil {
			p.log.Debug("closing a destroyed connection failed", "err", err)
		}
	}
	p.wakeMaintainer()
}

// notifyReturned tells a Close that is waiting that a borrow ended.
func (p *Pool[T]) notifyReturned() {
	if p.closed.Load() {
		select {
		case p.returned <- struct{}{}:
		default:
		}
	}
}

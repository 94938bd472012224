package pool

import (
	"cmp"
	"slices"
	"time"

	"github.com/jackc/puddle/v2"
)

// maintain is the pool's background goroutine: it keeps MinIdle connections
// ready and, every HealthCheckPeriod, sweeps the idle ones. It stops at Close.
func (p *Pool[T]) maintain() {
	defer p.wg.Done()
	var tick <-chan time.Time
	if enabled(p.cfg.HealthCheckPeriod) {
		t := time.NewTicker(p.cfg.HealthCheckPeriod)
		defer t.Stop()
		tick = t.C
	}
	var leakTick <-chan time.Time
	if p.cfg.Leak.Threshold > 0 {
		t := time.NewTicker(p.leakCheckPeriod())
		defer t.Stop()
		leakTick = t.C
	}
	retry := time.NewTimer(0) // fires at once: the first fill
	defer retry.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-tick:
			p.sweep()
		case <-leakTick:
			p.sweepLeaks()
			continue
		case <-p.refill:
		case <-retry.C:
		}
		if wait := p.fillMinIdle(); wait > 0 {
			retry.Reset(wait)
		}
	}
}

// wakeMaintainer asks the maintainer to top the pool up, without blocking.
func (p *Pool[T]) wakeMaintainer() {
	if p.cfg.MinIdle == 0 {
		return
	}
	select {
	case p.refill <- struct{}{}:
	default:
	}
}

// fillMinIdle dials until MinIdle connections are idle or being dialed,
// within MaxSize. When a dial fails it stops and returns how long to wait
// before trying again, else 0.
func (p *Pool[T]) fillMinIdle() time.Duration {
	for p.cfg.MinIdle > 0 {
		select {
		case <-p.stop:
			return 0
		default:
		}
		s, idle := p.stat()
		if idle+int(s.ConstructingResources()) >= p.cfg.MinIdle || s.TotalResources() >= s.MaxResources() {
			return 0
		}
		err := p.pp.CreateResource(p.base)
		if err == nil {
			continue
		}
		p.mu.Lock()
		retryAt, probing := time.Time{}, p.probing
		if p.lastFail != nil {
			retryAt = p.lastFail.RetryAt
		}
		p.mu.Unlock()
		if probing || retryAt.IsZero() {
			// Another dial is probing (its outcome wakes us), puddle is
			// full, or the policy gave up: look again later.
			return p.cfg.ConnectTimeout
		}
		return max(time.Until(retryAt), time.Millisecond)
	}
	return 0
}

// sweep retires the idle connections past their limits and pings those that
// have sat unchecked longer than PingAfterIdle. Connections that need no ping
// are handed back at once; the others one by one, after their ping.
//
// Idle connections are a stack, the one used last on top, so that a pool
// busy with fewer borrowers than connections keeps using the same few and
// lets the others reach MaxIdleTime. They are handed back the one
// borrowed longest ago first, which puts the one borrowed last on top
// again, with those from the hot cache among them.
func (p *Pool[T]) sweep() {
	p.drainHot()
	idle := p.pp.AcquireAllIdle()
	slices.SortFunc(idle, func(a, b *puddle.Resource[*entry[T]]) int {
		return cmp.Compare(a.Value().lastID, b.Value().lastID)
	})
	now := monotime()
	p.tick(now)
	var toPing []*puddle.Resource[*entry[T]]
	for _, res := range idle {
		e := res.Value()
		switch {
		case e.expired(now):
			p.destroy(res, reasonLifetime)
		case enabled(p.cfg.MaxIdleTime) && now-e.lastUsed > int64(p.cfg.MaxIdleTime):
			p.destroy(res, reasonIdle)
		case p.needsPing(e, now):
			toPing = append(toPing, res)
		default:
			res.ReleaseUnused()
		}
	}
	for _, res := range toPing {
		if err := p.ping(p.base, res.Value()); err != nil {
			p.log.Debug("destroyed an idle connection that failed its keepalive ping", "err", err)
			p.destroy(res, reasonPing)
			continue
		}
		res.ReleaseUnused()
	}
}

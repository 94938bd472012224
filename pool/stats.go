package pool

import (
	"sync/atomic"
	"time"
)

// Stats is a snapshot of a pool's state and counters. Counters count from
// New.
type Stats struct {
	// Name is the pool's name.
	Name string

	// MaxSize is Config.MaxSize.
	MaxSize int
	// Open counts the connections that are open: idle, borrowed, or in the
	// pool's own hands (being pinged or reset).
	Open int
	// Idle counts the connections ready to be acquired.
	Idle int
	// Borrowed counts the connections held by callers.
	Borrowed int
	// Constructing counts the dials in flight.
	Constructing int
	// Waiting counts the callers of Acquire waiting for a connection.
	Waiting int

	// Acquires counts the connections handed out.
	Acquires int64
	// EmptyAcquires counts the acquires that found no idle connection and
	// had to wait for one to be dialed or released.
	EmptyAcquires int64
	// AcquireWait is the total time acquires waited.
	AcquireWait time.Duration
	// CanceledAcquires counts the acquires that ended with their context.
	CanceledAcquires int64
	// Timeouts counts the acquires that ended by a deadline (the caller's or
	// AcquireTimeout).
	Timeouts int64

	// Dials counts the dials started, and DialErrors those that failed.
	Dials, DialErrors int64
	// LastDialError is the message of the last failed dial, or "" when the
	// last dial succeeded.
	LastDialError string

	// Resets counts the successful resets of dirty connections.
	Resets int64
	// Destroyed counts the connections destroyed, by reason.
	Destroyed DestroyStats
}

// DestroyStats counts destroyed connections by reason.
type DestroyStats struct {
	Idle     int64 // idle longer than MaxIdleTime
	Lifetime int64 // older than MaxLifetime
	Ping     int64 // failed a ping
	Reset    int64 // failed a reset, or dirty with no Config.Reset
	Broken   int64 // destroyed by the borrower (Conn.Destroy, or With on a broken error)
	Dropped  int64 // its handle was dropped without Release (see LeakDropped)
	Close    int64 // by Close
}

// Total returns the number destroyed for any reason.
func (d DestroyStats) Total() int64 {
	return d.Idle + d.Lifetime + d.Ping + d.Reset + d.Broken + d.Dropped + d.Close
}

// Inspector is what tools need of a pool, whatever its connection type:
// connkit's health monitor and pooltest take Inspectors, so that one call
// covers pools of *redis.Conn and *sql.Conn alike. Every *Pool implements it.
type Inspector interface {
	// Name returns the pool's name.
	Name() string
	// Stats returns a snapshot of the pool's state and counters.
	Stats() Stats
	// Borrowed returns the connections borrowed now, oldest first.
	Borrowed() []Borrow
}

// counters are the pool's own counters, beside puddle's.
type counters struct {
	waiting  atomic.Int64
	timeouts atomic.Int64
	canceled atomic.Int64 // ended by ctx where puddle does not count it: before or while yielding, or in checkout
	// spunAcquires counts the acquires that found every connection
	// borrowed and got one by yielding (see acquireSpins), which puddle
	// does not count as empty; spunWait is the time acquires spent
	// yielding, in nanoseconds, which puddle does not time.
	spunAcquires atomic.Int64
	spunWait     atomic.Int64
	dials        atomic.Int64
	dialErrors   atomic.Int64
	resets       atomic.Int64
	destroyed    [numReasons]atomic.Int64
}

// Name returns the pool's name.
func (p *Pool[T]) Name() string { return p.cfg.Name }

// Stats returns a snapshot of the pool's state and counters. It takes the
// pool's locks briefly and walks its connections: cheap, but not for a hot
// path.
func (p *Pool[T]) Stats() Stats {
	ps, idle := p.stat()
	s := Stats{
		Name:             p.cfg.Name,
		MaxSize:          p.cfg.MaxSize,
		Idle:             idle,
		Constructing:     int(ps.ConstructingResources()),
		Open:             int(ps.TotalResources() - ps.ConstructingResources()),
		Waiting:          int(p.stats.waiting.Load()),
		Acquires:         int64(p.nextID.Load()),
		EmptyAcquires:    ps.EmptyAcquireCount() + p.stats.spunAcquires.Load(),
		AcquireWait:      ps.AcquireDuration() + time.Duration(p.stats.spunWait.Load()),
		CanceledAcquires: ps.CanceledAcquireCount() + p.stats.canceled.Load(),
		Timeouts:         p.stats.timeouts.Load(),
		Dials:            p.stats.dials.Load(),
		DialErrors:       p.stats.dialErrors.Load(),
		Resets:           p.stats.resets.Load(),
	}
	d := &p.stats.destroyed
	s.Destroyed = DestroyStats{
		Idle: d[reasonIdle].Load(), Lifetime: d[reasonLifetime].Load(), Ping: d[reasonPing].Load(),
		Reset: d[reasonReset].Load(), Broken: d[reasonBroken].Load(), Dropped: d[reasonDropped].Load(),
		Close: d[reasonClose].Load(),
	}
	p.mu.Lock()
	s.LastDialError = p.lastDialErr
	for e := range p.entries {
		if e.borrow.Load() != 0 {
			s.Borrowed++
		}
	}
	p.mu.Unlock()
	return s
}

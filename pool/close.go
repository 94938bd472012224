package pool

import (
	"context"
	"fmt"
)

// Close closes the pool. New acquires fail with ErrClosed at once, and so do
// the callers waiting in Acquire. Idle connections are destroyed, and Close
// waits until ctx ends for the borrowed ones to be returned; those still out
// then are destroyed under their borrowers (whose later Release does nothing
// and whose later Value panics), and Close returns an error that names each
// holder. Close waits for every goroutine the pool started and every
// connection's Close before it returns.
//
// Close is idempotent: a later call waits for the first to finish, within
// its own ctx, and returns nil.
func (p *Pool[T]) Close(ctx context.Context) error {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		select {
		case <-p.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("pool %q: close: waiting for the Close in progress: %w", p.cfg.Name, ctx.Err())
		}
	}
	p.closing = true
	p.closed.Store(true)
	p.mu.Unlock()
	p.drainHot() // into puddle, whose Close destroys them
	p.cancel()   // ends dials, pings and resets
	close(p.stop)

	p.detachBorrowed()
	p.wg.Wait() // the maintainer and the resets
	err := p.waitReturned(ctx)
	p.detached.Wait() // the closes of the connections given back since detachBorrowed
	p.pp.Close()      // destroys the idle connections, waits for every destructor
	close(p.done)
	return err
}

// detachBorrowed takes the borrowed connections out of puddle, which frees
// their slots: the callers waiting in Acquire get one each, find the pool
// closed and return ErrClosed. The borrowers keep their connections; the
// pool closes each when it is given back, or at Close's deadline.
func (p *Pool[T]) detachBorrowed() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for e := range p.entries {
		for {
			b := e.borrow.Load()
			if b == 0 || b&borrowDetached != 0 {
				break
			}
			if e.borrow.CompareAndSwap(b, b|borrowDetached) {
				p.detached.Add(1)
				e.res.Hijack()
				break
			}
		}
	}
}

// closeDetached closes the connection of e, detached from puddle by Close,
// whose borrow has just ended, on the calling goroutine, then tells Close.
func (p *Pool[T]) closeDetached(e *entry[T], why destroyReason) {
	defer p.detached.Done()
	e.reason = why
	p.destruct(e)
	p.notifyReturned()
}

// waitReturned waits until nothing is borrowed or ctx ends, then closes what
// is still borrowed and returns an error naming the holders.
func (p *Pool[T]) waitReturned(ctx context.Context) error {
	for {
		if p.Stats().Borrowed == 0 {
			return nil
		}
		select {
		case <-p.returned:
		case <-ctx.Done():
			held := p.revokeBorrowed()
			if len(held) == 0 {
				return nil
			}
			p.log.Warn("closed with connections still borrowed; destroyed them", "count", len(held))
			return fmt.Errorf("pool %q: closed with %d connection(s) still borrowed when the close deadline passed (%v); destroyed them:%s",
				p.cfg.Name, len(held), ctx.Err(), reportBorrows(held))
		}
	}
}

// revokeBorrowed ends the borrows still in progress, closing their
// connections under their borrowers, and returns who held them.
func (p *Pool[T]) revokeBorrowed() []Borrow {
	var held []*entry[T]
	var out []Borrow
	p.mu.Lock()
	for e := range p.entries {
		for {
			b := e.borrow.Load()
			if b&borrowDetached == 0 {
				break // not borrowed, or borrowed after detachBorrowed: it gives up itself
			}
			rec := p.borrowRecord(e, b&borrowIDMask)
			if e.borrow.CompareAndSwap(b, 0) {
				held, out = append(held, e), append(out, rec)
				break
			}
		}
	}
	p.mu.Unlock()
	for _, e := range held {
		p.closeDetached(e, reasonClose)
	}
	sortBorrows(out)
	return out
}

package lifecycle

import "sync"

// transition is one change of state waiting to be delivered.
type transition struct{ from, to State }

// notifier delivers state changes to a callback in order, never
// concurrently, and with no lock held. Whoever queues a change delivers it,
// unless another goroutine is already delivering, in which case that one
// delivers it after the changes queued before it. There is no goroutine of
// its own.
type notifier struct {
	fn func(from, to State) // nil: changes are not queued

	mu         *sync.Mutex  // the owner's lock; protects the fields below
	events     []transition // queued, not yet delivered
	delivering bool         // a goroutine is in the loop of deliver
	idle       sync.Cond    // signalled when delivering becomes false
}

func (n *notifier) init(mu *sync.Mutex, fn func(from, to State)) {
	n.fn, n.mu = fn, mu
	n.idle.L = mu
}

// setStateLocked moves g to state to and queues the change. g.mu must be held.
func (g *Guard[T]) setStateLocked(to State) {
	if from := g.state; from != to {
		g.state = to
		if g.fn != nil {
			g.events = append(g.events, transition{from, to})
		}
	}
}

// deliver delivers the queued changes, unless another goroutine is already
// doing so. n.mu must not be held.
func (n *notifier) deliver() {
	if n.fn == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.delivering {
		return
	}
	n.delivering = true
	for len(n.events) > 0 {
		ev := n.events[0]
		n.events = n.events[1:]
		n.call(ev)
	}
	n.events = nil
	n.delivering = false
	n.idle.Broadcast()
}

// call runs the callback for ev with n.mu released. If the callback panics,
// the notifier is left usable for other goroutines before the panic goes on.
func (n *notifier) call(ev transition) {
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		if r := recover(); r != nil {
			n.delivering = false
			n.idle.Broadcast()
			panic(r)
		}
	}()
	n.fn(ev.from, ev.to)
}

// deliverAll returns once every change queued so far has been delivered,
// delivering them itself or waiting for the goroutine that is. n.mu must not
// be held.
func (n *notifier) deliverAll() {
	if n.fn == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for n.delivering || len(n.events) > 0 {
		if n.delivering {
			n.idle.Wait()
			continue
		}
		n.mu.Unlock()
		n.deliver()
		n.mu.Lock()
	}
}

package wsclient

import (
	"fmt"
	"log/slog"
	"runtime"
	"sync"

	"github.com/connkit/connkit/lifecycle"
)

// events delivers state changes to OnStateChange in order on a goroutine of
// its own, so that a slow callback never holds up the read loop or a
// reconnect.
type events struct {
	fn   func(from, to lifecycle.State)
	log  *slog.Logger
	wake chan struct{}
	done chan struct{}

	mu      sync.Mutex // protects the fields below; taken after Client.mu
	pending [][2]lifecycle.State
	closed  bool
}

func newEvents(fn func(from, to lifecycle.State), log *slog.Logger) *events {
	e := &events{fn: fn, log: log, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go e.loop()
	return e
}

// push queues one change for delivery, without waiting: setState calls it
// under Client.mu, so the order of the pushes is the order of the changes.
func (e *events) push(from, to lifecycle.State) {
	e.mu.Lock()
	e.pending = append(e.pending, [2]lifecycle.State{from, to})
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

func (e *events) loop() {
	defer close(e.done)
	for range e.wake {
		e.mu.Lock()
		batch, closed := e.pending, e.closed
		e.pending = nil
		e.mu.Unlock()
		for _, ev := range batch {
			e.deliver(ev[0], ev[1])
		}
		if closed {
			return
		}
	}
}

// deliver calls fn with one change. A panic in it is logged with its stack
// and the next change is delivered: on this goroutine of the client's, it
// would kill the process.
func (e *events) deliver(from, to lifecycle.State) {
	defer func() {
		if r := recover(); r != nil {
			callbackPanicked(e.log, "OnStateChange", fmt.Sprintf("%v, on %v -> %v", r, from, to))
		}
	}()
	e.fn(from, to)
}

// close delivers what is pending, then stops the goroutine and waits for
// it, unless it is called from OnStateChange itself (Close in the
// callback), which that goroutine is running: waiting would never end, so
// the goroutine stops on its own once the callback returns.
func (e *events) close() {
	e.mu.Lock()
	e.closed = true
	e.mu.Unlock()
	select {
	case e.wake <- struct{}{}:
	default:
	}
	if !inDeliver() {
		<-e.done
	}
}

// deliverFunc is the name in a stack of events.deliver, which runs
// OnStateChange.
const deliverFunc = "github.com/connkit/connkit/wsclient.(*events).deliver"

// inDeliver reports whether the calling goroutine is inside events.deliver:
// whether the call came from OnStateChange.
func inDeliver() bool {
	pcs := make([]uintptr, 64)
	for {
		n := runtime.Callers(2, pcs)
		if n < len(pcs) {
			pcs = pcs[:n]
			break
		}
		pcs = make([]uintptr, 2*len(pcs))
	}
	frames := runtime.CallersFrames(pcs)
	for {
		f, more := frames.Next()
		if f.Function == deliverFunc {
			return true
		}
		if !more {
			return false
		}
	}
}

package wsdemo

import (
	"context"
	"fmt"
	"sync"

	"github.com/connkit/connkit/lifecycle"
)

// Watcher counts the states a client enters and lets a program wait for
// one, so that its narration and the client's changes come out in order.
// Give its Changed to wsclient.Options.OnStateChange.
type Watcher struct {
	onChange func(from, to lifecycle.State)

	mu     sync.Mutex // protects the fields below
	counts map[lifecycle.State]int
	wake   chan struct{} // closed and replaced on every change
}

// NewWatcher returns a Watcher that calls onChange, if not nil, on every
// change first.
func NewWatcher(onChange func(from, to lifecycle.State)) *Watcher {
	return &Watcher{onChange: onChange, counts: make(map[lifecycle.State]int), wake: make(chan struct{})}
}

// Changed records a change of state: the client's OnStateChange.
func (w *Watcher) Changed(from, to lifecycle.State) {
	if w.onChange != nil {
		w.onChange(from, to)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.counts[to]++
	close(w.wake)
	w.wake = make(chan struct{})
}

// Count returns how many times the client has entered state to.
func (w *Watcher) Count(to lifecycle.State) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.counts[to]
}

// WaitFor waits until the client has entered state to n times in all, or
// ctx ends.
func (w *Watcher) WaitFor(ctx context.Context, to lifecycle.State, n int) error {
	for {
		w.mu.Lock()
		got, wake := w.counts[to], w.wake
		w.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for state %s (%d times, seen %d): %w", to, n, got, ctx.Err())
		case <-wake:
		}
	}
}

package wsclient

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/coder/websocket"
)

// ErrQueueFull is returned by Send and TrySend when the send queue holds
// Options.QueueLimit messages or Options.QueueBytes bytes.
var ErrQueueFull = errors.New("wsclient: send queue full")

// ErrClosed is returned once Close has started, and by Recv after the last
// received message has been read.
var ErrClosed = errors.New("wsclient: client closed")

// outMsg is one message waiting to be written. Under queue.mu, it is
// queued exactly while it is in queue.items; once out, it gets exactly one
// result on done: the write's, its ctx's error, or failAll's.
type outMsg struct {
	typ  websocket.MessageType
	data []byte
	ctx  context.Context // nil for TrySend
	done chan error      // nil for TrySend; gets the message's result
}

// queue holds the messages to write, in order, for the connection of the
// moment. One message is written at a time: by the connection's writer
// goroutine, or by a Send that found nothing ahead of it (claimDirect), which
// saves two goroutine hand-offs per message.
type queue struct {
	limit, maxBytes int
	ready           chan struct{} // signalled when a message is added or a write ends

	mu      sync.Mutex // protects the fields below
	items   []*outMsg
	bytes   int
	pending int           // len(items), plus 1 while a message is being written
	cn      *connection   // the connection up, or nil
	reject  error         // non-nil: no new messages, and why
	empty   chan struct{} // closed when pending drops to 0; made on demand
	dropped int64         // abandoned or expired before written
}

func newQueue(limit, maxBytes int) *queue {
	return &queue{limit: limit, maxBytes: maxBytes, ready: make(chan struct{}, 1)}
}

// push appends m, or fails with ErrClosed or ErrQueueFull.
func (q *queue) push(m *outMsg) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	switch {
	case q.reject != nil:
		return q.reject
	case len(q.items) >= q.limit || q.bytes+len(m.data) > q.maxBytes:
		return fmt.Errorf("%w (%d messages, %d bytes waiting)", ErrQueueFull, len(q.items), q.bytes)
	}
	q.items = append(q.items, m)
	q.bytes += len(m.data)
	q.pending++
	q.signal()
	return nil
}

// signal wakes the writer.
func (q *queue) signal() {
	select {
	case q.ready <- struct{}{}:
	default:
	}
}

// claimDirect returns the connection to write on at once, when one is up,
// no message is queued or being written, and a message of size bytes could
// be queued (QueueBytes holds for both ways): the caller then writes and
// calls release. It returns nil (write through the queue) otherwise, and
// the error push would return when no message is accepted.
func (q *queue) claimDirect(size int) (*connection, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.reject != nil {
		return nil, q.reject
	}
	if q.cn == nil || q.pending > 0 || size > q.maxBytes { // queued or being written
		return nil, nil
	}
	q.pending++
	return q.cn, nil
}

// release ends a write claimed with claimDirect or pop.
func (q *queue) release() {
	q.mu.Lock()
	q.doneLocked()
	if len(q.items) > 0 {
		q.signal()
	}
	q.mu.Unlock()
}

// attach makes cn the connection that Sends may write on directly, unless
// it failed already.
func (q *queue) attach(cn *connection) {
	q.mu.Lock()
	if !cn.isFailed() {
		q.cn = cn
	}
	q.mu.Unlock()
}

// detach stops direct writes on cn, if it is still the one attached.
func (q *queue) detach(cn *connection) {
	q.mu.Lock()
	if q.cn == cn {
		q.cn = nil
	}
	q.mu.Unlock()
}

// pop claims the next message to write, skipping those whose Send gave up
// or whose context has ended: a message is never written late. It returns
// nil when there is none, or while another write is in progress.
func (q *queue) pop() *outMsg {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) > 0 && q.pending == len(q.items) { // else a write is in progress
		m := q.items[0]
		q.items[0] = nil
		q.items = q.items[1:]
		q.bytes -= len(m.data)
		if m.ctx == nil || m.ctx.Err() == nil {
			return m // now the write in progress: still pending, no longer an item
		}
		m.done <- m.ctx.Err() // never written late
		q.dropped++
		q.doneLocked()
	}
	return nil
}

// abandon takes m out of the queue for a Send whose ctx ended while m
// waited: its slot and bytes are free at once, it counts as dropped, and it
// is never written. It reports false when m was no longer queued (the writer
// claimed it, or it was failed): its result then comes on m.done. It scans
// the queue for m: O(QueueLimit) at worst.
func (q *queue) abandon(m *outMsg) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	i := slices.Index(q.items, m)
	if i < 0 {
		return false
	}
	q.items = slices.Delete(q.items, i, i+1)
	q.bytes -= len(m.data)
	q.dropped++
	q.doneLocked()
	return true
}

// finish records the result of writing a message claimed with pop.
func (q *queue) finish(m *outMsg, err error) {
	if m.done != nil {
		m.done <- err
	}
	q.release()
}

// doneLocked counts one message as no longer pending. q.mu must be held.
func (q *queue) doneLocked() {
	if q.pending--; q.pending == 0 && q.empty != nil {
		close(q.empty)
		q.empty = nil
	}
}

// refuse makes push fail with err from now on.
func (q *queue) refuse(err error) {
	q.mu.Lock()
	if q.reject == nil {
		q.reject = err
	}
	q.mu.Unlock()
}

// waitEmpty waits until every queued message has been written or given up,
// or ctx ends.
func (q *queue) waitEmpty(ctx context.Context) error {
	q.mu.Lock()
	if q.pending == 0 {
		q.mu.Unlock()
		return nil
	}
	if q.empty == nil {
		q.empty = make(chan struct{})
	}
	empty, n := q.empty, q.pending
	q.mu.Unlock()
	select {
	case <-empty:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wsclient: close: %d queued message(s) not written: %w", n, ctx.Err())
	}
}

// failAll fails every queued message with err, and returns how many. A
// message being written is not one of them: its result is the write's.
func (q *queue) failAll(err error) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := len(q.items)
	for _, m := range q.items {
		if m.done != nil {
			m.done <- err
		}
		q.dropped++
		q.doneLocked()
	}
	q.items, q.bytes = nil, 0
	return n
}

// depth returns the number of messages waiting, and how many were dropped.
func (q *queue) depth() (waiting int, dropped int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items), q.dropped
}

package wsclient

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/coder/websocket"
	"github.com/connkit/connkit/lifecycle"
)

// MessageType is the type of a WebSocket data message.
type MessageType int

const (
	// MessageText is a UTF-8 text message.
	MessageText = MessageType(websocket.MessageText)
	// MessageBinary is a binary message.
	MessageBinary = MessageType(websocket.MessageBinary)
)

// check returns an error unless typ is MessageText or MessageBinary: any
// other opcode written as a data message makes the peer close the
// connection as a protocol error.
func (typ MessageType) check() error {
	if typ != MessageText && typ != MessageBinary {
		return fmt.Errorf("wsclient: message type %d: send MessageText or MessageBinary", int(typ))
	}
	return nil
}

// Message is a received message.
type Message struct {
	Type MessageType
	Data []byte
}

var errRecvWithOnMessage = errors.New("wsclient: Recv on a client with Options.OnMessage set: the messages go to OnMessage")

// errUserClose is the cause of the base context's end when Close is called.
var errUserClose = errors.New("wsclient: Close called")

// Client keeps one WebSocket connection to an endpoint: it connects once at
// a time, reconnects with backoff when the connection drops, pings a silent
// peer, and writes one message at a time, in order. Create one
// with New; its methods are safe for concurrent use.
type Client struct {
	opts    Options         // read-only after New
	bo      backoff.BackOff // spaces reconnects; the supervisor's alone
	http    *http.Client    // makes handshakes (see handshakeClient)
	q       *queue
	inbound chan Message
	events  *events
	base    context.Context // ends at Close: stops dials and the supervisor
	stop    context.CancelCauseFunc
	start   sync.Once
	wg      sync.WaitGroup // the supervisor and the connections' readers
	done    chan struct{}  // closed when Close has finished
	// lastReader is closed when the reader of the latest connection has
	// returned; the supervisor's alone.
	lastReader <-chan struct{}
	stats      counters
	// gaveUpAt is when the client gave up connecting, nil until then: set
	// after terminal, read without c.mu by every Registry.Get.
	gaveUpAt atomic.Pointer[time.Time]
	// pingHook, set by a test before Connect, runs in the pinger between
	// its look at the peer's silence and the ping.
	pingHook func()

	mu       sync.Mutex // protects the fields below; taken before events.mu
	state    lifecycle.State
	changed  chan struct{} // closed and replaced at every change of state
	terminal error         // why the client gave up, once it has
	lastErr  error
	closing  bool
}

// counters are the client's own counters.
type counters struct {
	connects, dialErrors    atomic.Int64
	messagesIn, messagesOut atomic.Int64
	bytesIn, bytesOut       atomic.Int64
	lastRTT                 atomic.Int64
	writeErrors             atomic.Int64
}

// New returns a client for opts, or an error naming the first invalid
// option. It does not connect: Connect does, and Send and TrySend queue
// until then.
func New(opts Options) (*Client, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	bo := opts.NewBackOff()
	if bo == nil {
		return nil, errors.New("wsclient: Options.NewBackOff returned nil")
	}
	c := &Client{
		opts:    opts,
		bo:      bo,
		http:    handshakeClient(opts.HTTPClient),
		q:       newQueue(opts.QueueLimit, opts.QueueBytes),
		inbound: make(chan Message, opts.RecvBuffer),
		done:    make(chan struct{}),
		changed: make(chan struct{}),
	}
	c.base, c.stop = context.WithCancelCause(context.Background())
	if opts.OnStateChange != nil {
		c.events = newEvents(opts.OnStateChange, opts.Logger)
	}
	return c, nil
}

// Connect starts the client if it is not running, and waits until it is
// connected. Many goroutines may call it at once: there is one connection
// and one connect attempt at a time. A failed attempt is retried in the
// background with backoff; Connect keeps waiting until ctx ends (its error
// then wraps ctx.Err() and says what the last attempt met), or until the
// client gives up (the reconnect policy said no or panicked, MaxAttempts
// failed in a row, or the backoff policy stopped), in which case it
// returns why; a refused handshake is a
// *HandshakeError with the HTTP status.
func (c *Client) Connect(ctx context.Context) error {
	c.ensureStarted()
	for {
		c.mu.Lock()
		state, terminal, last, changed, closing := c.state, c.terminal, c.lastErr, c.changed, c.closing
		c.mu.Unlock()
		switch {
		case terminal != nil:
			return terminal
		case closing:
			return ErrClosed
		case state == lifecycle.StateConnected:
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			if last != nil {
				return fmt.Errorf("wsclient: not connected (last attempt: %v): %w", last, ctx.Err())
			}
			return fmt.Errorf("wsclient: not connected: %w", ctx.Err())
		}
	}
}

// gaveUp reports whether the client gave up connecting (see giveUp), and
// how long ago. A Registry asks on every Get: it takes no lock, and reads
// the clock only for a client that gave up.
func (c *Client) gaveUp() (bool, time.Duration) {
	at := c.gaveUpAt.Load()
	if at == nil {
		return false, 0
	}
	return true, time.Since(*at)
}

// ensureStarted starts the supervisor once.
func (c *Client) ensureStarted() {
	c.start.Do(func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closing {
			return
		}
		c.wg.Add(1)
		go c.supervise()
	})
}

// Send queues a copy of data and waits until it has been written to the
// connection. It returns nil once the frame is written; ErrQueueFull at once
// when the queue is full; ErrClosed after Close; ctx's error when ctx ends
// while the message waits in the queue (the message is then taken out of
// the queue at once, freeing its place and bytes for other messages, counts
// in Stats.Dropped, and is never sent); or the write's error when the
// connection failed under it (the message is not sent again: at most once).
// ctx never reaches the socket: once the frame is being written, Send waits
// for the write, at most WriteTimeout. A typ other than MessageText and
// MessageBinary is an error, and nothing is queued.
func (c *Client) Send(ctx context.Context, typ MessageType, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := typ.check(); err != nil {
		return err
	}
	cn, err := c.q.claimDirect(len(data))
	if err != nil {
		return err
	}
	if cn != nil { // nothing ahead: write on this goroutine, no copy needed
		err := cn.writeData(websocket.MessageType(typ), data)
		c.q.release()
		return err
	}
	m := &outMsg{typ: websocket.MessageType(typ), data: append([]byte(nil), data...), ctx: ctx, done: make(chan error, 1)}
	if err := c.q.push(m); err != nil {
		return err
	}
	select {
	case err := <-m.done:
		return err
	case <-ctx.Done():
		if c.q.abandon(m) {
			return ctx.Err()
		}
		return <-m.done // being written, or failed: its result is the truth
	}
}

// TrySend queues a copy of data without waiting: it returns ErrQueueFull or
// ErrClosed at once, or nil once the message is queued. Whether it is
// written later is not reported to the caller: a message lost with a
// connection that failed under it counts in Stats.WriteErrors, and one still
// queued at Close in Stats.Dropped. A typ other than MessageText and
// MessageBinary is an error, as with Send.
func (c *Client) TrySend(typ MessageType, data []byte) error {
	if err := typ.check(); err != nil {
		return err
	}
	return c.q.push(&outMsg{typ: websocket.MessageType(typ), data: append([]byte(nil), data...)})
}

// Recv returns the next received message, waiting until one arrives or ctx
// ends. After Close, it returns the messages already received, then
// ErrClosed. With Options.OnMessage set, the messages go there and Recv
// returns an error at once.
func (c *Client) Recv(ctx context.Context) (Message, error) {
	if c.opts.OnMessage != nil {
		return Message{}, errRecvWithOnMessage
	}
	select {
	case m, ok := <-c.inbound:
		if !ok {
			return Message{}, ErrClosed
		}
		return m, nil
	case <-ctx.Done():
		return Message{}, ctx.Err()
	}
}

// State returns the client's state: idle before Connect, then connecting,
// connected, backoff between attempts, closing and closed.
func (c *Client) State() lifecycle.State {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.state
}

// setState moves the client to state to and tells the waiters and
// OnStateChange. The event is queued under c.mu, so that OnStateChange
// hears of the changes in the order they were made (events.push only
// appends to a slice: no I/O, no callback).
func (c *Client) setState(to lifecycle.State) {
	c.mu.Lock()
	defer c.mu.Unlock()
	from := c.state
	if from == to || (from >= lifecycle.StateClosing && to != lifecycle.StateClosed) {
		return
	}
	c.state = to
	close(c.changed)
	c.changed = make(chan struct{})
	if c.events != nil {
		c.events.push(from, to)
	}
}

// Stats is a snapshot of a client's state and counters.
type Stats struct {
	State lifecycle.State
	// Connects counts successful connects; Reconnects those after the
	// first.
	Connects, Reconnects int64
	// DialErrors counts failed connect attempts: their dial, handshake or
	// OnConnected failed.
	DialErrors int64
	// LastError is the message of the last failed attempt or dropped
	// connection, or "".
	LastError string
	// MessagesIn/BytesIn count what was received; MessagesOut/BytesOut what
	// was written.
	MessagesIn, MessagesOut, BytesIn, BytesOut int64
	// QueueDepth is the number of messages waiting to be written.
	QueueDepth int
	// Dropped counts the messages never written: their Send's context
	// ended while they waited (they left the queue at once), or Close or
	// giving up found them queued.
	Dropped int64
	// WriteErrors counts the writes that failed (the connection died under
	// them); their messages are not sent again.
	WriteErrors int64
	// LastRTT is the round trip of the last ping, or 0.
	LastRTT time.Duration
}

// Stats returns a snapshot of the client's state and counters.
func (c *Client) Stats() Stats {
	depth, dropped := c.q.depth()
	s := Stats{
		State:       c.State(),
		Connects:    c.stats.connects.Load(),
		DialErrors:  c.stats.dialErrors.Load(),
		MessagesIn:  c.stats.messagesIn.Load(),
		MessagesOut: c.stats.messagesOut.Load(),
		BytesIn:     c.stats.bytesIn.Load(),
		BytesOut:    c.stats.bytesOut.Load(),
		QueueDepth:  depth,
		Dropped:     dropped,
		WriteErrors: c.stats.writeErrors.Load(),
		LastRTT:     time.Duration(c.stats.lastRTT.Load()),
	}
	s.Reconnects = max(0, s.Connects-1)
	c.mu.Lock()
	if c.lastErr != nil {
		s.LastError = c.lastErr.Error()
	}
	c.mu.Unlock()
	return s
}

// Close closes the client: new sends fail with ErrClosed; the queued
// messages are written if the connection is up, until ctx ends; the
// connection is closed with status 1000 and a close handshake bounded by
// CloseTimeout; then every goroutine of the client is waited for (but for
// OnStateChange's, when Close is called from OnStateChange). Messages still
// queued then fail with ErrClosed and count in Stats.Dropped, and Close
// returns an error that says how many: when ctx ended before the queue was
// written, or when the client was not connected. Close is idempotent: a
// later call waits for the first, within its own ctx, and returns nil.
func (c *Client) Close(ctx context.Context) error {
	c.mu.Lock()
	if c.closing {
		c.mu.Unlock()
		select {
		case <-c.done:
			return nil
		case <-ctx.Done():
			return fmt.Errorf("wsclient: Close: waiting for the Close in progress: %w", ctx.Err())
		}
	}
	c.closing = true
	wasConnected := c.state == lifecycle.StateConnected
	c.mu.Unlock()
	c.q.refuse(ErrClosed)
	c.setState(lifecycle.StateClosing)

	var err error
	if wasConnected {
		err = c.q.waitEmpty(ctx)
	}
	c.stop(errUserClose)
	c.start.Do(func() {}) // never start after Close
	// Fail what is still queued before waiting: a Send in OnMessage may be
	// waiting for it, and the reader that runs OnMessage for that Send.
	if n := c.q.failAll(ErrClosed); n > 0 && err == nil {
		err = fmt.Errorf("wsclient: close: %d queued message(s) not written: the client was not connected; they count in Stats.Dropped", n)
	}
	c.wg.Wait()
	c.setState(lifecycle.StateClosed)
	close(c.inbound)
	if c.events != nil {
		c.events.close()
	}
	close(c.done)
	return err
}

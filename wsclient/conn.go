package wsclient

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/connkit/connkit/lifecycle"
)

// Session is the connection of the moment, as OnConnected sees it.
type Session struct {
	cn *connection
}

// Send writes a message at once, ahead of the queue: for authentication
// and subscriptions in OnConnected. It is bounded by WriteTimeout; ctx is
// checked first but never reaches the socket.
func (s *Session) Send(ctx context.Context, typ MessageType, data []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := typ.check(); err != nil {
		return err
	}
	return s.cn.write(websocket.MessageType(typ), data)
}

// connection runs one WebSocket connection: a reader, a writer and a
// pinger, until one of them fails or Close ends it.
type connection struct {
	c        *Client
	ws       *websocket.Conn
	nc       net.Conn        // the socket under ws, or nil when the transport did not say
	ctx      context.Context // ends when the connection ends; cancelling it closes ws
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	wt       *time.Timer  // fails the connection when a data write outlasts WriteTimeout
	lastRead atomic.Int64 // monotime of the last frame received (data, ping or pong), or of the end of a wait for the application
	blocked  atomic.Bool  // the reader waits for OnMessage or Recv: the peer is not silent

	failOnce sync.Once
	failed   chan struct{}
	info     CloseInfo // why it ended, set once before failed is closed

	// readerDone is closed when this connection's reader has returned;
	// prevReader is the previous connection's, which this reader waits for
	// before it hands on a message, so that messages keep their order and
	// OnMessage runs one call at a time across reconnects.
	readerDone chan struct{}
	prevReader <-chan struct{}
}

var epoch = time.Now()

func monotime() int64 { return int64(time.Since(epoch)) }

// alive records that a frame came from the peer: any frame, a ping or a
// pong included, is proof of life. coder/websocket calls it from the reader
// for control frames (DialOptions.OnPingReceived and OnPongReceived).
func (cn *connection) alive() { cn.lastRead.Store(monotime()) }

// fail records why the connection ends, once, and ends it. It closes
// failed before it detaches the connection from the queue, so that attach,
// which checks failed under the queue's lock, never attaches a failed one;
// then it ends ctx, so that OnConnected stops waiting on a dead connection.
func (cn *connection) fail(info CloseInfo) {
	cn.failOnce.Do(func() {
		cn.info = info
		close(cn.failed)
		cn.c.q.detach(cn)
		cn.cancel()
	})
}

// isFailed reports whether fail was called.
func (cn *connection) isFailed() bool {
	select {
	case <-cn.failed:
		return true
	default:
		return false
	}
}

// forceClose closes the socket at once, whatever coder/websocket is doing
// on it: reads, writes and a close handshake in progress all fail.
func (cn *connection) forceClose() {
	if cn.nc != nil {
		cn.nc.Close()
		return
	}
	cn.ws.CloseNow()
}

// end ends the connection's context and closes its socket, on the calling
// goroutine: every path out of run ends here.
func (cn *connection) end() {
	cn.cancel()
	cn.forceClose()
}

// readCtx is the context of reads: none when the socket is known (closing
// it ends a read, and coder costs nothing per read without a context);
// else the connection's, which makes coder close the connection when it
// ends.
func (cn *connection) readCtx() context.Context {
	if cn.nc != nil {
		return context.Background()
	}
	return cn.ctx
}

// newConnection returns a connection with no socket yet: dial fills ws and
// nc, and the dial options it makes report control frames to cn.alive.
func (c *Client) newConnection() *connection {
	ctx, cancel := context.WithCancel(context.Background()) // not c.base: Close wants a handshake first
	return &connection{c: c, ctx: ctx, cancel: cancel, failed: make(chan struct{}), readerDone: make(chan struct{})}
}

// run runs cn, freshly dialed, until it drops or Close ends it, and says
// why it ended, and whether OnConnected succeeded on it (the attempt then
// counts as a connect). It waits for the connection's writer and pinger,
// but not for its reader, which may be held up in OnMessage by a Send
// whose message waits for the next connection: the next reader waits for
// it instead, and Close waits for them all (c.wg).
func (c *Client) run(cn *connection) (info CloseInfo, connected bool) {
	cn.lastRead.Store(monotime())
	cn.wt = time.AfterFunc(time.Hour, func() {
		cn.fail(CloseInfo{Code: -1, Err: cn.writeTimeoutError()})
		cn.forceClose()
	})
	cn.wt.Stop()
	// Data writes run on a background context, which costs coder nothing
	// per call, and so do reads when the socket is known: end closes the
	// socket under them.
	defer cn.wg.Wait()
	defer cn.wt.Stop()
	defer cn.end()

	cn.prevReader, c.lastReader = c.lastReader, cn.readerDone
	c.wg.Go(cn.readLoop) // c.wg counts the supervisor, which runs this: Add is safe
	if err := cn.onConnected(); err != nil {
		if cn.isFailed() {
			// The connection ended under OnConnected (the server closed it,
			// say with 1008 to refuse a token): why it ended decides the
			// reconnect, not the ctx error it left OnConnected with.
			info := cn.info
			info.Err = fmt.Errorf("wsclient: OnConnected: %w, after %w", err, info.Err)
			return info, false
		}
		return CloseInfo{Code: -1, Err: fmt.Errorf("wsclient: OnConnected: %w", err)}, false
	}
	c.stats.connects.Add(1)
	c.setState(lifecycle.StateConnected)
	c.opts.Logger.Info("wsclient: connected")
	c.q.attach(cn)
	cn.wg.Go(cn.writeLoop)
	if c.opts.PingInterval > 0 {
		cn.wg.Go(cn.pingLoop)
	}

	select {
	case <-cn.failed:
		c.opts.Logger.Warn("wsclient: connection lost", "err", cn.info.Err)
		return cn.info, true
	case <-c.base.Done():
		c.q.detach(cn)
		cn.closeHandshake()
		return CloseInfo{Code: websocket.StatusNormalClosure, By: ClosedByClient, Err: errUserClose}, true
	}
}

// onConnected runs Options.OnConnected, if set, with a ctx that ends at
// Close, when the connection fails, or ConnectTimeout after it started.
func (cn *connection) onConnected() (err error) {
	c := cn.c
	if c.opts.OnConnected == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(cn.ctx, c.opts.ConnectTimeout)
	defer cancel()
	stop := context.AfterFunc(c.base, cancel)
	defer stop()
	defer recoverCallback(c.opts.Logger, "OnConnected", &err)
	return c.opts.OnConnected(ctx, &Session{cn: cn})
}

// closeHandshake closes with status 1000, waiting for the peer's close at
// most CloseTimeout, then tears the connection down.
func (cn *connection) closeHandshake() {
	done := make(chan struct{})
	go func() {
		defer close(done)
		cn.ws.Close(websocket.StatusNormalClosure, "")
	}()
	t := time.NewTimer(cn.c.opts.CloseTimeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		cn.end() // the socket closes under the handshake, which returns
		<-done
	}
}

// readLoop reads every message into the client's inbound buffer, or gives
// it to Options.OnMessage. Reading also processes pongs and the peer's
// close, so it runs for the whole life of the connection.
func (cn *connection) readLoop() {
	defer close(cn.readerDone)
	c := cn.c
	prev := cn.prevReader
	for {
		typ, data, err := cn.ws.Read(cn.readCtx())
		if err != nil {
			cn.fail(readCloseInfo(err))
			return
		}
		cn.lastRead.Store(monotime())
		c.stats.messagesIn.Add(1)
		c.stats.bytesIn.Add(int64(len(data)))
		cn.blocked.Store(true)
		if prev != nil { // the previous connection's reader may still be handing on its last message
			select {
			case <-prev:
				prev = nil
			case <-cn.ctx.Done():
				return
			}
		}
		if h := c.opts.OnMessage; h != nil {
			h(Message{Type: MessageType(typ), Data: data})
			cn.lastRead.Store(monotime()) // the handler's time is not the peer's silence
			cn.blocked.Store(false)
			if cn.ctx.Err() != nil {
				return
			}
			continue
		}
		m := Message{Type: MessageType(typ), Data: data}
		select {
		case c.inbound <- m:
			cn.blocked.Store(false)
			continue
		default:
		}
		select { // the buffer is full: wait for Recv
		case c.inbound <- m:
			cn.lastRead.Store(monotime()) // the application's time is not the peer's silence
			cn.blocked.Store(false)
		case <-cn.ctx.Done():
			return
		}
	}
}

// readCloseInfo says who ended the connection, from the reader's error.
func readCloseInfo(err error) CloseInfo {
	var ce websocket.CloseError
	if errors.As(err, &ce) {
		return CloseInfo{Code: ce.Code, Reason: ce.Reason, By: ClosedByServer, Err: fmt.Errorf("wsclient: server closed the connection: %w", err)}
	}
	return CloseInfo{Code: -1, Err: fmt.Errorf("wsclient: read: %w", err)}
}

// writeLoop is the connection's only writer of data messages: it writes the
// queue in order, one frame at a time.
func (cn *connection) writeLoop() {
	c := cn.c
	for {
		if cn.isFailed() { // what is queued waits for the next connection
			return
		}
		m := c.q.pop()
		if m == nil {
			select {
			case <-c.q.ready:
				continue
			case <-cn.ctx.Done(): // fail ends it too
				return
			}
		}
		err := cn.writeData(m.typ, m.data)
		c.q.finish(m, err)
		if err != nil {
			return
		}
	}
}

// writeData writes one frame of the queue, bounded by WriteTimeout. The
// queue lets one writeData run at a time. A failed write fails the
// connection: the frame may be half written.
func (cn *connection) writeData(typ websocket.MessageType, data []byte) error {
	cn.wt.Reset(cn.c.opts.WriteTimeout)
	err := cn.ws.Write(context.Background(), typ, data)
	timedOut := !cn.wt.Stop()
	if err != nil {
		cn.c.stats.writeErrors.Add(1)
		if timedOut {
			err = cn.writeTimeoutError()
		} else {
			err = fmt.Errorf("wsclient: write: %w", err)
		}
		cn.fail(CloseInfo{Code: -1, Err: err})
		return err
	}
	cn.c.stats.messagesOut.Add(1)
	cn.c.stats.bytesOut.Add(int64(len(data)))
	return nil
}

func (cn *connection) writeTimeoutError() error {
	return fmt.Errorf("wsclient: write not done within WriteTimeout (%v), connection closed: %w", cn.c.opts.WriteTimeout, context.DeadlineExceeded)
}

// write writes one frame for a Session, bounded by WriteTimeout.
func (cn *connection) write(typ websocket.MessageType, data []byte) error {
	ctx, cancel := context.WithTimeout(cn.ctx, cn.c.opts.WriteTimeout)
	defer cancel()
	if err := cn.ws.Write(ctx, typ, data); err != nil {
		return fmt.Errorf("wsclient: write: %w", err)
	}
	cn.c.stats.messagesOut.Add(1)
	cn.c.stats.bytesOut.Add(int64(len(data)))
	return nil
}

// pingLoop pings when the peer has been silent for PingInterval, and ends
// the connection when neither the pong nor any other frame comes within
// PongTimeout: a peer that sends but does not answer (busy, not reading) is
// alive. While the reader waits for the application (OnMessage, or room in
// a full Recv buffer) it reads no pong: the pinger does not ping then, and
// does not hold a ping that timed out during such a wait against the peer.
func (cn *connection) pingLoop() {
	c := cn.c
	t := time.NewTimer(c.opts.PingInterval)
	defer t.Stop()
	for {
		select {
		case <-cn.ctx.Done(): // fail ends it too
			return
		case <-t.C:
		}
		// blocked before lastRead, in the order opposite to the reader's
		// writes: a reader seen unblocked has stored its lastRead already.
		if cn.blocked.Load() {
			t.Reset(c.opts.PingInterval) // the reader waits for the application
			continue
		}
		if silent := time.Duration(monotime() - cn.lastRead.Load()); silent < c.opts.PingInterval {
			t.Reset(c.opts.PingInterval - min(silent, c.opts.PingInterval-time.Millisecond))
			continue
		}
		if c.pingHook != nil {
			c.pingHook()
		}
		ctx, cancel := context.WithTimeout(cn.ctx, c.opts.PongTimeout)
		start, sent := time.Now(), monotime()
		err := cn.ws.Ping(ctx) // a missed pong leaves the connection up
		cancel()
		switch {
		case err == nil:
			c.stats.lastRTT.Store(int64(time.Since(start)))
			cn.lastRead.Store(monotime())
		case cn.ctx.Err() != nil:
			return
		case errors.Is(err, context.DeadlineExceeded) && (cn.blocked.Load() || cn.lastRead.Load() > sent):
			// No pong, but the reader, which took a message just before
			// the ping, still waits for OnMessage or Recv and has not read
			// it; or a frame came meanwhile, or the reader stopped waiting
			// (which stores lastRead): the peer is not silent. blocked
			// first, as above.
		default:
			cn.fail(CloseInfo{Code: -1, Err: fmt.Errorf("wsclient: no pong within %v: %w", c.opts.PongTimeout, err)})
			return
		}
		t.Reset(c.opts.PingInterval)
	}
}

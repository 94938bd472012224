package wsclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/coder/websocket"
	"github.com/connkit/connkit/lifecycle"
)

// Defaults for the Options fields left zero.
const (
	DefaultConnectTimeout = 10 * time.Second
	DefaultStableAfter    = 30 * time.Second
	DefaultPingInterval   = 30 * time.Second
	DefaultPongTimeout    = 10 * time.Second
	DefaultWriteTimeout   = 10 * time.Second
	DefaultCloseTimeout   = 5 * time.Second
	DefaultQueueLimit     = 1024
	DefaultQueueBytes     = 4 << 20
	DefaultReadLimit      = 1 << 20
	DefaultRecvBuffer     = 256
)

// Options configures a Client. New copies them and fills in the defaults;
// changing them afterwards changes nothing.
type Options struct {
	// URL is the ws:// or wss:// endpoint. Required unless Prepare is set.
	// It must not hold a secret: it shows in errors and Stats. Put tokens in
	// Header or return them from Prepare.
	URL string

	// Header is sent with every handshake. Nil means none.
	Header http.Header

	// Prepare, if set, is called before every connect attempt and returns
	// the URL and header to use for it: for tokens that expire and must be
	// fetched again. Its ctx is bounded by ConnectTimeout. An error, or a
	// panic (recovered and logged with its stack), fails the attempt.
	Prepare func(ctx context.Context) (url string, header http.Header, err error)

	// HTTPClient makes the handshake. Nil means a client like
	// http.DefaultClient (proxy from the environment; TLS certificates
	// verified against the system's roots) whose dials set
	// lifecycle.DefaultKeepAlive; give a client with its own tls.Config to
	// trust another CA. The client uses a copy of an *http.Transport, with
	// keep-alives off so that every handshake has its own socket, which the
	// client can then close at once when CloseTimeout or WriteTimeout pass;
	// another RoundTripper is used as is, and a close handshake the peer
	// does not answer may then take up to 5s whatever CloseTimeout says.
	HTTPClient *http.Client

	// Subprotocols are offered in the handshake.
	Subprotocols []string

	// ConnectTimeout bounds each connect attempt, handshake included, and
	// then, from its start, OnConnected's ctx. Zero means
	// DefaultConnectTimeout (10s).
	ConnectTimeout time.Duration

	// NewBackOff returns the policy that spaces reconnects. Nil means
	// DefaultBackOff: exponential from 500ms, ×1.5 up to 30s, each delay
	// randomized by ±50%, forever.
	NewBackOff func() backoff.BackOff

	// MaxAttempts is how many connect attempts may fail in a row before the
	// client gives up and closes itself. An attempt fails when its dial,
	// its handshake or its OnConnected fails; the count starts again only
	// once OnConnected succeeded. Zero means it never gives up.
	MaxAttempts int

	// StableAfter is how long a connection must stay up for the backoff to
	// start again from its first delay; a connection that drops sooner is
	// retried after the next, longer delay, so a server that accepts and
	// drops is not hammered. Zero means DefaultStableAfter (30s).
	StableAfter time.Duration

	// ShouldReconnect decides, after a failed connect or a dropped
	// connection, whether to try again. Nil means DefaultShouldReconnect.
	// It runs on the client's supervisor goroutine: a panic in it is
	// recovered and logged with its stack, and the client gives up, with
	// an error that names the panic (Connect, Send and TrySend return it).
	ShouldReconnect func(CloseInfo) bool

	// PingInterval is how long the connection may be silent before the
	// client pings: any frame received counts as proof of life, the
	// server's pings and pongs as much as data messages. Zero means
	// DefaultPingInterval (30s); negative means no pings.
	PingInterval time.Duration

	// PongTimeout is how long a ping may wait for its pong before the
	// connection is taken for dead and replaced; any other frame received
	// meanwhile proves the peer alive too. A ping that times out while the
	// client reads nothing because the application holds it up (OnMessage
	// runs, or the Recv buffer is full) is not held against the peer. Zero
	// means DefaultPongTimeout (10s).
	PongTimeout time.Duration

	// WriteTimeout bounds each frame written. A write that outlasts it (the
	// peer stopped reading and the socket buffers are full) closes the
	// connection, its Send fails with an error that matches
	// context.DeadlineExceeded, and the client reconnects. Zero means
	// DefaultWriteTimeout (10s).
	WriteTimeout time.Duration

	// CloseTimeout bounds the close handshake of Close. Zero means
	// DefaultCloseTimeout (5s).
	CloseTimeout time.Duration

	// QueueLimit and QueueBytes bound the messages waiting to be written, in
	// number and in bytes: a Send or TrySend past either gets ErrQueueFull.
	// Zero means DefaultQueueLimit (1024) and DefaultQueueBytes (4 MiB).
	QueueLimit int
	QueueBytes int

	// ReadLimit is the largest message accepted; a larger one closes the
	// connection with status 1009. Zero means DefaultReadLimit (1 MiB).
	ReadLimit int64

	// RecvBuffer is how many received messages wait for Recv. When it is
	// full the client stops reading until Recv catches up: meanwhile it
	// reads no pong and no close from the server, and does not ping, as
	// while OnMessage runs. Zero means DefaultRecvBuffer (256). Unused with
	// OnMessage.
	RecvBuffer int

	// OnMessage, when set, is given every received message instead of Recv,
	// in order, on the client's reader goroutine. A Recv hands each message
	// from that goroutine to its caller's, which on a multi-core machine
	// usually means waking another CPU: a round trip through Recv costs
	// about that wake-up more than one through OnMessage (bench/RESULTS.md).
	// m.Data is the handler's to keep.
	//
	// While OnMessage runs the connection reads nothing, pongs and the
	// server's close included, and that silence does not count against the
	// peer (see PongTimeout): return quickly, and hand slow work to a
	// goroutine of your own. OnMessage may call Send and TrySend (a reply
	// written from the handler costs no hand-off either), but not Close,
	// which waits for the reader goroutine. A panic in it is not recovered.
	// With OnMessage set, Recv returns an error at once.
	OnMessage func(m Message)

	// OnConnected runs after every connect and reconnect, before the queued
	// messages are written: send authentication and subscriptions with
	// s.Send, which writes ahead of the queue. An error, or a panic
	// (recovered and logged with its stack), closes the connection and
	// counts as a failed attempt (towards MaxAttempts, and in
	// Stats.DialErrors).
	//
	// Its ctx ends at Close, when the connection fails, and ConnectTimeout
	// after OnConnected started: wait on it (for an authentication reply,
	// say) and return once it ends, as Close waits for OnConnected.
	OnConnected func(ctx context.Context, s *Session) error

	// OnStateChange is told of every change of state, in order, on a
	// goroutine of the client's own (never the read loop). Close returns
	// after it has been told of StateClosed, except a Close called from
	// OnStateChange itself, which cannot wait for the callback it runs in:
	// the rest of the changes are delivered once the callback returns. A
	// panic in it is recovered and logged with its stack, and the next
	// change is delivered.
	OnStateChange func(from, to lifecycle.State)

	// Logger receives connects, drops and reconnect decisions. Nil means no
	// logging.
	Logger *slog.Logger
}

// DefaultBackOff is the reconnect backoff when Options.NewBackOff is nil.
func DefaultBackOff() backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(500*time.Millisecond),
		backoff.WithMultiplier(1.5),
		backoff.WithMaxInterval(30*time.Second),
		backoff.WithRandomizationFactor(0.5),
		backoff.WithMaxElapsedTime(0),
	)
}

// withDefaults returns a copy of o with defaults filled in, or an error
// naming the first invalid field.
func (o Options) withDefaults() (Options, error) {
	if o.Prepare == nil {
		if o.URL == "" {
			return o, errors.New("wsclient: Options.URL is required (or Options.Prepare)")
		}
		if err := checkURL(o.URL); err != nil {
			return o, err
		}
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"ConnectTimeout", int64(o.ConnectTimeout)}, {"StableAfter", int64(o.StableAfter)},
		{"PongTimeout", int64(o.PongTimeout)}, {"WriteTimeout", int64(o.WriteTimeout)},
		{"CloseTimeout", int64(o.CloseTimeout)}, {"MaxAttempts", int64(o.MaxAttempts)},
		{"QueueLimit", int64(o.QueueLimit)}, {"QueueBytes", int64(o.QueueBytes)},
		{"ReadLimit", o.ReadLimit}, {"RecvBuffer", int64(o.RecvBuffer)},
	} {
		if f.v < 0 {
			return o, fmt.Errorf("wsclient: Options.%s is negative", f.name)
		}
	}
	setDefault(&o.ConnectTimeout, DefaultConnectTimeout)
	setDefault(&o.StableAfter, DefaultStableAfter)
	setDefault(&o.PingInterval, DefaultPingInterval)
	setDefault(&o.PongTimeout, DefaultPongTimeout)
	setDefault(&o.WriteTimeout, DefaultWriteTimeout)
	setDefault(&o.CloseTimeout, DefaultCloseTimeout)
	setDefault(&o.QueueLimit, DefaultQueueLimit)
	setDefault(&o.QueueBytes, DefaultQueueBytes)
	setDefault(&o.ReadLimit, DefaultReadLimit)
	setDefault(&o.RecvBuffer, DefaultRecvBuffer)
	if o.NewBackOff == nil {
		o.NewBackOff = DefaultBackOff
	}
	if o.ShouldReconnect == nil {
		o.ShouldReconnect = DefaultShouldReconnect
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o, nil
}

func setDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

// checkURL rejects what cannot be a WebSocket endpoint, without echoing
// credentials the URL may hold.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("wsclient: Options.URL does not parse as a URL")
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
		return nil
	}
	return fmt.Errorf("wsclient: Options.URL has scheme %q; want ws or wss", u.Scheme)
}

// Closer says who ended a connection.
type Closer uint8

const (
	// ClosedByNetwork means the connection failed or timed out: a dial
	// error, a dead peer, a missed pong, a failed write.
	ClosedByNetwork Closer = iota
	// ClosedByServer means the server refused the handshake or sent a close
	// frame.
	ClosedByServer
	// ClosedByClient means Close was called.
	ClosedByClient
)

// CloseInfo describes why a connect failed or a connection ended, for
// ShouldReconnect.
type CloseInfo struct {
	// Code is the close status the server sent, or -1 when there was none.
	Code websocket.StatusCode
	// Reason is the reason the server sent with its close frame.
	Reason string
	// HTTPStatus is the status of a refused handshake (401, 503...), or 0.
	HTTPStatus int
	// RetryAfter is the server's Retry-After on a refused handshake, capped
	// at a day, or 0 when it sent none (or one that does not parse).
	RetryAfter time.Duration
	// By says who ended the connection.
	By Closer
	// Err is the error that ended it.
	Err error
}

// DefaultShouldReconnect is the reconnect policy when
// Options.ShouldReconnect is nil. It retries network errors and timeouts;
// handshakes refused with 5xx, 408 or 429; and close codes 1000 (a server
// rotating connections), 1001, 1005, 1006, 1011, 1012, 1013 and 1014. It does
// not retry other refused handshakes (401, 403, 404...: retrying cannot fix
// them), a server certificate that failed verification, the close codes
// that say the client is at fault (1002, 1003, 1007, 1008, 1009, 1010) or
// any other, nor a Close by the user.
func DefaultShouldReconnect(ci CloseInfo) bool {
	var certErr *tls.CertificateVerificationError
	switch {
	case ci.By == ClosedByClient:
		return false
	case errors.As(ci.Err, &certErr):
		return false // an untrusted certificate stays untrusted
	case ci.HTTPStatus != 0:
		return ci.HTTPStatus >= 500 || ci.HTTPStatus == http.StatusRequestTimeout || ci.HTTPStatus == http.StatusTooManyRequests
	case ci.Code == -1:
		return true // a network error
	}
	switch ci.Code {
	case websocket.StatusNormalClosure, websocket.StatusGoingAway, websocket.StatusNoStatusRcvd,
		websocket.StatusAbnormalClosure, websocket.StatusInternalError, websocket.StatusServiceRestart,
		websocket.StatusTryAgainLater, websocket.StatusBadGateway:
		return true
	}
	return false
}

// Package wsclient is a guarded, reconnecting outbound WebSocket client on
// github.com/coder/websocket: for services that keep a connection to an
// exchange, a chat platform or another service, and must never dial twice,
// never write from two goroutines, and never lose a message silently.
//
// One supervisor goroutine owns the connection. Connect starts it or joins
// the attempt in flight, so a hundred callers make one handshake. When the
// connection drops, the supervisor reconnects after a jittered backoff
// (DefaultBackOff: 500ms ×1.5 to 30s, ±50%), which starts again from its
// first delay only once a connection has stayed up StableAfter; the reconnect
// policy (DefaultShouldReconnect, or Options.ShouldReconnect) decides which
// failures are worth retrying: not a 401, not a close that says the client
// is at fault, not a Close by the user. OnConnected runs after every
// (re)connect, before any queued message, so authentication and
// subscriptions go first; its failure is a failed attempt like a refused
// handshake.
//
// # Sending
//
// Data messages are written one at a time, in the order of one queue. When
// the connection is up and nothing is queued or being written, Send writes
// its message itself, on its own goroutine, with no copy and no hand-off (a
// round trip costs what raw coder/websocket costs); otherwise it queues a
// copy for the connection's writer goroutine. Either way Send returns nil
// only once the frame is written; while the client is disconnected, messages wait in
// the queue (bounded by QueueLimit and QueueBytes: past them, ErrQueueFull).
// A Send whose context ends while its message waits gets the context's error
// at once: the message leaves the queue, freeing its place, counts in
// Stats.Dropped, and is never sent late. The caller's context never reaches
// the socket: in coder/websocket, cancelling a write's context closes the
// whole connection. Delivery is at most once: a frame written on a connection that
// then died is not sent again, and its Send returned the write's error.
// TrySend queues without waiting.
//
// # Liveness
//
// A reader goroutine always runs: it fills the buffer Recv reads from (or
// calls Options.OnMessage) and processes pings, pongs and the peer's close.
// Any frame received is proof of life, a ping or a pong as much as a data
// message. When the peer has been silent for PingInterval, the client
// pings; no pong (nor any other frame) within PongTimeout and the
// connection is taken for dead and replaced, so a peer that vanished
// without closing (a network that stalls instead of failing), which sends
// nothing, is found in PingInterval + PongTimeout. Time in which the
// application holds the reader up (in OnMessage, or with the Recv buffer
// full) is not the peer's silence: the client reads no pong then, and
// counts PingInterval again from when the reader is free.
//
// # Closing
//
// Close refuses new sends, writes what is queued (within its context), does
// the close handshake with status 1000 within CloseTimeout, and waits for
// every goroutine. Registry keeps one client per endpoint for a process, so
// request handlers never dial; it replaces a client that gave up.
//
// # Secrets
//
// Errors and Stats carry the URL's host and path but not its query or user
// info, which are redacted from dial errors. Prefer headers (Options.Header
// or Options.Prepare) for tokens.
//
// # Costs
//
// Measured against raw coder/websocket with an echo server in another
// process (bench/RESULTS.md): a Send with nothing ahead of it costs what a
// raw Write costs, with no allocation of its own (it writes from the
// caller's goroutine without copying). A received message reaches Recv
// through the reader goroutine, which must always run (it answers pings and
// sees the peer's close): one goroutine hand-off per message, which on a
// multi-core machine usually wakes another CPU. Timed in the same moments
// on 2-core virtual machines (the medians of ten report runs, 64-byte and
// 4 KiB messages), an echo round trip through Recv took 1.09x to 1.22x that
// of raw coder reading on the goroutine that wrote; with the program on one
// CPU, where no other CPU is woken, 1.02x to 1.04x. Against raw coder read
// by a goroutine that always reads and hands each message on, as a coder
// client that pings must read when its messages are taken elsewhere, it
// took 0.98x to 1.05x (three report runs; single runs 0.91x to 1.08x): the
// hand-off is about the whole difference. Options.OnMessage takes the
// messages on the reader goroutine itself, with no hand-off; a client that
// replies from it (an echo, a bot answering a command) took 1.00x to 1.08x
// raw coder's. Use it for high-rate streams whose messages are handled
// quickly; use Recv when the handling is slow or belongs to another
// goroutine anyway.
package wsclient

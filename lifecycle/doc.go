// Package lifecycle provides the primitives the rest of connkit stands on: a
// guard that keeps one connection to a target with at most one connect in
// flight, the states a connection goes through, a gate that spaces attempts
// after failures, and a group that shuts components down in order within a
// time limit.
//
// A Guard is for a process that holds one long-lived connection to a target
// and shares it between goroutines: a WebSocket to an exchange, a control
// connection, a client to a service that multiplexes. Get returns the
// connection when there is one, else joins the connect in flight, else starts
// one. The connect runs on the guard's own goroutine with a context that
// keeps the starting caller's values but not its cancellation, so a caller
// that gives up stops only its own wait: the connect goes on for everyone
// else, and no half-open dial is orphaned. Each connect is bounded by
// ConnectTimeout and cancelled by Close, which waits for it.
//
// # Failures and backoff
//
// After a failed connect the guard backs off (DefaultBackOff: 100ms doubling
// to 30s, ±50% jitter). Callers that arrive during the backoff get the last
// failure at once, as a *BackoffError that wraps it, instead of dialing: a
// thousand requests against a dead backend make one connect per backoff
// delay, not a thousand. The first Get after the delay connects again; a
// success resets the backoff. Gate is that mechanism on its own, for code
// that keeps its own state, such as a pool's dialer.
//
// # Broken connections
//
// The guard cannot know that a connection broke; its users find out when a
// read or write fails. They call Invalidate with the connection they were
// using: if it is still the current one, the guard closes it and the next Get
// connects again. If another goroutine got there first and a new connection
// is already up, the stale Invalidate does nothing, so one failure never
// closes two connections.
//
// # States
//
// State reports where the guard is: idle, connecting, connected, backoff,
// closing or closed. GuardConfig.OnStateChange is told of every change, in
// order, one at a time, with no lock held, so it can log or export metrics.
// A state is a snapshot: "connected" means the guard holds a connection that
// nobody has reported broken, not that the peer is still there. Liveness needs
// traffic: pings (connkit's wsclient and pool do them) or the next request.
//
// # Shutdown
//
// Group closes components in the reverse order they were added, each bounded
// by the shutdown context; a closer that overruns is abandoned after
// Group.Grace and named in the joined error, and the rest are still called.
// Run wires a group to SIGINT and SIGTERM for graceful restarts: on the first
// signal it gives in-flight work maxWait to finish, then forces; a second
// signal returns at once.
package lifecycle

package lifecycle

import "strconv"

// State is where a connection is in its life. A Guard moves through the
// states in this order, looping between connecting and connected (or backoff)
// until it is closed:
//
//	Idle -> Connecting -> Connected -> Idle (Invalidate) -> Connecting ...
//	             \-> Backoff -> Connecting ...
//	any -> Closing -> Closed
type State int32

const (
	// StateIdle means there is no connection and no connect in flight: the
	// next Get connects.
	StateIdle State = iota
	// StateConnecting means one connect is in flight; callers of Get wait for it.
	StateConnecting
	// StateConnected means a connection is held and Get returns it at once.
	StateConnected
	// StateBackoff means the last connect failed. Until the backoff delay has
	// passed, Get fails at once with that error; the first Get after it
	// connects again.
	StateBackoff
	// StateClosing means Close has started: no new connect starts.
	StateClosing
	// StateClosed means Close has finished and every goroutine has stopped.
	StateClosed
)

var stateNames = [...]string{
	StateIdle:       "idle",
	StateConnecting: "connecting",
	StateConnected:  "connected",
	StateBackoff:    "backoff",
	StateClosing:    "closing",
	StateClosed:     "closed",
}

// String returns the state's lower-case name, such as "connected", or
// "State(n)" for a value outside the constants.
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "State(" + strconv.Itoa(int(s)) + ")"
}

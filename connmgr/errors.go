package connmgr

import "errors"

// ErrFull is returned by Push when the table holds Options.Capacity rows
// and the ID is new. Nothing was stored and nothing was evicted: refuse the
// connection, or Pop a row first.
var ErrFull = errors.New("connmgr: table full")

// ErrNotFound is returned by SetName and Update when there is no row for
// the ID: the connection was never pushed or is already popped. Nothing is
// created.
var ErrNotFound = errors.New("connmgr: no row for ID")

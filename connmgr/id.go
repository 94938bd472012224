package connmgr

import (
	"context"
	"sync/atomic"
)

// ID identifies a connection. IDs from NextID are never reused within a
// process, unlike file descriptors, so a missed Pop can leave a stale row
// but never hand it to another connection.
type ID uint64

// lastID is the last ID handed out. It is package state on purpose: IDs
// are unique across every table in the process, so an ID found in a log or
// a context can only mean one connection.
var lastID atomic.Uint64

// NextID returns a new ID, greater than every ID it returned before; never
// 0. It is safe for concurrent use and costs one atomic add.
func NextID() ID {
	return ID(lastID.Add(1))
}

// idKey is the context key for an ID.
type idKey struct{}

// WithID returns a copy of ctx that carries id, for IDFromContext. Table's
// ConnContext does this for an http.Server.
func WithID(ctx context.Context, id ID) context.Context {
	return context.WithValue(ctx, idKey{}, id)
}

// IDFromContext returns the connection ID that ctx carries, and reports
// whether it carries one. In a handler of an http.Server whose ConnContext
// is Table.ConnContext, r.Context() carries the ID of the connection the
// request came on.
func IDFromContext(ctx context.Context) (ID, bool) {
	id, ok := ctx.Value(idKey{}).(ID)
	return id, ok
}

// Package connmgr keeps a typed attribute table for the connections a
// server holds: per connection, who it is and what it is for (which bot or
// user, which token, which room, since when).
//
// A Table[A] holds one row per connection ID: a name, the attributes A and
// the time of the Push. The schema is the exported fields of the struct A,
// checked once by New, so a field the table cannot hold is an error at
// start-up, not a value silently dropped later. Push stores a row when a
// connection opens and Pop removes it when it closes; Get returns a copy,
// SetName and Update change a row that exists and never create one, and
// ByName finds every row with a name through an index, at a cost in
// proportion to the rows it returns, not to the table. IDs come from
// NextID and are never reused within a process, so a missed Pop leaves a
// stale row (Stats shows it) but never gives its attributes to the next
// connection, as a reused file descriptor would. Listener does all of this
// for a net.Listener: every accepted connection gets an ID and a row, popped
// when the connection is closed, hijacked WebSocket connections included;
// ConnContext and IDFromContext give each HTTP handler its connection's ID.
//
// # Schema
//
// A field of A may be a string, a bool, any integer or float type (named
// types such as `type Role string` included), or time.Time. Pointers,
// slices, maps, arrays, interfaces, channels, funcs, complex numbers,
// uintptr and structs other than time.Time are errors from New: each either
// shares memory, so that a copy from Get would not be a copy, or has no use
// as a connection attribute. Unexported fields are errors too, rather than
// being stored unseen; keep private state outside the table.
//
// A string field may carry a size cap:
//
//	Token string `connmgr:"size=64"`
//
// Push and Update cut a longer value to at most 64 bytes, at a rune
// boundary: a valid UTF-8 value stays valid (an invalid one is cut at the
// byte limit, or before a valid rune that would cross it). Stats counts
// the cuts. size must be a positive integer and is allowed on strings only;
// any other key in a connmgr tag is an error. Capping uses reflect, about
// 20 ns per capped field on each Push and Update; a table without caps
// never uses reflect after New.
//
// # Capacity
//
// Options.Capacity bounds the rows exactly, under any concurrency: a Push
// of a new ID reserves a slot before it inserts, and gets ErrFull when
// there is none. Nothing is ever evicted. A Push for an ID already held
// replaces its row (the open event is authoritative) and needs no new slot.
//
// # Concurrency
//
// Rows are spread over 64 shards by ID, each with its own lock for the
// calls that change rows. Get takes no lock (a shard's rows are a hash
// table of atomic pointers), so a Get never waits, for another Get or for a
// writer; ByName, Range and Stats take locks. A stored row is never changed
// in place: Push, SetName and Update store a new copy, so a reader copies a
// row without holding any lock. Each call on one ID (Push, Pop, Get,
// SetName, Update) is atomic: it sees and leaves the row whole. Get sees a
// change as soon as the row is stored, a moment before the name index and
// Len do: they have caught up by the time the changing call returns.
//
// Nothing spans rows. ByName reads one name's rows from the index under
// one lock, a snapshot of that name; a row being renamed may be missing
// from both its old and new name's results for that moment. Range copies
// one shard at a time and calls its func with no lock held, so it is not a
// snapshot of the whole table. Stats adds up the shards one at a time. The
// name index is sharded by name. Lock order: a row shard, then one name
// shard; no call holds two shards of a kind.
//
// # From zhamao/connection-manager
//
// The PHP library zhamao/connection-manager keeps the same kind of table in
// Swoole shared memory. Its calls map to connmgr as follows:
//
//	init(max_conn, conflict_proportion, fields)
//	                         New[A](Options{Capacity: max_conn}); fields are A's
//	                         fields; conflict_proportion has no counterpart (hash tables that grow)
//	pushConnect(fd, name, options)  Push(id, name, attrs), id from NextID
//	popConnect(fd)           Pop(id)
//	get(fd)                  Get(id), an Entry[A] copy
//	getName()                Entry.Name
//	getOption(key)           Entry.Attrs.Key (a typed field, not a string key)
//	getOptions()             Entry.Attrs
//	setName(name)            SetName(id, name)
//	setOption(key, value)    Update(id, func(a *A) { a.Key = value })
//	getAllByName(name)       ByName(name)
//
// What differs: IDs are never reused, where file descriptors are; a field
// type the table cannot hold, a bad tag and a full table are errors the
// caller gets, not ignored fields or log lines; SetName and Update on a
// missing ID return ErrNotFound instead of creating a row; ByName uses an
// index instead of scanning every row; and Listener fills the table from a
// server by itself.
package connmgr

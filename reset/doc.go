// Package reset gives pooled connections back the session of a fresh one,
// exactly when a borrower may have changed it, for MySQL/MariaDB
// (go-sql-driver/mysql) and Redis (go-redis).
//
// A connection remembers what its last borrower did: an open transaction,
// SET time_zone, SET NAMES, a user variable, a temporary table, a named
// lock, LOCK TABLES, USE; in Redis a SELECT, a WATCH, a half-open MULTI,
// client tracking. The next borrower inherits it and corrupts data quietly.
// database/sql with go-sql-driver/mysql does not reset sessions (its
// ResetSession only checks liveness), and go-redis never sends RESET.
// Resetting on every return costs a round trip per borrow; like HikariCP,
// reset resets only what was dirtied: every statement is classified as it is
// sent, with no I/O, and a clean return costs nothing at all.
//
// # MySQL and MariaDB
//
// MySQLConnector wraps go-sql-driver/mysql for sql.OpenDB; NewSQL adapts
// the resulting *sql.DB to pool.Config[*sql.Conn].
//
// A statement leaves the session clean when it starts with SELECT, INSERT,
// UPDATE, DELETE, REPLACE, WITH, VALUES, TABLE, SHOW, DESCRIBE, EXPLAIN,
// ANALYZE, CHECKSUM or DDL (CREATE, ALTER, DROP, TRUNCATE, RENAME), and holds
// no user variable (@name), no TEMPORARY, GET_LOCK, RELEASE_LOCK,
// RELEASE_ALL_LOCKS, LAST_INSERT_ID(expr) or sequence function, and no
// second statement (a name in backquotes counts as the bare word). Comments
// and quoted text are skipped as MySQL skips them; executable comments
// (/*! ... */) are read as code, the statement after their version number
// included. Since the server's sql_mode may differ from the DSN's, a
// double-quoted text is also read as a name (under ANSI_QUOTES it is one),
// and a statement holding a backslash is read with and without backslash
// escapes: it is clean only if every reading finds it clean. A DROP
// DATABASE is treated as a USE (it may drop the current one). Everything else
// (SET, BEGIN, LOCK, CALL, DO, PREPARE, HANDLER, an unknown word) makes the
// session dirty. Transactions begun and ended through database/sql (BeginTx,
// Commit, Rollback) leave it clean. Per-statement results (LAST_INSERT_ID,
// ROW_COUNT, FOUND_ROWS, warnings) are not treated as session state.
//
// A dirty session is reset in one round trip: COM_RESET_CONNECTION (which
// rolls back, drops temporary tables, releases locks, clears user variables
// and prepared statements, and restores session variables), then one SET
// that puts back the charset, collation and cfg.Params, pipelined; after a
// USE, COM_INIT_DB with the config's database goes between them
// (COM_RESET_CONNECTION keeps the current database). The connection is
// the same afterwards (same CONNECTION_ID). Statements prepared on it before
// are prepared again on their next use, once.
//
// A transaction begun with BeginTx makes the session dirty until its Commit
// or Rollback succeeds, so one left open on a pooled *sql.Conn is rolled
// back. Its *sql.Tx then sends nothing to the connection, which may be
// another borrower's by then: its Rollback (database/sql's too, when its
// context ends) does nothing, and its Commit returns an error saying that
// the reset rolled it back. With autocommit=0 in cfg.Params every statement opens a
// transaction, so every statement makes the session dirty. With
// interpolateParams, a reset is followed by a COM_PING (one more round
// trip) so that the driver escapes values by the restored sql_mode.
//
// Four cases fall back to closing the dirty connection and dialing a new
// one: TLS and compression (the reset is written on the socket under the
// driver, which cannot be done under its TLS or compressed framing), a
// network registered with mysql.RegisterDialContext (its socket is the
// driver's alone), and a USE when the config names no database (nothing
// can unselect a database).
//
// What the classifier cannot see, because it does no I/O: a stored function
// or trigger that sets a variable (SELECT f() counts as harmless). A config changed by a
// mysql.BeforeConnect function is not known to the reset, which restores
// the config as given; when the charset parameter lists several charsets,
// the reset restores the first.
//
// # Redis
//
// NewRedis pools a *redis.Client's dedicated connections (see
// Redis.PoolConfig). A go-redis hook on each connection records, without
// I/O, whether a command changed its session: SELECT, HELLO, AUTH, RESET,
// READONLY/READWRITE/ASKING, an open MULTI or WATCH, and CLIENT subcommands
// other than ID, INFO, LIST, GETNAME, GETREDIR, TRACKINGINFO, HELP, PAUSE,
// UNPAUSE, UNBLOCK and REPLY ON. Other commands, SWAPDB and scripts
// included, are data. Reset pipelines RESET with the client's own init
// (HELLO with protocol, credentials and name, SELECT, READONLY) in one
// round trip. Subscriptions, MONITOR, CLIENT REPLY OFF/SKIP and commands
// that failed with a network error cannot be undone: Reset returns
// ErrDiscard and the pool replaces the connection, as it does for every
// dirty one on Redis < 6.2.
//
// # Costs
//
// Measured against real servers on loopback (bench/RESULTS.md): a clean
// return sends nothing; a dirty one costs one round trip more; discarding
// and dialing again costs several (TCP, authentication, init).
package reset

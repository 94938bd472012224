package reset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/connkit/connkit/pool"
	"github.com/go-sql-driver/mysql"
)

// SQL adapts a *sql.DB opened on MySQLConnector to pool.Config[*sql.Conn]:
// each pooled value is a dedicated *sql.Conn, and the pool resets it on
// return exactly when MySQLConnector would.
//
//	db := sql.OpenDB(connector)
//	p, err := pool.New(reset.NewSQL(db).PoolConfig())
//
// A *sql.Conn that the pool closes goes back to db, whose own limits
// (SetMaxIdleConns, SetConnMaxLifetime) then apply.
type SQL struct {
	db *sql.DB
}

// NewSQL returns the adapter for db, which must be opened on
// MySQLConnector: Dirty and Reset on another driver's connections report
// an error.
func NewSQL(db *sql.DB) *SQL { return &SQL{db: db} }

// ErrNotTracked is returned for a connection that MySQLConnector did not
// make: connkit cannot tell whether its session is clean.
var ErrNotTracked = errors.New("reset: connection not opened through reset.MySQLConnector")

// Dial takes a dedicated connection from db.
func (s *SQL) Dial(ctx context.Context) (*sql.Conn, error) { return s.db.Conn(ctx) }

// Close gives the connection back to db.
func (s *SQL) Close(c *sql.Conn) error { return c.Close() }

// Dirty reports whether a statement may have changed c's session since it
// was dialed or last reset. It does no I/O. A connection it cannot inspect
// reports true, so that Reset says why.
func (s *SQL) Dirty(c *sql.Conn) bool {
	dirty := true
	_ = c.Raw(func(dc any) error {
		if cn, ok := dc.(*mysqlConn); ok {
			dirty = cn.dirty()
		}
		return nil
	})
	return dirty
}

// Reset restores a fresh session on c in one round trip, or returns an
// error wrapping ErrDiscard when only a new connection can (the pool then
// destroys c, and db closes it when it comes back: see MySQLConnector).
// A connection returned with its Rows still open cannot be reset: close
// Rows before Release.
func (s *SQL) Reset(ctx context.Context, c *sql.Conn) error {
	return c.Raw(func(dc any) error {
		cn, ok := dc.(*mysqlConn)
		if !ok {
			return fmt.Errorf("%w (got %T)", ErrNotTracked, dc)
		}
		if !cn.dirty() {
			return nil
		}
		// What database/sql calls before reuse: the driver's own check first,
		// which refuses a connection with a result set still being read
		// (Rows not closed) on which a reset would be read as rows.
		if err := cn.ResetSession(ctx); err != nil {
			cn.state.Or(stateDiscard)
			// Not driver.ErrBadConn: through Conn.Raw, database/sql would
			// close the connection at once and wait for open Rows forever.
			// The pool closes it; database/sql drops it (IsValid).
			return fmt.Errorf("%w: session not restored (%v)", ErrDiscard, err)
		}
		return nil
	})
}

// Ping checks that c still reaches the server, for pool.Config.Ping.
func (s *SQL) Ping(ctx context.Context, c *sql.Conn) error { return c.PingContext(ctx) }

// IsBroken reports whether err says that the connection is broken, for
// pool.Config.IsBroken: what pool.IsBroken knows, plus go-sql-driver/mysql's
// "invalid connection" (a connection that failed mid-command) and
// sql.ErrConnDone.
func (s *SQL) IsBroken(err error) bool {
	return pool.IsBroken(err) || errors.Is(err, mysql.ErrInvalidConn) || errors.Is(err, sql.ErrConnDone)
}

// PoolConfig returns a pool.Config of dedicated connections of the db,
// with Dial, Close, Ping, Dirty, Reset and IsBroken set, named "mysql";
// set MaxSize and the rest as for any pool. Leave the db's own limits room
// for it: SetMaxOpenConns, if set, must be at least the pool's MaxSize.
func (s *SQL) PoolConfig() pool.Config[*sql.Conn] {
	return pool.Config[*sql.Conn]{
		Name: "mysql", Dial: s.Dial, Close: s.Close, Ping: s.Ping,
		Dirty: s.Dirty, Reset: s.Reset, IsBroken: s.IsBroken,
	}
}

package reset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// SQL adapts a *sql.DB opened on MySQLConnector to pool.Config[*sql.Conn]:
// each pooled value is a dedicated *sql.Conn, and the pool resets it on
// return exactly when MySQLConnector would.
//
//	db := sql.OpenDB(connector)
//	s := reset.NewSQL(db)
//	p, err := pool.New(pool.Config[*sql.Conn]{
//		Dial: s.Dial, Close: s.Close, Dirty: s.Dirty, Reset: s.Reset,
//		Ping: health.PingSQL,
//	})
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
// error when only a new connection can (the pool then destroys c, and db
// closes it when it comes back: see MySQLConnector).
func (s *SQL) Reset(ctx context.Context, c *sql.Conn) error {
	return c.Raw(func(dc any) error {
		cn, ok := dc.(*mysqlConn)
		if !ok {
			return fmt.Errorf("%w (got %T)", ErrNotTracked, dc)
		}
		if err := cn.reset(ctx); err != nil {
			return fmt.Errorf("reset: session not restored, the connection must be dialed again: %w", err)
		}
		return nil
	})
}

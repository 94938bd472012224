package reset

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"net"
	"sync/atomic"

	"github.com/connkit/connkit/lifecycle"
	"github.com/go-sql-driver/mysql"
)

// MySQLConnector returns a driver.Connector for sql.OpenDB whose connections
// reset their session before database/sql reuses them, when and only when a
// statement may have changed it.
//
// Each statement is classified as it is sent, with no I/O (see the package
// doc for the rules): a connection is dirty after anything not known to be
// harmless. database/sql calls ResetSession before it hands a used
// connection to the next caller; a clean connection costs nothing there, a
// dirty one is reset in one round trip: COM_RESET_CONNECTION, the database
// of cfg, and SET NAMES with the charset, collation and every system
// variable of cfg.Params, pipelined. Statements prepared before a reset are
// prepared again on their next use (one more round trip, once), so
// db.Prepare keeps working. When the protocol cannot be driven that way
// (TLS or compression) or a USE left a database that cfg does not name, a
// dirty connection is closed instead and database/sql dials a new one.
//
// cfg is copied; its DialFunc, if any, is still used. Connections dialed by
// MySQLConnector set lifecycle.DefaultKeepAlive when cfg has no DialFunc.
func MySQLConnector(cfg *mysql.Config) (driver.Connector, error) {
	if cfg == nil {
		return nil, errors.New("reset: MySQLConnector: nil *mysql.Config")
	}
	plan := newResetPlan(cfg)
	cfg = cfg.Clone()
	dial := cfg.DialFunc
	if dial == nil {
		switch cfg.Net {
		case "", "tcp", "tcp4", "tcp6", "unix":
			dial = lifecycle.NewDialer().DialContext
		default:
			// A network registered with mysql.RegisterDialContext (a
			// tunnel, a cloud proxy): only the driver knows its dial
			// function, so connkit does not see the socket.
			plan.wire = false
			return newConnector(cfg, plan)
		}
	}
	cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
		nc, err := dial(ctx, network, addr)
		if slot, ok := ctx.Value(rawSlot{}).(*net.Conn); ok && err == nil {
			*slot = nc
		}
		return nc, err
	}
	return newConnector(cfg, plan)
}

func newConnector(cfg *mysql.Config, plan *resetPlan) (driver.Connector, error) {
	inner, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("reset: MySQLConnector: %w", err)
	}
	return &mysqlConnector{inner: inner, plan: plan}, nil
}

// rawSlot is the context key under which Connect learns its socket.
type rawSlot struct{}

type mysqlConnector struct {
	inner driver.Connector
	plan  *resetPlan
}

// Connect dials one connection through go-sql-driver/mysql.
func (c *mysqlConnector) Connect(ctx context.Context) (driver.Conn, error) {
	var raw net.Conn
	dc, err := c.inner.Connect(context.WithValue(ctx, rawSlot{}, &raw))
	if err != nil {
		return nil, err
	}
	return &mysqlConn{inner: dc, raw: raw, plan: c.plan}, nil
}

// Driver returns the go-sql-driver/mysql driver.
func (c *mysqlConnector) Driver() driver.Driver { return c.inner.Driver() }

// Bits of mysqlConn.state; 0 is a clean session.
const (
	stateDirty   uint32 = 1 << iota // a statement may have changed the session
	stateTx                         // a transaction begun with BeginTx is not ended
	stateDiscard                    // close before reuse: no reset restores it
	stateUse                        // a USE ran: the reset selects the config's database again
)

// mysqlConn is a go-sql-driver/mysql connection that tracks whether its
// session may have changed. database/sql uses a driver.Conn from one
// goroutine at a time; state is atomic so that SQL.Dirty may read it too.
type mysqlConn struct {
	inner driver.Conn
	raw   net.Conn // the socket under inner, for COM_RESET_CONNECTION
	plan  *resetPlan
	state atomic.Uint32
	gen   uint64 // counts resets: statements prepared before one are prepared again
}

// note records what a statement about to run may do to the session.
func (cn *mysqlConn) note(e effect) {
	switch {
	case e == effectNone && !cn.plan.alwaysDirty:
	case e == effectUse && cn.plan.db == "":
		cn.state.Or(stateDiscard)
	case e == effectUse:
		cn.state.Or(stateDirty | stateUse)
	default:
		cn.state.Or(stateDirty)
	}
}

// dirty reports whether the session needs a reset.
func (cn *mysqlConn) dirty() bool { return cn.state.Load() != 0 }

// reset restores a fresh session, or returns driver.ErrBadConn when only a
// new connection can.
func (cn *mysqlConn) reset(ctx context.Context) error {
	switch st := cn.state.Load(); {
	case st == 0:
		return nil
	case st&stateDiscard != 0:
		return driver.ErrBadConn
	}
	if !cn.plan.wire || cn.raw == nil {
		return driver.ErrBadConn
	}
	if err := cn.plan.run(ctx, cn.raw, cn.state.Load()&stateUse != 0); err != nil {
		cn.state.Or(stateDiscard)
		return fmt.Errorf("%w: %w", driver.ErrBadConn, err)
	}
	cn.gen++
	if cn.plan.interpolate {
		// The driver escapes interpolated values by the server status it
		// read last (NO_BACKSLASH_ESCAPES): the reset's replies went past
		// it, so let it read one of its own.
		if err := cn.inner.(driver.Pinger).Ping(ctx); err != nil {
			cn.state.Or(stateDiscard)
			return fmt.Errorf("%w: %w", driver.ErrBadConn, err)
		}
	}
	cn.state.Store(0)
	return nil
}

func (cn *mysqlConn) Prepare(query string) (driver.Stmt, error) {
	return cn.PrepareContext(context.Background(), query)
}

func (cn *mysqlConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := cn.inner.(driver.ConnPrepareContext).PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	return &mysqlStmt{cn: cn, inner: st, query: query, effect: classify(query), gen: cn.gen}, nil
}

func (cn *mysqlConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	cn.note(classify(query))
	return cn.inner.(driver.ExecerContext).ExecContext(ctx, query, args)
}

func (cn *mysqlConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	cn.note(classify(query))
	return cn.inner.(driver.QueryerContext).QueryContext(ctx, query, args)
}

// BeginTx starts a transaction: the session is dirty until a Commit or
// Rollback succeeds, so that a transaction left open on a pooled *sql.Conn
// is rolled back by the reset.
func (cn *mysqlConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	cn.state.Or(stateTx)
	tx, err := cn.inner.(driver.ConnBeginTx).BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &mysqlTx{cn: cn, inner: tx, gen: cn.gen}, nil
}

// errTxReset is Commit's error for a transaction that a reset rolled back:
// it was left open when its connection went back to the pool.
var errTxReset = errors.New("reset: transaction not committed: it was left open when its connection was given back, and the reset rolled it back")

// mysqlTx ends the transaction state of its connection when it ends well.
// A transaction left open when its connection was given back was rolled
// back by the reset, and the connection may be another borrower's now: its
// Commit and Rollback then send nothing (database/sql rolls back such a
// transaction when its context ends, which would end the new borrower's
// transaction) and leave the state alone. database/sql calls them with the
// connection locked, as it calls the reset, so gen needs no lock.
type mysqlTx struct {
	cn    *mysqlConn
	inner driver.Tx
	gen   uint64 // cn.gen when it began
}

func (tx *mysqlTx) Commit() error {
	if tx.gen != tx.cn.gen {
		return errTxReset
	}
	return tx.end(tx.inner.Commit())
}

func (tx *mysqlTx) Rollback() error {
	if tx.gen != tx.cn.gen {
		return nil // the reset rolled it back
	}
	return tx.end(tx.inner.Rollback())
}

func (tx *mysqlTx) end(err error) error {
	if err == nil {
		tx.cn.state.And(^stateTx)
	}
	return err
}

func (cn *mysqlConn) Begin() (driver.Tx, error) {
	return cn.BeginTx(context.Background(), driver.TxOptions{})
}

func (cn *mysqlConn) Ping(ctx context.Context) error { return cn.inner.(driver.Pinger).Ping(ctx) }

func (cn *mysqlConn) CheckNamedValue(nv *driver.NamedValue) error {
	return cn.inner.(driver.NamedValueChecker).CheckNamedValue(nv)
}

// ResetSession is called by database/sql before it reuses the connection:
// the driver's liveness check, then a reset when the session is dirty.
func (cn *mysqlConn) ResetSession(ctx context.Context) error {
	if err := cn.inner.(driver.SessionResetter).ResetSession(ctx); err != nil {
		return err
	}
	return cn.reset(ctx)
}

// IsValid is called by database/sql when the connection is returned: one
// that no reset can restore is closed at once instead of kept idle.
func (cn *mysqlConn) IsValid() bool {
	st := cn.state.Load()
	return cn.inner.(driver.Validator).IsValid() && st&stateDiscard == 0 && (st == 0 || cn.plan.wire)
}

func (cn *mysqlConn) Close() error { return cn.inner.Close() }

// mysqlStmt is a prepared statement that is prepared again after a reset
// made the server forget it.
type mysqlStmt struct {
	cn     *mysqlConn
	inner  driver.Stmt
	query  string
	effect effect
	gen    uint64
}

// current prepares the statement again if a reset ran since it was.
func (s *mysqlStmt) current(ctx context.Context) error {
	if s.gen == s.cn.gen {
		return nil
	}
	s.inner.Close() // the server forgot it: COM_STMT_CLOSE is ignored
	st, err := s.cn.inner.(driver.ConnPrepareContext).PrepareContext(ctx, s.query)
	if err != nil {
		return fmt.Errorf("reset: preparing a statement again after a session reset: %w", err)
	}
	s.inner, s.gen = st, s.cn.gen
	return nil
}

func (s *mysqlStmt) Close() error  { return s.inner.Close() }
func (s *mysqlStmt) NumInput() int { return s.inner.NumInput() }

func (s *mysqlStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	if err := s.current(ctx); err != nil {
		return nil, err
	}
	s.cn.note(s.effect)
	return s.inner.(driver.StmtExecContext).ExecContext(ctx, args)
}

func (s *mysqlStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.current(ctx); err != nil {
		return nil, err
	}
	s.cn.note(s.effect)
	return s.inner.(driver.StmtQueryContext).QueryContext(ctx, args)
}

func (s *mysqlStmt) CheckNamedValue(nv *driver.NamedValue) error {
	return s.inner.(driver.NamedValueChecker).CheckNamedValue(nv)
}

// Exec and Query are required by driver.Stmt; database/sql uses the
// context versions.
func (s *mysqlStmt) Exec(args []driver.Value) (driver.Result, error) {
	return nil, errors.New("reset: Stmt.Exec without a context is not supported")
}

func (s *mysqlStmt) Query(args []driver.Value) (driver.Rows, error) {
	return nil, errors.New("reset: Stmt.Query without a context is not supported")
}

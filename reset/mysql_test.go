package reset

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/connkit/connkit/internal/faultproxy"
	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/pool"
	"github.com/go-sql-driver/mysql"
)

// mariadbEnv is a private MariaDB with a second database the test user may
// USE, and a table to lock.
type mariadbEnv struct {
	srv *testenv.MariaDB
}

func startMariaDB(t *testing.T) *mariadbEnv {
	t.Helper()
	srv := testenv.StartMariaDB(t, nil)
	root, err := sql.Open("mysql", srv.RootDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS other",
		"GRANT ALL ON other.* TO '" + srv.User() + "'@'%'",
		"CREATE TABLE IF NOT EXISTS connkit.t (x INT)",
		"CREATE TABLE IF NOT EXISTS connkit.u (x INT)",
	} {
		if _, err := root.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return &mariadbEnv{srv: srv}
}

// open returns a db on MySQLConnector for dsn, with one connection at most,
// closed at the end of the test.
func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := MySQLConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(conn)
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	return db
}

// testDSN has params the reset must put back: a time zone, an sql_mode and
// a charset with a collation.
func (e *mariadbEnv) testDSN() string {
	return e.srv.DSN("time_zone=%27%2B02%3A00%27", "sql_mode=%27STRICT_ALL_TABLES%27", "charset=utf8mb4", "collation=utf8mb4_unicode_ci")
}

// ephemeral are the session variables that differ between any two
// sessions, fresh or not, and say nothing about leaked state.
var ephemeral = map[string]bool{
	"pseudo_thread_id": true, "timestamp": true, "rand_seed1": true, "rand_seed2": true,
	"last_insert_id": true, "insert_id": true, "identity": true, "last_gtid": true,
	"warning_count": true, "error_count": true, "gtid_seq_no": true, "thread_id": true,
}

// session is what a test can see of a MySQL session.
type session struct {
	id      int64
	db      sql.NullString
	vars    map[string]string
	userVar sql.NullInt64
	inTx    int
	lock    sql.NullInt64
	rows    int
	tmp     bool // a temporary table "tmp" exists
	locked  bool // LOCK TABLES is in force (an unlocked table cannot be read)
}

func snapshot(t *testing.T, ctx context.Context, c *sql.Conn) session {
	t.Helper()
	var s session
	s.vars = map[string]string{}
	rows, err := c.QueryContext(ctx, "SHOW SESSION VARIABLES")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			t.Fatal(err)
		}
		if !ephemeral[k] {
			s.vars[k] = v
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.QueryRowContext(ctx, "SELECT CONNECTION_ID(), DATABASE(), @a, @@in_transaction, IS_USED_LOCK('connkit')").
		Scan(&s.id, &s.db, &s.userVar, &s.inTx, &s.lock); err != nil {
		t.Fatal(err)
	}
	_, err = c.ExecContext(ctx, "SELECT 1 FROM tmp LIMIT 0")
	s.tmp = err == nil
	_, err = c.ExecContext(ctx, "SELECT 1 FROM connkit.u LIMIT 0")
	s.locked = err != nil && strings.Contains(err.Error(), "not locked")
	if !s.locked {
		if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM connkit.t").Scan(&s.rows); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// diff says how got differs from want, or "".
func (want session) diff(got session) string {
	var d []string
	for k, v := range want.vars {
		if got.vars[k] != v {
			d = append(d, fmt.Sprintf("@@%s = %q, want %q", k, got.vars[k], v))
		}
	}
	if got.db != want.db {
		d = append(d, fmt.Sprintf("DATABASE() = %v, want %v", got.db, want.db))
	}
	if got.userVar != want.userVar || got.inTx != want.inTx || got.lock != want.lock || got.tmp != want.tmp || got.locked != want.locked || got.rows != want.rows {
		d = append(d, fmt.Sprintf("@a=%v in_transaction=%d lock=%v tmp=%v locked=%v rows=%d, want %v %d %v %v %v %d",
			got.userVar, got.inTx, got.lock, got.tmp, got.locked, got.rows,
			want.userVar, want.inTx, want.lock, want.tmp, want.locked, want.rows))
	}
	return strings.Join(d, "; ")
}

// pollutions are the session changes a borrower can leave behind.
var pollutions = []struct {
	name  string
	stmts []string
}{
	{"open transaction", []string{"BEGIN", "INSERT INTO connkit.t VALUES (1)"}},
	{"autocommit off", []string{"SET autocommit = 0", "INSERT INTO connkit.t VALUES (1)"}},
	{"time_zone", []string{"SET time_zone = '+05:00'"}},
	{"SET NAMES", []string{"SET NAMES latin1"}},
	{"sql_mode", []string{"SET SESSION sql_mode = ''"}},
	{"user variable", []string{"SET @a = 42"}},
	{"user variable in SELECT", []string{"SELECT @a := 7"}},
	{"temporary table", []string{"CREATE TEMPORARY TABLE tmp (x INT)"}},
	{"GET_LOCK", []string{"SELECT GET_LOCK('connkit', 0)"}},
	{"LOCK TABLES", []string{"LOCK TABLES connkit.t READ"}},
	{"USE other", []string{"USE other"}},
	// Behind text that a simpler reading takes for a string or a comment.
	{"GET_LOCK, quoted name", []string{"SELECT `GET_LOCK`('connkit', 0)"}},
	{"GET_LOCK after -- then CR", []string{"SELECT 1 --\r '\n, GET_LOCK('connkit', 0) -- '"}},
	{"GET_LOCK after -- then FF", []string{"SELECT 1 --\f '\n, GET_LOCK('connkit', 0) -- '"}},
	{"USE in an executable comment", []string{"/*!32312 USE other*/"}},
	{"USE in a MariaDB executable comment", []string{"/*M!100100 USE other*/"}},
	{"several at once", []string{"SET @a = 1", "USE other", "SET NAMES latin1", "CREATE TEMPORARY TABLE tmp (x INT)", "BEGIN"}},
}

// borrower gives a connection and takes it back, as database/sql or a
// pool.Pool does.
type borrower func(t *testing.T) (c *sql.Conn, giveBack func())

func dbBorrower(db *sql.DB) borrower {
	return func(t *testing.T) (*sql.Conn, func()) {
		c, err := db.Conn(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return c, func() { c.Close() }
	}
}

func poolBorrower(t *testing.T, db *sql.DB) borrower {
	s := NewSQL(db)
	p, err := pool.New(pool.Config[*sql.Conn]{Name: "mariadb", Dial: s.Dial, Close: s.Close, Dirty: s.Dirty, Reset: s.Reset, MaxSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return func(t *testing.T) (*sql.Conn, func()) {
		c, err := p.Acquire(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		return c.Value(), c.Release
	}
}

// TestMySQLPollutionsAreReset pollutes a session, gives the connection
// back, borrows the same connection again and finds a fresh session, on
// the database/sql path and on the pool path.
func TestMySQLPollutionsAreReset(t *testing.T) {
	e := startMariaDB(t)
	for _, path := range []string{"database-sql", "pool"} {
		t.Run(path, func(t *testing.T) {
			db := openDB(t, e.testDSN())
			borrow := dbBorrower(db)
			if path == "pool" {
				borrow = poolBorrower(t, db)
			}
			c, giveBack := borrow(t)
			fresh := snapshot(t, t.Context(), c)
			giveBack()
			if fresh.vars["time_zone"] != "+02:00" || fresh.vars["collation_connection"] != "utf8mb4_unicode_ci" {
				t.Fatalf("the DSN's params are not in force on a fresh connection: %s, %s", fresh.vars["time_zone"], fresh.vars["collation_connection"])
			}
			for _, p := range pollutions {
				c, giveBack := borrow(t)
				for _, q := range p.stmts {
					if _, err := c.ExecContext(t.Context(), q); err != nil {
						t.Fatalf("%s: %s: %v", p.name, q, err)
					}
				}
				giveBack()
				c, giveBack = borrow(t)
				got := snapshot(t, t.Context(), c)
				giveBack()
				if d := fresh.diff(got); d != "" {
					t.Errorf("%s: after the reset: %s", p.name, d)
				}
				if got.id != fresh.id {
					t.Errorf("%s: connection %d after the reset, want the same connection %d", p.name, got.id, fresh.id)
				}
			}
		})
	}
}

// status returns a global status counter (session counters restart at
// every COM_RESET_CONNECTION); the test's server has no other client.
func status(t *testing.T, c *sql.Conn, name string) int {
	t.Helper()
	var k string
	var v int
	if err := c.QueryRowContext(t.Context(), "SHOW GLOBAL STATUS LIKE '"+name+"'").Scan(&k, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestMySQLCleanReturnCostsNothing counts what the server receives: a clean
// return sends nothing, not a byte (Bytes_received grows by the borrowers'
// own statements only, so a ping or any other command would show); a dirty
// one one reset (COM_RESET_CONNECTION, which MariaDB does not count as a
// question, and one SET).
func TestMySQLCleanReturnCostsNothing(t *testing.T) {
	e := startMariaDB(t)
	db := openDB(t, e.testDSN())
	for _, path := range []string{"database-sql", "pool"} {
		t.Run(path, func(t *testing.T) {
			borrow := dbBorrower(db)
			if path == "pool" {
				borrow = poolBorrower(t, db)
			}
			counters := func() (questions, sets, dials, bytes int) {
				c, giveBack := borrow(t)
				defer giveBack()
				return status(t, c, "Questions"), status(t, c, "Com_set_option"), status(t, c, "Connections"), status(t, c, "Bytes_received")
			}
			_, _, _, b := counters()
			q0, s0, r0, b0 := counters()
			countersBytes := b0 - b // what one counters() call sends
			const n = 100
			for range n {
				c, giveBack := borrow(t)
				if _, err := c.ExecContext(t.Context(), "SELECT 1"); err != nil {
					t.Fatal(err)
				}
				giveBack()
			}
			q1, s1, r1, b1 := counters()
			// Each counters() call sends 4 questions; each borrow one
			// COM_QUERY packet: a 4-byte header, the command byte, the text.
			const perBorrow = 4 + 1 + len("SELECT 1")
			if q1-q0 != n+4 || s1 != s0 || r1 != r0 {
				t.Errorf("%d clean returns: %d questions, %d SETs, %d dials; want %d, 0 and 0", n, q1-q0-4, s1-s0, r1-r0, n)
			}
			if got := b1 - b0 - countersBytes; got != n*perBorrow {
				t.Errorf("%d clean returns: the server received %d bytes besides the counters' queries, want %d (%d per borrow: its SELECT 1 alone)", n, got, n*perBorrow, perBorrow)
			}
			const dirty = 10
			for range dirty {
				c, giveBack := borrow(t)
				if _, err := c.ExecContext(t.Context(), "DO @a := 1"); err != nil {
					t.Fatal(err)
				}
				giveBack()
			}
			q2, s2, r2, _ := counters()
			// Each dirty round: DO, then the reset (COM_RESET_CONNECTION,
			// COM_INIT_DB and a SET); counters() sends 4.
			if s2-s1 != dirty || r2 != r1 {
				t.Errorf("%d dirty returns: %d SETs and %d dials; want %d resets in place (one SET each) and no dial", dirty, s2-s1, r2-r1, dirty)
			}
			t.Logf("%d dirty returns: %d questions", dirty, q2-q1-4)
		})
	}
}

// TestMySQLHiddenLocksAreReset runs statements that take a named lock
// behind backslashes that a reading of the default sql_mode takes for
// escapes: under ANSI_QUOTES, or a server-wide NO_BACKSLASH_ESCAPES that the
// DSN does not show. The next borrower of the same connection must not hold
// the lock. (The pollutions table has those the default sql_mode hides.)
func TestMySQLHiddenLocksAreReset(t *testing.T) {
	e := startMariaDB(t)
	root, err := sql.Open("mysql", e.srv.RootDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, tt := range []struct{ name, param, globalMode, query string }{
		{"ANSI_QUOTES", "sql_mode=%27ANSI_QUOTES%27", "", `SELECT 1 AS "a\", GET_LOCK('connkit', 0) AS "b"`},
		{"ANSI_QUOTES function name", "sql_mode=%27ANSI_QUOTES%27", "", `SELECT "GET_LOCK"('connkit', 0)`},
		{"server-wide NO_BACKSLASH_ESCAPES", "", "NO_BACKSLASH_ESCAPES", `SELECT 'a\', GET_LOCK('connkit', 0) -- '`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if tt.globalMode != "" {
				if _, err := root.ExecContext(t.Context(), "SET GLOBAL sql_mode = '"+tt.globalMode+"'"); err != nil {
					t.Fatal(err)
				}
				defer root.Exec("SET GLOBAL sql_mode = DEFAULT")
			}
			var params []string
			if tt.param != "" {
				params = append(params, tt.param)
			}
			db := openDB(t, e.srv.DSN(params...)) // one connection
			var before, after int64
			var holder sql.NullInt64
			if err := db.QueryRowContext(t.Context(), "SELECT CONNECTION_ID()").Scan(&before); err != nil {
				t.Fatal(err)
			}
			if _, err := db.ExecContext(t.Context(), tt.query); err != nil {
				t.Fatal(err)
			}
			if err := db.QueryRowContext(t.Context(), "SELECT CONNECTION_ID(), IS_USED_LOCK('connkit')").Scan(&after, &holder); err != nil {
				t.Fatal(err)
			}
			if after != before {
				t.Fatalf("the connection was replaced (%d, then %d): want it reset in place", before, after)
			}
			if holder.Valid {
				t.Errorf("the next borrower's session (%d) still holds the lock taken by %q", after, tt.query)
			}
		})
	}
}

// TestMySQLDirtyResetIsOneRoundTrip puts 10ms of latency each way between
// the driver and MariaDB, so that a round trip (20ms) dwarfs what the server
// spends on any statement: a borrow after a dirty return must cost one round
// trip more than one after a clean return (the reset's COM_RESET_CONNECTION,
// COM_INIT_DB and SET go out together), never two.
func TestMySQLDirtyResetIsOneRoundTrip(t *testing.T) {
	e := startMariaDB(t)
	proxy := faultproxy.Start(t, e.srv.Addr())
	cfg, err := mysql.ParseDSN(e.testDSN())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Addr = proxy.Addr()
	db := openDB(t, cfg.FormatDSN())
	ctx := t.Context()
	exec := func(q string) time.Duration {
		start := time.Now()
		if _, err := db.ExecContext(ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
		return time.Since(start)
	}
	exec("SELECT 1") // the dial, before the latency
	const oneWay = 10 * time.Millisecond
	proxy.SetLatency(oneWay)
	var clean, dirty []time.Duration
	for range 5 {
		clean = append(clean, exec("SELECT 1")) // the last return was clean
		exec("SET @a = 1")                      // a user variable: dirty
		dirty = append(dirty, exec("SELECT 1")) // the reset, then the SELECT
	}
	median := func(ds []time.Duration) time.Duration {
		slices.Sort(ds)
		return ds[len(ds)/2]
	}
	rtt := 2 * oneWay
	extra := median(dirty) - median(clean)
	t.Logf("borrow after a clean return %v, after a dirty one %v: the reset costs %v, %.2f round trips",
		median(clean), median(dirty), extra, float64(extra)/float64(rtt))
	if extra < rtt/2 || extra > rtt*3/2 {
		t.Errorf("a reset cost %v over a clean borrow (%v): want one round trip, %v", extra, median(clean), rtt)
	}
}

// TestMySQLPreparedStatementsSurviveResets uses a statement prepared with
// db.Prepare across dirty returns: the reset makes the server forget it,
// and the next use prepares it again.
func TestMySQLPreparedStatementsSurviveResets(t *testing.T) {
	e := startMariaDB(t)
	db := openDB(t, e.testDSN())
	stmt, err := db.Prepare("SELECT ? + 1")
	if err != nil {
		t.Fatal(err)
	}
	defer stmt.Close()
	var id0 int64
	if err := db.QueryRow("SELECT CONNECTION_ID()").Scan(&id0); err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		if _, err := db.Exec("SET @a = ?", i); err != nil {
			t.Fatal(err)
		}
		var got int
		if err := stmt.QueryRow(i).Scan(&got); err != nil || got != i+1 {
			t.Fatalf("round %d: prepared statement after a reset = %d, %v", i, got, err)
		}
	}
	var id int64
	if err := db.QueryRow("SELECT CONNECTION_ID()").Scan(&id); err != nil || id != id0 {
		t.Errorf("connection %d, want %d: resets ran in place", id, id0)
	}
}

// TestMySQLUseWithoutDatabaseRedials runs USE on a connection whose config
// names no database: no reset can take it back to no database, so the
// connection is closed and the next borrower gets a new one.
func TestMySQLUseWithoutDatabaseRedials(t *testing.T) {
	e := startMariaDB(t)
	cfg, _ := mysql.ParseDSN(e.srv.DSN())
	cfg.DBName = ""
	db := openDB(t, cfg.FormatDSN())
	var id0, id1 int64
	var dbname sql.NullString
	if err := db.QueryRow("SELECT CONNECTION_ID()").Scan(&id0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("USE connkit"); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRow("SELECT CONNECTION_ID(), DATABASE()").Scan(&id1, &dbname); err != nil {
		t.Fatal(err)
	}
	if id1 == id0 || dbname.Valid {
		t.Errorf("after USE: connection %d (was %d), database %v; want a new connection with none", id1, id0, dbname)
	}
}

// TestMySQLKilledServerRecovers kills MariaDB while the pool's connection
// is idle: the pool pings it before handing it out, drops it, and dials
// again once the server is back.
func TestMySQLKilledServerRecovers(t *testing.T) {
	e := startMariaDB(t)
	db := openDB(t, e.testDSN())
	s := NewSQL(db)
	p, err := pool.New(pool.Config[*sql.Conn]{
		Dial: s.Dial, Close: s.Close, Dirty: s.Dirty, Reset: s.Reset, MaxSize: 1,
		Ping:          func(ctx context.Context, c *sql.Conn) error { return c.PingContext(ctx) },
		PingAfterIdle: time.Nanosecond, AcquireTimeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close(context.Background())
	q := func() error {
		return p.With(t.Context(), func(ctx context.Context, c *sql.Conn) error {
			_, err := c.ExecContext(ctx, "SELECT 1")
			return err
		})
	}
	if err := q(); err != nil {
		t.Fatal(err)
	}
	e.srv.Kill()
	e.srv.Start()
	if err := q(); err != nil {
		t.Fatalf("after a restart, the pool handed out a dead connection: %v", err)
	}
	if st := p.Stats(); st.Destroyed.Total() == 0 {
		t.Errorf("no connection destroyed after the restart: %+v", st)
	}
}

// TestMySQLInterpolateParamsAfterReset checks that a reset does not leave
// the driver escaping interpolated values by a stale sql_mode: after a
// borrower turned NO_BACKSLASH_ESCAPES on, the next one's parameter must
// still be a string, not SQL.
func TestMySQLInterpolateParamsAfterReset(t *testing.T) {
	e := startMariaDB(t)
	db := openDB(t, e.srv.DSN("interpolateParams=true"))
	if _, err := db.Exec("SET SESSION sql_mode = 'NO_BACKSLASH_ESCAPES'"); err != nil {
		t.Fatal(err)
	}
	const payload = `\' OR 1=1 -- `
	var got string
	if err := db.QueryRow("SELECT ?", payload).Scan(&got); err != nil || got != payload {
		t.Fatalf("SELECT ? with %q after a reset = %q, %v: the parameter was not escaped for the session's sql_mode", payload, got, err)
	}
}

// TestMySQLOpenTransactionOnPooledConn leaves a transaction begun with
// BeginTx open on a pooled *sql.Conn: the reset rolls it back.
func TestMySQLOpenTransactionOnPooledConn(t *testing.T) {
	e := startMariaDB(t)
	db := openDB(t, e.testDSN())
	borrow := poolBorrower(t, db)
	c, giveBack := borrow(t)
	tx, err := c.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("INSERT INTO connkit.t VALUES (9)"); err != nil {
		t.Fatal(err)
	}
	giveBack() // the Tx is never ended
	c, giveBack = borrow(t)
	defer giveBack()
	var inTx, rows int
	if err := c.QueryRowContext(t.Context(), "SELECT @@in_transaction, (SELECT COUNT(*) FROM connkit.t)").Scan(&inTx, &rows); err != nil {
		t.Fatal(err)
	}
	if inTx != 0 || rows != 0 {
		t.Errorf("after an abandoned transaction: in_transaction=%d, %d rows; want 0 and 0", inTx, rows)
	}

	// A transaction that ended leaves the connection clean: no reset.
	if err := c.Raw(func(any) error { return nil }); err != nil {
		t.Fatal(err)
	}
	tx2, err := c.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := tx2.Rollback(); err != nil {
		t.Fatal(err)
	}
	if NewSQL(db).Dirty(c) {
		t.Error("a connection whose transaction was rolled back is reported dirty")
	}
}

// TestMySQLAutocommitOffParam uses a config with autocommit=0: every
// statement leaves a transaction open, so every return resets.
func TestMySQLAutocommitOffParam(t *testing.T) {
	e := startMariaDB(t)
	db := openDB(t, e.srv.DSN("autocommit=0"))
	if _, err := db.Exec("INSERT INTO connkit.t VALUES (1)"); err != nil {
		t.Fatal(err)
	}
	var inTx int
	if err := db.QueryRow("SELECT @@in_transaction").Scan(&inTx); err != nil || inTx != 0 {
		t.Errorf("next borrower: in_transaction=%d, %v; want 0 (the reset rolls back)", inTx, err)
	}
}

// TestMySQLRegisteredNetwork uses a network registered with
// mysql.RegisterDialContext: connkit cannot reach its socket, so a dirty
// connection is dialed again, and the session is fresh.
func TestMySQLRegisteredNetwork(t *testing.T) {
	e := startMariaDB(t)
	mysql.RegisterDialContext("connkit-test", func(ctx context.Context, addr string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", addr)
	})
	cfg, _ := mysql.ParseDSN(e.srv.DSN())
	cfg.Net = "connkit-test"
	db := openDB(t, cfg.FormatDSN())
	var id0, id1 int64
	if err := db.QueryRow("SELECT CONNECTION_ID()").Scan(&id0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("SET @a = 1"); err != nil {
		t.Fatal(err)
	}
	var a sql.NullInt64
	if err := db.QueryRow("SELECT CONNECTION_ID(), @a").Scan(&id1, &a); err != nil {
		t.Fatal(err)
	}
	if id1 == id0 || a.Valid {
		t.Errorf("after SET @a: connection %d (was %d), @a = %v; want a new connection and no @a", id1, id0, a)
	}
}

// TestMySQLResetWithRowsOpen returns a pooled connection with its Rows
// still open: the reset refuses it at once (a reset written then would be
// read as rows) and the pool replaces it.
func TestMySQLResetWithRowsOpen(t *testing.T) {
	e := startMariaDB(t)
	cfg, _ := mysql.ParseDSN(e.testDSN())
	connector, err := MySQLConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	db := sql.OpenDB(connector)
	t.Cleanup(func() { db.Close() })
	s := NewSQL(db)
	c, err := s.Dial(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExecContext(t.Context(), "SET @a = 1"); err != nil {
		t.Fatal(err)
	}
	rows, err := c.QueryContext(t.Context(), "SELECT seq FROM seq_1_to_1000")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Reset(t.Context(), c) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrDiscard) {
			t.Errorf("Reset with Rows open = %v, want ErrDiscard", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Reset with Rows open hangs")
	}
	rows.Close()
	if err := s.Close(c); err != nil {
		t.Fatal(err)
	}
}

// TestAbandonedTxDoesNotEndTheNextBorrowersTx: borrower A leaves a
// transaction open on a pooled *sql.Conn; the reset rolls it back and B
// borrows the connection. Then A's Tx ends: A commits it late, or A's
// context ends and database/sql rolls it back. Neither may reach B's
// connection, where a COMMIT or ROLLBACK would end B's transaction and
// B's later statements would run outside it. A's Commit says the reset
// rolled it back.
func TestAbandonedTxDoesNotEndTheNextBorrowersTx(t *testing.T) {
	e := startMariaDB(t)
	db := openDB(t, e.testDSN())
	borrow := poolBorrower(t, db)
	for _, tt := range []struct {
		name string
		endA func(t *testing.T, txA *sql.Tx, cancelA context.CancelFunc)
	}{
		{"A commits late", func(t *testing.T, txA *sql.Tx, _ context.CancelFunc) {
			if err := txA.Commit(); !errors.Is(err, errTxReset) {
				t.Errorf("A's Commit after the reset = %v, want errTxReset", err)
			}
		}},
		{"A's context ends", func(t *testing.T, _ *sql.Tx, cancelA context.CancelFunc) {
			cancelA() // database/sql rolls txA back, on its own goroutine
			time.Sleep(200 * time.Millisecond)
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx := t.Context()
			ctxA, cancelA := context.WithCancel(ctx)
			defer cancelA()
			c, giveBack := borrow(t) // openDB allows one connection: the pool holds it
			if _, err := c.ExecContext(ctx, "DELETE FROM connkit.t"); err != nil {
				t.Fatal(err)
			}
			txA, err := c.BeginTx(ctxA, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := txA.Exec("INSERT INTO connkit.t VALUES (1)"); err != nil {
				t.Fatal(err)
			}
			giveBack() // A forgets its Tx

			c, giveBack = borrow(t)
			defer giveBack()
			txB, err := c.BeginTx(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := txB.Exec("INSERT INTO connkit.t VALUES (2)"); err != nil {
				t.Fatal(err)
			}
			tt.endA(t, txA, cancelA)
			if _, err := txB.Exec("INSERT INTO connkit.t VALUES (3)"); err != nil {
				t.Fatal(err)
			}
			if err := txB.Rollback(); err != nil {
				t.Fatalf("B's Rollback: %v", err)
			}
			var n int
			if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM connkit.t").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n != 0 {
				t.Errorf("%d rows after A's Tx was reset and B rolled back, want 0: A's end reached B's connection", n)
			}
		})
	}
}

package bench

import (
	"context"
	"database/sql"
	"testing"

	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/reset"
	"github.com/go-sql-driver/mysql"
)

// BenchmarkMySQLBorrow borrows a connection from database/sql, runs one
// statement and returns the connection, against a private MariaDB on
// loopback:
//
//   - Mode=clean: SELECT 1, which leaves the session clean.
//   - Mode=dirty-reset: SELECT @a := 1, which sets a user variable; the
//     next borrow resets the session in place (one round trip).
//   - Mode=dirty-redial: USE connkit on a config with no database, which no
//     reset can undo; the connection is closed and the next borrow dials.
//
// Impl=driver is go-sql-driver/mysql alone (no tracking, no reset: the
// floor, and what leaks state); Impl=connkit is reset.MySQLConnector.
func BenchmarkMySQLBorrow(b *testing.B) {
	srv := testenv.StartMariaDB(b, nil)
	modes := []struct{ name, query string }{
		{"clean", "SELECT 1"},
		{"dirty-reset", "SELECT @a := 1"},
		{"dirty-redial", "USE connkit"},
	}
	for _, mode := range modes {
		for _, impl := range []string{"connkit", "driver"} {
			if impl == "driver" && mode.name != "clean" {
				continue // the driver does not reset: nothing to compare
			}
			b.Run("Mode="+mode.name+"/Impl="+impl, func(b *testing.B) {
				cfg, err := mysql.ParseDSN(srv.DSN())
				if err != nil {
					b.Fatal(err)
				}
				if mode.name == "dirty-redial" {
					cfg.DBName = ""
				}
				db := openBenchDB(b, cfg, impl)
				b.ReportAllocs()
				mysqlBorrows(b, db, mode.query)
			})
		}
	}
}

// mysqlBorrows runs the benchmark's loop: borrow a connection from db,
// run query, give the connection back.
func mysqlBorrows(b *testing.B, db *sql.DB, query string) {
	ctx := context.Background()
	for b.Loop() {
		c, err := db.Conn(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.ExecContext(ctx, query); err != nil {
			b.Fatal(err)
		}
		c.Close()
	}
}

func openBenchDB(b *testing.B, cfg *mysql.Config, impl string) *sql.DB {
	var db *sql.DB
	if impl == "connkit" {
		c, err := reset.MySQLConnector(cfg)
		if err != nil {
			b.Fatal(err)
		}
		db = sql.OpenDB(c)
	} else {
		c, err := mysql.NewConnector(cfg)
		if err != nil {
			b.Fatal(err)
		}
		db = sql.OpenDB(c)
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	b.Cleanup(func() { db.Close() })
	return db
}

package testenv

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// openDB opens dsn and closes it when the test ends.
func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("mysql", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("close DB: %v", err)
		}
	})
	return db
}

// queryString runs a query returning one string.
func queryString(t *testing.T, ctx context.Context, db *sql.DB, query string) string {
	t.Helper()
	var s string
	if err := db.QueryRowContext(ctx, query).Scan(&s); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return s
}

func TestMariaDBQueries(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m := StartMariaDB(t, nil)
	if err := readHandshake(ctx, m.Addr()); err != nil {
		t.Fatal(err)
	}
	db := openDB(t, m.DSN())
	tests := []struct {
		name  string
		db    *sql.DB
		query string
		want  string
	}{
		{name: "One", db: db, query: "SELECT 1", want: "1"},
		{name: "User", db: db, query: "SELECT CURRENT_USER()", want: "connkit@%"},
		{name: "Database", db: db, query: "SELECT DATABASE()", want: "connkit"},
		{name: "Root", db: openDB(t, m.RootDSN()), query: "SELECT CURRENT_USER()", want: "root@%"},
		{name: "Params", db: openDB(t, m.DSN("sql_mode=%27ANSI_QUOTES%27")), query: "SELECT @@SESSION.sql_mode", want: "ANSI_QUOTES"},
	}
	for _, tt := range tests {
		if got := queryString(t, ctx, tt.db, tt.query); got != tt.want {
			t.Errorf("%s: %s = %q, want %q", tt.name, tt.query, got, tt.want)
		}
	}
	if _, err := db.ExecContext(ctx, "CREATE DATABASE other"); err == nil {
		t.Error("the connkit user could create a database; it should own only its own")
	}
}

func TestMariaDBKillAndRestart(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	m := StartMariaDB(t, nil)
	addr := m.Addr()
	m.Kill()
	if m.Running() || !dialRefused(t, addr) {
		t.Fatal("server still up after Kill")
	}
	m.Restart()
	if m.Addr() != addr {
		t.Errorf("Addr() = %q after Restart, want %q", m.Addr(), addr)
	}
	if got := queryString(t, ctx, openDB(t, m.DSN()), "SELECT 1"); got != "1" {
		t.Errorf("SELECT 1 = %q", got)
	}
}

func TestMariaDBDataSurvivesRestart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		stop func(*MariaDB)
	}{
		{name: "Stop", stop: (*MariaDB).Stop},
		{name: "Kill", stop: (*MariaDB).Kill},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := testContext(t)
			m := StartMariaDB(t, nil)
			db := openDB(t, m.DSN())
			for _, q := range []string{"CREATE TABLE kv (k VARCHAR(10) PRIMARY KEY, v VARCHAR(10))",
				"INSERT INTO kv VALUES ('k', '" + tt.name + "')"} {
				if _, err := db.ExecContext(ctx, q); err != nil {
					t.Fatalf("%s: %v", q, err)
				}
			}
			tt.stop(m)
			m.Start()
			got := queryString(t, ctx, openDB(t, m.DSN()), "SELECT v FROM kv WHERE k = 'k'")
			if got != tt.name {
				t.Errorf("after %s and Start: v = %q, want %q", tt.name, got, tt.name)
			}
		})
	}
}

func TestMariaDBParallelInstances(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	addrs := map[string]bool{}
	skipped := false // a subtest skipped: mariadbd is not installed
	t.Run("Group", func(t *testing.T) {
		for _, name := range []string{"A", "B"} {
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				t.Cleanup(func() {
					if t.Skipped() {
						mu.Lock()
						skipped = true
						mu.Unlock()
					}
				})
				ctx := testContext(t)
				m := StartMariaDB(t, nil)
				db := openDB(t, m.DSN())
				if _, err := db.ExecContext(ctx, "CREATE TABLE only_"+name+" (id INT)"); err != nil {
					t.Fatal(err)
				}
				tables := queryString(t, ctx, db,
					"SELECT GROUP_CONCAT(table_name) FROM information_schema.tables WHERE table_schema = 'connkit'")
				if tables != "only_"+name {
					t.Errorf("tables = %q, want only this instance's", tables)
				}
				mu.Lock()
				addrs[m.Addr()] = true
				mu.Unlock()
			})
		}
	})
	if skipped {
		t.Skip("an instance was skipped, so there is nothing to compare")
	}
	if len(addrs) != 2 {
		t.Errorf("instances listened on %v, want two addresses", addrs)
	}
}

func TestMariaDBStartOnBusyPortReportsIt(t *testing.T) {
	t.Parallel()
	m := StartMariaDB(t, nil)
	m.Stop()
	ln, err := net.Listen("tcp", m.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m.opMu.Lock()
	err = m.startOnLocked(testContext(t), ln.Addr().(*net.TCPAddr).Port)
	m.opMu.Unlock()
	if !errors.Is(err, errAddrInUse) || !strings.Contains(err.Error(), "Address already in use") {
		t.Fatalf("start on a busy port: %v; want errAddrInUse with the log", err)
	}
}

func TestMariaDBOptions(t *testing.T) {
	t.Parallel()
	ctx := testContext(t)
	opts := &MariaDBOptions{Args: []string{"--max-connections=12"}}
	m := StartMariaDB(t, opts)
	if got := queryString(t, ctx, openDB(t, m.DSN()), "SELECT @@max_connections"); got != "12" {
		t.Errorf("max_connections = %s, want 12", got)
	}
	if opts.StartTimeout != 0 {
		t.Errorf("StartMariaDB changed the caller's options: %+v", opts)
	}
}

func TestFormatDSN(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		db     string
		params []string
		want   string
	}{
		{name: "Plain", db: "connkit", want: "u:p@tcp(127.0.0.1:3306)/connkit"},
		{name: "NoDatabase", want: "u:p@tcp(127.0.0.1:3306)/"},
		{name: "Params", db: "connkit", params: []string{"parseTime=true", "timeout=1s"},
			want: "u:p@tcp(127.0.0.1:3306)/connkit?parseTime=true&timeout=1s"},
	}
	for _, tt := range tests {
		got := formatDSN("u", "p", "127.0.0.1:3306", tt.db, tt.params)
		if got != tt.want {
			t.Errorf("%s: formatDSN = %q, want %q", tt.name, got, tt.want)
		}
		cfg, err := mysql.ParseDSN(got)
		if err != nil || cfg.User != "u" || cfg.Passwd != "p" || cfg.Addr != "127.0.0.1:3306" || cfg.DBName != tt.db {
			t.Errorf("%s: mysql.ParseDSN(%q) = %+v, %v", tt.name, got, cfg, err)
		}
	}
}

func TestReadPacket(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		give    []byte
		want    string
		wantErr string
	}{
		{name: "Handshake", give: []byte{3, 0, 0, 0, 10, 'v', 0}, want: "\x0av\x00"},
		{name: "Empty", give: []byte{0, 0, 0, 0}, wantErr: "out of range"},
		{name: "Truncated", give: []byte{5, 0, 0, 0, 10}, wantErr: "EOF"},
		{name: "NoHeader", give: []byte{1, 0}, wantErr: "EOF"},
	}
	for _, tt := range tests {
		got, err := readPacket(bytes.NewReader(tt.give))
		if string(got) != tt.want || (err == nil) != (tt.wantErr == "") ||
			err != nil && !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%s: readPacket = %q, %v; want %q, error containing %q", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
	err := errPacketError([]byte{0xff, 0x10, 0x04, 'T', 'o', 'o'})
	if err == nil || !strings.Contains(err.Error(), "error 1040: Too") {
		t.Errorf("errPacketError = %v, want error 1040", err)
	}
}

func FuzzReadPacket(f *testing.F) {
	f.Add([]byte{3, 0, 0, 0, 10, 'v', 0})
	f.Add([]byte{3, 0, 0, 0, 0xff, 0x10, 0x04})
	f.Fuzz(func(t *testing.T, data []byte) {
		payload, err := readPacket(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(payload) == 0 || len(payload) > len(data)-4 {
			t.Fatalf("payload of %d bytes from %d bytes of input", len(payload), len(data))
		}
		if payload[0] == 0xff && errPacketError(payload) == nil {
			t.Fatal("errPacketError returned nil")
		}
	})
}

func BenchmarkMariaDBRestart(b *testing.B) {
	for _, bb := range []struct {
		name string
		stop func(*MariaDB)
	}{{"Kill", (*MariaDB).Kill}, {"Stop", (*MariaDB).Stop}} {
		b.Run("After="+bb.name, func(b *testing.B) {
			m := StartMariaDB(b, nil)
			for b.Loop() {
				bb.stop(m)
				m.Start()
			}
		})
	}
}

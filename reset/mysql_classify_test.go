package reset

import (
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		give string
		want effect
	}{
		{"select", "SELECT * FROM t WHERE id = ?", effectNone},
		{"lower case", "select 1", effectNone},
		{"insert", "INSERT INTO t (a) VALUES (?)", effectNone},
		{"update", "  update t set a = 1", effectNone},
		{"delete", "DELETE FROM t", effectNone},
		{"cte", "WITH x AS (SELECT 1) SELECT * FROM x", effectNone},
		{"show", "SHOW TABLES", effectNone},
		{"leading comment", "/* request 42 */ SELECT 1", effectNone},
		{"line comment", "-- why\nSELECT 1", effectNone},
		{"hash comment", "# why\nSELECT 1", effectNone},
		{"trailing semicolon", "SELECT 1;  ", effectNone},
		{"system variable read", "SELECT @@time_zone", effectNone},
		{"at sign in a string", "SELECT * FROM users WHERE email = 'a@b.c'", effectNone},
		{"quoted semicolon", "SELECT ';SET @a=1'", effectNone},
		{"escaped quote", `SELECT 'it\'s' FROM t`, effectNone},
		// Read without backslash escapes, @x is outside the string: dirty,
		// though such a server would refuse the statement.
		{"escaped quote before an @", `SELECT 'it\'s @x'`, effectDirty},
		{"doubled quote", `SELECT 'it''s @x'`, effectNone},
		{"backquoted identifier", "SELECT `@weird` FROM t", effectNone},
		{"last insert id read", "SELECT LAST_INSERT_ID()", effectNone},
		{"create table", "CREATE TABLE t (x INT)", effectNone},
		{"select for update", "SELECT * FROM t FOR UPDATE", effectNone},

		{"set", "SET time_zone = '+00:00'", effectDirty},
		{"set names", "set names latin1", effectDirty},
		{"user variable assignment", "SELECT @a := 1", effectDirty},
		{"select into variable", "SELECT x INTO @v FROM t", effectDirty},
		{"quoted user variable", "SELECT @`a b` := 1", effectDirty},
		{"temporary table", "CREATE TEMPORARY TABLE tmp (x INT)", effectDirty},
		{"temporary in comment-free lower case", "create temporary table tmp (x int)", effectDirty},
		{"get_lock", "SELECT GET_LOCK('x', 10)", effectDirty},
		{"get_lock with space", "SELECT get_lock ('x', 10)", effectDirty},
		{"last insert id set", "SELECT LAST_INSERT_ID(5)", effectDirty},
		{"lock tables", "LOCK TABLES t READ", effectDirty},
		{"begin", "BEGIN", effectDirty},
		{"start transaction", "START TRANSACTION", effectDirty},
		{"call", "CALL p()", effectDirty},
		{"do", "DO GET_LOCK('x', 0)", effectDirty},
		{"prepare", "PREPARE s FROM 'SELECT 1'", effectDirty},
		{"handler", "HANDLER t OPEN", effectDirty},
		{"second statement", "SELECT 1; SET @a = 1", effectDirty},
		{"second statement after comment", "SELECT 1; /* x */ SELECT 2", effectDirty},
		{"executable comment", "/*!40101 SET NAMES utf8 */", effectDirty},
		{"executable comment in select", "SELECT /*!50000 @a := 1 */ 1", effectDirty},
		{"unknown", "FROBNICATE", effectDirty},
		{"empty", "", effectDirty},
		{"only a comment", "/* nothing */", effectDirty},

		{"use", "USE other", effectUse},
		{"use with comment", "/* x */ use `other`", effectUse},

		// Statements that hide code from one reading of the text and not
		// from another: backslashes under NO_BACKSLASH_ESCAPES or
		// ANSI_QUOTES (which a server's config may set, unseen by the DSN),
		// quoted identifiers naming functions, executable comments, and --
		// comments that MySQL's lexer starts at any control character.
		// Each lock-taking one was checked against MariaDB 10.11 to leave
		// the lock with the next borrower (TestMySQLHiddenLocksAreReset).
		{"next value for", "SELECT NEXT VALUE FOR s", effectDirty},
		{"previous value for", "SELECT PREVIOUS VALUE FOR s", effectDirty},
		{"column named next", "SELECT next FROM t", effectNone},
		{"NO_BACKSLASH_ESCAPES hides nothing", `SELECT 'a\', @x := 1 -- '`, effectDirty},
		{"NO_BACKSLASH_ESCAPES, server-wide", `SELECT 'a\', GET_LOCK('connkit', 0) -- '`, effectDirty},
		{"ANSI_QUOTES", `SELECT 1 AS "a\", GET_LOCK('connkit', 0) AS "b"`, effectDirty},
		{"a backslash in a clean query", `SELECT * FROM t WHERE name LIKE 'a\_b' AND note = 'it\'s'`, effectNone},
		{"quoted function", "SELECT `GET_LOCK`('connkit', 0)", effectDirty},
		{"quoted last_insert_id", "SELECT `LAST_INSERT_ID`(5)", effectDirty},
		{"quoted column", "SELECT `name` FROM `t`", effectNone},
		{"-- then CR", "SELECT 1 --\r '\n, GET_LOCK('connkit', 0) -- '", effectDirty},
		{"-- then FF", "SELECT 1 --\f '\n, GET_LOCK('connkit', 0) -- '", effectDirty},
		{"# runs to LF, CR inside", "SELECT 1 # x\r, GET_LOCK('connkit', 0)\n", effectNone},
		{"-- at the end", "SELECT 1 --", effectNone},
		{"double minus", "SELECT 1 --1", effectNone},
		{"drop database", "DROP DATABASE d", effectUse},
		{"drop schema", "drop schema if exists d", effectUse},
		{"drop table", "DROP TABLE t", effectNone},
		{"double-quoted function", `SELECT "GET_LOCK"('connkit', 0)`, effectDirty},
		{"a double-quoted string", `SELECT "hello" FROM t`, effectNone},
		{"use in an executable comment", "/*!32312 USE other*/", effectUse},
		{"drop database as mysqldump writes it", "/*!40000 DROP DATABASE IF EXISTS other*/", effectUse},
		{"MariaDB executable comment", "/*M!100100 USE other*/", effectUse},
		{"select in an executable comment", "/*!40101 SELECT 1 */", effectNone},
	} {
		if got := classify(tt.give); got != tt.want {
			t.Errorf("%s: classify(%q) = %d, want %d", tt.name, tt.give, got, tt.want)
		}
	}
}

// FuzzClassify checks that classify never panics and never calls harmless a
// statement that starts with a session-changing keyword or holds a user
// variable outside quotes and comments.
func FuzzClassify(f *testing.F) {
	for _, s := range []string{"SELECT 1", "SET @a = 1", "SELECT 'a@b'", "/*! SET x=1 */", "SELECT 1; DO 1", "SELECT `a`@`b`", "-- x\nUSE d", `SELECT '\''`,
		"SELECT `GET_LOCK`('x', 0)", "SELECT 1 --\r '\n, GET_LOCK('x', 0) -- '", `SELECT 1 AS "a\", GET_LOCK('x', 0) AS "b"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, q string) {
		got := classify(q)
		if got != classify(q) {
			t.Fatal("classify is not deterministic")
		}
		if got != effectNone {
			return
		}
		first := strings.ToUpper((&lexer{s: q}).word())
		if !harmless[first] {
			t.Fatalf("classify(%q) = none, but it starts with %q", q, first)
		}
		if strings.HasPrefix(strings.TrimSpace(strings.ToUpper(q)), "SET ") {
			t.Fatalf("classify(%q) = none for a SET", q)
		}
	})
}

func TestSQLIsBroken(t *testing.T) {
	t.Parallel()
	s := NewSQL(nil)
	for _, tt := range []struct {
		name string
		give error
		want bool
	}{
		{"invalid connection", fmt.Errorf("query: %w", mysql.ErrInvalidConn), true},
		{"conn done", sql.ErrConnDone, true},
		{"bad conn", driver.ErrBadConn, true},
		{"syntax error", errors.New("Error 1064: You have an error in your SQL syntax"), false},
		{"no rows", sql.ErrNoRows, false},
	} {
		if got := s.IsBroken(tt.give); got != tt.want {
			t.Errorf("%s: IsBroken = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestClassifyLowerCaseDoesNotAllocate(t *testing.T) {
	for _, q := range []string{"select * from t where id = ?", "SELECT 1", "insert into t values (1)"} {
		if n := testing.AllocsPerRun(100, func() { classify(q) }); n != 0 {
			t.Errorf("classify(%q) allocates %v times", q, n)
		}
	}
}

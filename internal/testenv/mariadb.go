package testenv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const (
	// defaultMariaDBStartTimeout is MariaDBOptions.StartTimeout's default.
	// A start takes about 0.1 s, crash recovery after Kill a little more.
	defaultMariaDBStartTimeout = 30 * time.Second

	mariadbUser         = "connkit"
	mariadbPassword     = "connkit-password"
	mariadbDatabase     = "connkit"
	mariadbRootPassword = "root-password"

	// maxSocketRootLen keeps unix socket paths well under the 108-byte
	// sun_path limit; longer temp roots fall back to /tmp.
	maxSocketRootLen = 64
	// maxHandshakeLen bounds the first packet readHandshake accepts.
	maxHandshakeLen = 1 << 16
)

// MariaDBOptions configures a server started by [StartMariaDB]. A nil
// *MariaDBOptions is the same as a zero MariaDBOptions.
type MariaDBOptions struct {
	// Args are extra mariadbd flags, appended after testenv's own so they
	// override them, e.g. []string{"--max-connections=20",
	// "--wait-timeout=2"}. The port, address and file locations must stay
	// testenv's, and flags that shape the data directory, such as
	// --innodb-log-file-size, are best left alone. Zero: none.
	Args []string

	// StartTimeout bounds every start, including restarts, crash recovery
	// and retries on a busy port. Zero: 30 s.
	StartTimeout time.Duration
}

// withDefaults returns a copy of o with zero fields set to their defaults.
func (o *MariaDBOptions) withDefaults() MariaDBOptions {
	var c MariaDBOptions
	if o != nil {
		c = *o
		c.Args = append([]string(nil), o.Args...)
	}
	if c.StartTimeout == 0 {
		c.StartTimeout = defaultMariaDBStartTimeout
	}
	return c
}

// MariaDB is a private mariadbd for one test, with its own data directory.
// The data directory survives Stop, Kill and Start, as a real server's
// would: committed rows are still there after a crash.
type MariaDB struct {
	*Server
}

// mariadbPaths are the files of one MariaDB instance.
type mariadbPaths struct {
	data   string // data directory, a copy of the template
	tmp    string // temporary files, private as they are in a build
	socket string // unix socket, in a short directory
	pid    string // pid file, written once the port is bound
	log    string // error log, also receiving stdout and stderr
}

// StartMariaDB starts a mariadbd on a free port of 127.0.0.1 and waits
// until it accepts connections. Its data directory is a copy of a cached
// template (see the package documentation), in t.TempDir; the server is
// killed when the test ends. StartMariaDB skips the test when MariaDB is
// not installed (fails it under CONNKIT_REQUIRE_SERVICES=1) and fails it
// when the server does not start; the log's tail is in the failure message.
//
// The first call in a test process looks the template up (about 30 ms, to
// run mariadbd --version) or builds it (0.6 s, more with a cold disk
// cache). Each call then copies the template (about 0.1 s on ext4, 15 ms on
// tmpfs) and starts the server (about 0.1 s).
func StartMariaDB(tb testing.TB, opts *MariaDBOptions) *MariaDB {
	tb.Helper()
	o := opts.withDefaults()
	bin := requireBinary(tb, "mariadbd", "mariadb-server",
		"/usr/sbin/mariadbd", "/usr/local/sbin/mariadbd", "/usr/local/bin/mariadbd")
	installDB := requireBinary(tb, "mariadb-install-db", "mariadb-server",
		"/usr/bin/mariadb-install-db", "/usr/local/bin/mariadb-install-db")
	template, err := mariadbTemplate.get(bin, installDB)
	if err != nil {
		tb.Fatal(err)
	}
	dir := tb.TempDir()
	paths := mariadbPaths{
		data:   filepath.Join(dir, "data"),
		tmp:    filepath.Join(dir, "tmp"),
		socket: filepath.Join(shortTempDir(tb), "mysqld.sock"),
		pid:    filepath.Join(dir, "mariadbd.pid"),
		log:    filepath.Join(dir, "mariadbd.log"),
	}
	if err := copyTemplate(template, paths.data); err != nil {
		tb.Fatal(err)
	}
	if err := os.Mkdir(paths.tmp, 0o700); err != nil {
		tb.Fatalf("testenv: create MariaDB tmpdir: %v", err)
	}
	srv := newServer(tb, serverConfig{
		name:         "mariadbd",
		bin:          bin,
		logPath:      paths.log,
		startTimeout: o.StartTimeout,
		args:         func(port int) []string { return mariadbArgs(o, paths, port) },
		probe: func(ctx context.Context, addr string, pid int) error {
			return probeMariaDB(ctx, addr, paths.pid, pid)
		},
	})
	return &MariaDB{Server: srv}
}

// User returns the name of the unprivileged user, "connkit", which has all
// privileges on [MariaDB.Database] and none elsewhere.
func (m *MariaDB) User() string { return mariadbUser }

// Password returns the password of [MariaDB.User].
func (m *MariaDB) Password() string { return mariadbPassword }

// Database returns the name of the database the user owns, "connkit".
func (m *MariaDB) Database() string { return mariadbDatabase }

// RootPassword returns the password of the "root" user, which has all
// privileges, GRANT OPTION included, for tests that kill connections or
// change global variables.
func (m *MariaDB) RootPassword() string { return mariadbRootPassword }

// DSN returns a go-sql-driver/mysql data source name for [MariaDB.User]
// and [MariaDB.Database] over TCP, such as
// "connkit:connkit-password@tcp(127.0.0.1:41234)/connkit?parseTime=true".
// Each param is a "name=value" pair, appended verbatim, so values must
// already be URL-escaped.
func (m *MariaDB) DSN(params ...string) string {
	return formatDSN(mariadbUser, mariadbPassword, m.Addr(), mariadbDatabase, params)
}

// RootDSN returns a data source name like DSN's for the root user, with
// no default database.
func (m *MariaDB) RootDSN(params ...string) string {
	return formatDSN("root", mariadbRootPassword, m.Addr(), "", params)
}

// formatDSN builds a go-sql-driver/mysql DSN.
func formatDSN(user, password, addr, db string, params []string) string {
	dsn := fmt.Sprintf("%s:%s@tcp(%s)/%s", user, password, addr, db)
	if len(params) > 0 {
		dsn += "?" + strings.Join(params, "&")
	}
	return dsn
}

// shortTempDir returns a new directory with a short path, for unix
// sockets: t.TempDir paths hold the test's name and can exceed the 108
// bytes a socket path may have. A cleanup removes it.
func shortTempDir(tb testing.TB) string {
	tb.Helper()
	root := os.TempDir()
	if len(root) > maxSocketRootLen {
		root = "/tmp"
	}
	dir, err := os.MkdirTemp(root, "ckdb")
	if err != nil {
		tb.Fatalf("testenv: create socket directory: %v", err)
	}
	tb.Cleanup(func() {
		if err := os.RemoveAll(dir); err != nil {
			tb.Errorf("testenv: remove socket directory: %v", err)
		}
	})
	return dir
}

// mariadbArgs returns mariadbd's command line. --no-defaults comes first,
// as mariadbd requires, so no option file (/etc/mysql, ~/.my.cnf) applies
// and the machine's own MariaDB is never touched.
func mariadbArgs(o MariaDBOptions, p mariadbPaths, port int) []string {
	args := append([]string{"--no-defaults"}, userArgs()...)
	args = append(args,
		"--datadir="+p.data,
		"--tmpdir="+p.tmp,
		"--socket="+p.socket,
		"--pid-file="+p.pid,
		"--log-error="+p.log,
		"--port="+strconv.Itoa(port),
		"--bind-address=127.0.0.1",
		// Accounts are 'user'@'%'; no DNS lookups for 127.0.0.1.
		"--skip-name-resolve",
		// Readiness probes disconnect before authenticating; never let
		// them get 127.0.0.1 blocked.
		"--max-connect-errors=1000000",
		"--innodb-buffer-pool-size=32M",
		// Commits reach the OS, not the disk: they survive Kill, which is
		// a process crash, and skip an fsync each.
		"--innodb-flush-log-at-trx-commit=2",
	)
	args = append(args, templateServerArgs()...)
	return append(args, o.Args...)
}

// probeMariaDB checks that process pid owns addr and that the server there
// sends its handshake. mariadbd writes its pid file only after binding the
// port, so a matching pid file rules out another test's server on it.
func probeMariaDB(ctx context.Context, addr, pidFile string, pid int) error {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return fmt.Errorf("testenv: pid file not written yet: %w", err)
	}
	if got := strings.TrimSpace(string(b)); got != strconv.Itoa(pid) {
		return fmt.Errorf("testenv: pid file %s holds %q, not %d", pidFile, got, pid)
	}
	return readHandshake(ctx, addr)
}

// readHandshake connects to addr and checks that the server's first packet
// is a protocol 10 handshake, which MariaDB sends once it accepts logins.
func readHandshake(ctx context.Context, addr string) error {
	conn, err := dialCtx(ctx, addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	payload, err := readPacket(conn)
	if err != nil {
		return fmt.Errorf("testenv: read handshake from %s: %w", addr, err)
	}
	switch payload[0] {
	case 10:
		return nil
	case 0xff:
		return errPacketError(payload)
	default:
		return fmt.Errorf("testenv: handshake from %s has protocol version %d, want 10", addr, payload[0])
	}
}

// readPacket reads one MySQL protocol packet: a 3-byte little-endian
// payload length, a sequence number, and the payload.
func readPacket(r io.Reader) ([]byte, error) {
	var header [4]byte
	if _, err := io.ReadFull(r, header[:]); err != nil {
		return nil, err
	}
	n := int(header[0]) | int(header[1])<<8 | int(header[2])<<16
	if n == 0 || n > maxHandshakeLen {
		return nil, fmt.Errorf("testenv: packet length %d out of range", n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, err
	}
	return payload, nil
}

// errPacketError decodes an ERR packet: 0xff, a 2-byte error code and the
// message (for example 1040 "Too many connections").
func errPacketError(p []byte) error {
	if len(p) < 3 {
		return errors.New("testenv: truncated error packet")
	}
	code := int(p[1]) | int(p[2])<<8
	return fmt.Errorf("testenv: server refused the connection: error %d: %s", code, p[3:])
}

// Package testenv starts private Redis and MariaDB servers for tests.
//
// Each server is a child process of the test binary, owned by exactly one
// test: it listens on 127.0.0.1 on a port chosen for it, keeps its files in
// the test's t.TempDir, and is killed and reaped by a t.Cleanup. A test can
// stop, kill and restart its server on the same address, which is what
// failure tests need: [Server.Kill] is a crash (SIGKILL), [Server.Stop] a
// clean shutdown (SIGTERM), and [Server.Start] brings the server back with
// the data it had (MariaDB keeps its data directory; Redis runs without
// persistence and comes back empty).
//
//	func TestReconnect(t *testing.T) {
//		r := testenv.StartRedis(t, nil)
//		client := redis.NewClient(&redis.Options{Addr: r.Addr()})
//		...
//		r.Kill()    // open connections break, new ones are refused
//		r.Restart() // same address, fresh server
//	}
//
// Readiness is checked over TCP with the servers' own protocols, without
// client libraries: Redis must answer INFO with the process id of our child,
// and MariaDB must have written our child's pid file (it does so only after
// binding its port) and must send its handshake packet. So a server of
// another test that grabbed the port is never mistaken for ours.
//
// # Missing binaries
//
// When redis-server or mariadbd is not installed, the Start functions skip
// the test with a message naming the apt-get package. CI sets the
// environment variable CONNKIT_REQUIRE_SERVICES=1, which turns the skip into
// a failure so that a broken image cannot silently skip every server test.
//
// # MariaDB data directory template
//
// mariadb-install-db takes 0.6 s or more, so it runs once per mariadbd
// version and recipe, into a template cached under
// os.UserCacheDir()/connkit-testenv (or os.TempDir()/connkit-testenv-UID
// when there is no cache directory). The template is built in a temporary
// directory and renamed into place, so test processes running in parallel
// (go test ./...) never see a half-built one. Its name holds the mariadbd
// version and a hash of the recipe, so upgrading MariaDB or changing the
// recipe builds a new one; old templates are never removed, so delete the
// cache directory to reclaim their space.
//
// Each StartMariaDB copies the template (96 files, 25 MB) into its own
// t.TempDir. Creating the files dominates: about 0.1 s on ext4, 15 ms on
// tmpfs, so TMPDIR=/dev/shm speeds up suites that start many servers.
//
// Every instance has a database "connkit", a user "connkit" with all
// privileges on it, and a "root" user with all privileges, both reachable
// over TCP with mysql_native_password. The sys schema is left out to keep
// the template small. To reach MariaDB through a proxy, parse
// [MariaDB.DSN] with mysql.ParseDSN and change its Addr.
//
// # Orphans
//
// On Linux every child gets Pdeathsig SIGKILL, so a test binary that
// crashes or is killed takes its servers with it. Pdeathsig fires when the
// OS thread that started the child exits; the Go runtime keeps its threads
// alive unless a goroutine exits while locked to one (runtime.LockOSThread),
// so do not start servers from such goroutines. Elsewhere the cleanup covers
// normal exits only.
//
// # Concurrency and contexts
//
// The methods of [Server] are safe for concurrent use, but Start and
// Restart, which can fail the test, call t.Fatal and so must run on the
// test's goroutine; Stop, Kill, Running and Addr may run anywhere. They take
// no context: like the t.Fatal-style helpers they are, they bound
// themselves (StartTimeout in the options, 10 s for a clean stop) and
// report failure through t.
package testenv

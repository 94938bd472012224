package testenv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/connkit/connkit/lifecycle"
)

const (
	// stopTimeout bounds a clean shutdown; then Stop sends SIGKILL.
	stopTimeout = 10 * time.Second
	// maxPortAttempts bounds how many free ports a first start tries.
	maxPortAttempts = 5
	// pollInterval spaces readiness probes.
	pollInterval = 10 * time.Millisecond
	// busyPortRetry spaces restarts on a port that is still in use.
	busyPortRetry = 50 * time.Millisecond
	// probeTimeout bounds one readiness probe.
	probeTimeout = time.Second
)

// errAddrInUse reports that a server could not bind its port.
var errAddrInUse = errors.New("testenv: address already in use")

// Server is a server process owned by one test: a child of the test binary
// listening on 127.0.0.1 on a port that stays the same across restarts.
// Obtain one from [StartRedis] or [StartMariaDB], which embed it; a t.Cleanup
// kills it (SIGKILL) and waits for it at the end of the test.
//
// Its methods are safe for concurrent use; Start, Restart, Stop and Kill run
// one at a time.
type Server struct {
	tb  testing.TB
	cfg serverConfig

	opMu sync.Mutex // serializes Start, Restart, Stop, Kill and the cleanup; held across process I/O; taken before mu

	mu   sync.Mutex // protects the fields below; never held during I/O
	port int        // 0 until the first start succeeds, then fixed
	proc *process   // the current or last process; nil until the first start succeeds
}

// serverConfig describes how to run and probe one kind of server.
type serverConfig struct {
	name         string        // binary name, for messages
	bin          string        // path of the binary
	logPath      string        // file receiving the server's output across runs
	startTimeout time.Duration // bounds each start, port retries included
	args         func(port int) []string
	// probe returns nil when the server on addr is ready and is process pid.
	probe func(ctx context.Context, addr string, pid int) error
}

// newServer starts a server on a free port and registers its cleanup; it
// fails the test if the server does not become ready.
func newServer(tb testing.TB, cfg serverConfig) *Server {
	tb.Helper()
	s := &Server{tb: tb, cfg: cfg}
	tb.Cleanup(s.cleanup)

	s.opMu.Lock()
	defer s.opMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), cfg.startTimeout)
	defer cancel()
	if err := s.startFreePortLocked(ctx); err != nil {
		tb.Fatal(err)
	}
	return s
}

// Addr returns the server's address, "127.0.0.1:port". It does not change
// when the server is stopped, killed or restarted.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port))
}

// LogPath returns the file that receives the server's output, appended to
// by every run.
func (s *Server) LogPath() string { return s.cfg.logPath }

// Running reports whether the server process is alive: it was started and
// became ready, and has not been stopped, killed or crashed since.
func (s *Server) Running() bool {
	p := s.current()
	return p != nil && !p.exited()
}

// Start starts a stopped or killed server again on the same port and waits
// until it is ready. A port still held by the previous run is retried until
// the start timeout. Start fails the test if the server is already running
// or does not become ready; call it from the test's goroutine.
func (s *Server) Start() {
	s.tb.Helper()
	s.opMu.Lock()
	defer s.opMu.Unlock()
	if s.Running() {
		s.tb.Fatalf("testenv: %s on %s is already running; use Restart", s.cfg.name, s.Addr())
	}
	s.startLocked()
}

// Restart stops the server like Stop, if it is running, and starts it again
// like Start.
func (s *Server) Restart() {
	s.tb.Helper()
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.stopLocked(syscall.SIGTERM)
	s.startLocked()
}

// Stop shuts the server down cleanly (SIGTERM) and waits for it to exit:
// about 25 ms for MariaDB, up to 0.1 s for Redis, which looks for the
// signal ten times a second. A server still running 10 s later is killed.
// Stop does nothing if the server is not running.
func (s *Server) Stop() {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.stopLocked(syscall.SIGTERM)
}

// Kill crashes the server (SIGKILL) and waits for it to exit: the kernel
// closes its connections (clients read EOF, or a reset if the server had
// unread data) and refuses new ones. Kill does nothing if the server is
// not running.
func (s *Server) Kill() {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	s.stopLocked(syscall.SIGKILL)
}

// current returns the current or last process.
func (s *Server) current() *process {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc
}

// startLocked starts the server on its port or fails the test. The caller
// holds opMu.
func (s *Server) startLocked() {
	s.tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), s.cfg.startTimeout)
	defer cancel()
	if err := s.startSamePortLocked(ctx); err != nil {
		s.tb.Fatal(err)
	}
}

// stopLocked sends sig and waits for the exit, escalating to SIGKILL after
// stopTimeout. The caller holds opMu.
func (s *Server) stopLocked(sig os.Signal) {
	p := s.current()
	if p == nil || p.exited() {
		return
	}
	p.signal(sig)
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if p.wait(ctx) != nil {
		s.tb.Logf("testenv: %s pid %d ignored %v for %v; killing it", s.cfg.name, p.pid(), sig, stopTimeout)
		p.kill()
	}
}

// cleanup kills the server at the end of the test. A server that exited
// although nobody stopped it crashed, which is logged with its log's tail.
func (s *Server) cleanup() {
	s.opMu.Lock()
	defer s.opMu.Unlock()
	p := s.current()
	if p == nil {
		return
	}
	if p.exited() && !p.signaled.Load() {
		s.tb.Logf("testenv: %s pid %d exited during the test without being stopped: %v\n--- tail of %s ---\n%s",
			s.cfg.name, p.pid(), p.err, s.cfg.logPath, readLogTail(s.cfg.logPath, 0))
	}
	p.kill()
}

// startFreePortLocked starts the server on a free port, trying another
// port when someone else binds the chosen one first. The caller holds opMu.
func (s *Server) startFreePortLocked(ctx context.Context) error {
	var err error
	for range maxPortAttempts {
		port, perr := freePort()
		if perr != nil {
			return perr
		}
		if err = s.startOnLocked(ctx, port); !errors.Is(err, errAddrInUse) {
			return err
		}
	}
	return fmt.Errorf("testenv: %s: %d free ports were each taken before it could bind: %w",
		s.cfg.name, maxPortAttempts, err)
}

// startSamePortLocked starts the server on its previous port, retrying
// while the port is in use until ctx ends. The caller holds opMu.
func (s *Server) startSamePortLocked(ctx context.Context) error {
	s.mu.Lock()
	port := s.port
	s.mu.Unlock()
	for {
		err := s.startOnLocked(ctx, port)
		if !errors.Is(err, errAddrInUse) {
			return err
		}
		if !lifecycle.Sleep(ctx, busyPortRetry) {
			return fmt.Errorf("testenv: %s: port %d still in use after %v: %w",
				s.cfg.name, port, s.cfg.startTimeout, err)
		}
	}
}

// startOnLocked runs the server on port and waits until it is ready. On
// failure the process is killed and the error carries what it logged; it
// wraps errAddrInUse when the port was taken. The caller holds opMu.
func (s *Server) startOnLocked(ctx context.Context, port int) error {
	offset := fileSize(s.cfg.logPath)
	p, err := spawn(s.cfg.bin, s.cfg.args(port), s.cfg.logPath)
	if err != nil {
		return err
	}
	if err := s.waitReady(ctx, p, port); err != nil {
		p.kill()
		log := readLogTail(s.cfg.logPath, offset)
		if strings.Contains(log, "Address already in use") {
			err = errAddrInUse
		}
		return fmt.Errorf("testenv: %s on 127.0.0.1:%d did not become ready: %w\n--- %s since this start ---\n%s",
			s.cfg.name, port, err, s.cfg.logPath, log)
	}
	s.mu.Lock()
	s.port, s.proc = port, p
	s.mu.Unlock()
	return nil
}

// waitReady probes the server every pollInterval until a probe passes, the
// process exits or ctx ends.
func (s *Server) waitReady(ctx context.Context, p *process, port int) error {
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	for {
		err := s.probeOnce(ctx, addr, p)
		if err == nil {
			return nil
		}
		select {
		case <-p.exit.Done():
			return fmt.Errorf("exited before it was ready (%v); last probe: %w", p.err, err)
		case <-ctx.Done():
			return fmt.Errorf("%w; last probe: %w", ctx.Err(), err)
		case <-time.After(pollInterval):
		}
	}
}

// probeOnce runs one readiness probe of p, bounded by probeTimeout and
// abandoned if p exits: whatever answers on the port then is not p.
func (s *Server) probeOnce(ctx context.Context, addr string, p *process) error {
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	stop := context.AfterFunc(p.exit, cancel)
	defer stop()
	return s.cfg.probe(ctx, addr, p.pid())
}

// ctxConn is a connection whose I/O ends when its context ends.
type ctxConn struct {
	net.Conn
	stop func() bool // unregisters the context watch
}

// dialCtx connects to addr over TCP. The connection's deadline is ctx's,
// and canceling ctx unblocks its reads and writes.
func dialCtx(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	return ctxConn{Conn: conn, stop: stop}, nil
}

// Close stops watching the context and closes the connection.
func (c ctxConn) Close() error {
	c.stop()
	return c.Conn.Close()
}

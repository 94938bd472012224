package testenv

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
)

// envRequireServices names the environment variable that turns a missing
// server binary from a skipped test into a failed one.
const envRequireServices = "CONNKIT_REQUIRE_SERVICES"

// logTailBytes bounds how much of a server log goes into a failure message.
const logTailBytes = 4 << 10

// requireBinary returns the path of the first executable among name (looked
// up on PATH) and candidates (absolute paths, for directories such as
// /usr/sbin that are often not on PATH). When none exists it skips the test
// with a message naming the apt-get package pkg, or fails it when
// CONNKIT_REQUIRE_SERVICES=1.
func requireBinary(tb testing.TB, name, pkg string, candidates ...string) string {
	tb.Helper()
	for _, c := range append([]string{name}, candidates...) {
		if path, err := exec.LookPath(c); err == nil {
			return path
		}
	}
	msg := fmt.Sprintf("testenv: %s not found on PATH or in %s; install it with: apt-get install -y %s",
		name, strings.Join(candidates, ", "), pkg)
	if os.Getenv(envRequireServices) == "1" {
		tb.Fatal(msg + " (failing, not skipping, because " + envRequireServices + "=1)")
	}
	tb.Skip(msg)
	return ""
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago. The
// port can be taken by someone else before the caller binds it; callers
// retry on errAddrInUse.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("testenv: find a free port: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		return 0, fmt.Errorf("testenv: find a free port: %w", err)
	}
	return port, nil
}

// process is one run of a server binary. A goroutine reaps it as soon as it
// exits, so it never lingers as a zombie and its exit is observable.
type process struct {
	cmd      *exec.Cmd
	exit     context.Context // ends once the process has exited and been reaped
	err      error           // cmd.Wait's result; read only after exit has ended
	signaled atomic.Bool     // whether testenv has sent it a signal
}

// spawn starts bin with args, appending its stdout and stderr to logPath.
// The log is an *os.File, so exec starts no copying goroutines.
func spawn(bin string, args []string, logPath string) (*process, error) {
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("testenv: open log: %w", err)
	}
	defer logf.Close() // the child has its own copy of the descriptor

	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("testenv: start %s: %w", bin, err)
	}
	exit, exited := context.WithCancel(context.Background())
	p := &process{cmd: cmd, exit: exit}
	go p.reap(exited)
	return p, nil
}

// reap waits for the process to exit and publishes the result.
func (p *process) reap(exited context.CancelFunc) {
	p.err = p.cmd.Wait()
	exited()
}

// pid returns the process id.
func (p *process) pid() int { return p.cmd.Process.Pid }

// exited reports whether the process has exited and been reaped.
func (p *process) exited() bool { return p.exit.Err() != nil }

// signal sends sig unless the process has already been reaped. The only
// error a parent can get signaling its own child is os.ErrProcessDone, which
// means there is nothing left to signal.
func (p *process) signal(sig os.Signal) {
	p.signaled.Store(true)
	_ = p.cmd.Process.Signal(sig)
}

// wait blocks until the process has been reaped or ctx ends.
func (p *process) wait(ctx context.Context) error {
	select {
	case <-p.exit.Done():
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// kill sends SIGKILL and waits for the process to be reaped. SIGKILL cannot
// be caught, so the wait ends as soon as the kernel has torn it down.
func (p *process) kill() {
	p.signal(os.Kill)
	<-p.exit.Done()
}

// fileSize returns the size of the file at path, or 0 if it does not exist.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readLogTail returns at most logTailBytes of the file at path, starting no
// earlier than offset, so a failure shows what this run of a server logged.
func readLogTail(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	if size := fileSize(path); size-offset > logTailBytes {
		offset = size - logTailBytes
	}
	b, err := io.ReadAll(io.NewSectionReader(f, offset, logTailBytes))
	if err != nil {
		return fmt.Sprintf("(reading log: %v)", err)
	}
	return string(b)
}

package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/coder/websocket"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/wsclient"
	gorilla "github.com/gorilla/websocket"
)

const echoChildEnv = "CONNKIT_BENCH_ECHO_SERVER"

// runEchoServer serves WebSocket echo on a loopback port, prints the port's
// address on stdout and serves until stdin closes (the parent went away).
func runEchoServer() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(ln.Addr())
	go func() {
		_, _ = bufio.NewReader(os.Stdin).ReadString('\n')
		os.Exit(0)
	}()
	_ = http.Serve(ln, http.HandlerFunc(echo))
	return 0
}

// echo writes back every message it reads, with its type.
func echo(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	c.SetReadLimit(1 << 20)
	ctx := r.Context()
	for {
		typ, data, err := c.Read(ctx)
		if err != nil {
			return
		}
		if err := c.Write(ctx, typ, data); err != nil {
			return
		}
	}
}

// startEchoProcess runs the echo server in a child process and returns its
// ws:// URL.
func startEchoProcess(b *testing.B) string {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), echoChildEnv+"=1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		cmd.Wait()
	})
	addr, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		b.Fatalf("echo server: %v", err)
	}
	return "ws://" + strings.TrimSpace(addr)
}

// BenchmarkWSEcho sends a message and waits for its echo, one at a time, to
// a server in another process. An op is one round trip, so allocs/op are the
// client's per message sent and received. Compare with:
//
//	benchstat -col /Impl results.txt
func BenchmarkWSEcho(b *testing.B) {
	url := startEchoProcess(b)
	impls := []struct {
		name string
		run  func(b *testing.B, url string, msg []byte)
	}{
		{"wsclient", echoWSClient},
		{"coder", echoCoder},
		{"gorilla", echoGorilla},
	}
	for _, size := range []int{64, 4096} {
		msg := []byte(strings.Repeat("x", size))
		for _, impl := range impls {
			b.Run(fmt.Sprintf("Size=%d/Impl=%s", size, impl.name), func(b *testing.B) {
				b.SetBytes(int64(size))
				b.ReportAllocs()
				impl.run(b, url, msg)
			})
		}
	}
}

func echoWSClient(b *testing.B, url string, msg []byte) {
	ctx := context.Background()
	c, err := wsclient.New(wsclient.Options{URL: url})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	if err := c.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for range b.N {
		if err := c.Send(ctx, wsclient.MessageBinary, msg); err != nil {
			b.Fatal(err)
		}
		if m, err := c.Recv(ctx); err != nil || len(m.Data) != len(msg) {
			b.Fatalf("Recv = %d bytes, %v", len(m.Data), err)
		}
	}
}

func echoCoder(b *testing.B, url string, msg []byte) {
	ctx := context.Background()
	c, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.CloseNow()
	b.ResetTimer()
	for range b.N {
		if err := c.Write(ctx, websocket.MessageBinary, msg); err != nil {
			b.Fatal(err)
		}
		if _, data, err := c.Read(ctx); err != nil || len(data) != len(msg) {
			b.Fatalf("Read = %d bytes, %v", len(data), err)
		}
	}
}

func echoGorilla(b *testing.B, url string, msg []byte) {
	c, _, err := gorilla.DefaultDialer.Dial(url, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	for range b.N {
		if err := c.WriteMessage(gorilla.BinaryMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, data, err := c.ReadMessage(); err != nil || len(data) != len(msg) {
			b.Fatalf("ReadMessage = %d bytes, %v", len(data), err)
		}
	}
}

// BenchmarkWSReconnect restarts the server cleanly (every connection closed
// with 1012 "service restart", the listener closed and opened again on the
// same port) and times how long the client takes to be connected again. The
// client's first backoff delay is a constant 20ms; overhead-ms is the time
// beyond it: noticing the close, and the new handshake.
func BenchmarkWSReconnect(b *testing.B) {
	srv := newRestartableServer(b)
	const delay = 20 * time.Millisecond
	var connects atomic.Int64 // counted by OnStateChange, in order
	c, err := wsclient.New(wsclient.Options{
		URL:        srv.url(),
		NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(delay) },
		OnStateChange: func(_, to lifecycle.State) {
			if to == lifecycle.StateConnected {
				connects.Add(1)
			}
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	if err := c.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
	waitConnects := func(n int64) {
		deadline := time.Now().Add(10 * time.Second)
		for connects.Load() < n {
			if time.Now().After(deadline) {
				b.Fatalf("no reconnect within 10s (state %v, %+v)", c.State(), c.Stats())
			}
			time.Sleep(50 * time.Microsecond)
		}
	}
	waitConnects(1)
	var total time.Duration
	b.ResetTimer()
	for i := range b.N {
		start := time.Now()
		srv.restart(b)
		waitConnects(int64(i) + 2)
		total += time.Since(start)
	}
	b.ReportMetric(float64(total-time.Duration(b.N)*delay)/float64(b.N)/1e6, "overhead-ms")
}

// restartableServer is an echo server that can be restarted on its port.
type restartableServer struct {
	addr     string
	inflight atomic.Int32 // handlers between their start and registering their connection

	mu    sync.Mutex // protects the fields below
	srv   *http.Server
	conns map[*websocket.Conn]bool
	done  chan struct{}
}

func newRestartableServer(b *testing.B) *restartableServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := &restartableServer{addr: ln.Addr().String(), conns: map[*websocket.Conn]bool{}}
	s.serve(ln)
	b.Cleanup(func() { s.stop() })
	return s
}

func (s *restartableServer) url() string { return "ws://" + s.addr }

func (s *restartableServer) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(s.handle)}
	done := make(chan struct{})
	s.mu.Lock()
	s.srv, s.done = srv, done
	s.mu.Unlock()
	go func() {
		defer close(done)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			panic(err)
		}
	}()
}

func (s *restartableServer) handle(w http.ResponseWriter, r *http.Request) {
	s.inflight.Add(1)
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		s.inflight.Add(-1)
		return
	}
	s.mu.Lock()
	s.conns[c] = true
	s.mu.Unlock()
	s.inflight.Add(-1)
	for {
		if _, _, err := c.Read(context.Background()); err != nil {
			c.CloseNow()
			return
		}
	}
}

// stop closes the listener and every connection, with 1012. The client
// sees its handshake succeed before the handler registers the connection,
// so stop waits for handlers in flight: after srv.Close, a handler that has
// not hijacked its connection yet fails, and one that has registers it.
func (s *restartableServer) stop() {
	s.mu.Lock()
	srv, done := s.srv, s.done
	s.mu.Unlock()
	srv.Close()
	<-done
	for s.inflight.Load() > 0 {
		time.Sleep(10 * time.Microsecond)
	}
	s.mu.Lock()
	conns := s.conns
	s.conns = map[*websocket.Conn]bool{}
	s.mu.Unlock()
	for c := range conns {
		c.Close(websocket.StatusServiceRestart, "restarting")
	}
}

func (s *restartableServer) restart(b *testing.B) {
	s.stop()
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		b.Fatal(err)
	}
	s.serve(ln)
}

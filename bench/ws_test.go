package bench

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/coder/websocket"
	"github.com/connkit/connkit/internal/wsdemo"
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
		{"wsclient-onmessage", echoWSClientOnMessage},
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

// newWSClient returns a client closed at the end of the benchmark.
func newWSClient(b *testing.B, opts wsclient.Options) *wsclient.Client {
	c, err := wsclient.New(opts)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close(context.Background()) })
	return c
}

func connectWSClient(b *testing.B, c *wsclient.Client) {
	if err := c.Connect(context.Background()); err != nil {
		b.Fatal(err)
	}
}

func echoWSClient(b *testing.B, url string, msg []byte) {
	ctx := context.Background()
	c := newWSClient(b, wsclient.Options{URL: url})
	connectWSClient(b, c)
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

// echoWSClientOnMessage receives through Options.OnMessage, which sends the
// next message from the reader goroutine: a client that reacts to each
// message, with no goroutine hand-off per round trip.
func echoWSClientOnMessage(b *testing.B, url string, msg []byte) {
	echoOnMessage(b, url, msg, nil)
}

// echoOnMessage makes b.N echo round trips through a client that receives
// in Options.OnMessage and sends each next message from there. beforeSend,
// when set, runs on the same goroutine before each message is sent.
func echoOnMessage(b *testing.B, url string, msg []byte, beforeSend func() error) {
	ctx := context.Background()
	var (
		c    *wsclient.Client
		n    int
		fail error
		done = make(chan struct{})
	)
	send := func() error {
		if beforeSend != nil {
			if err := beforeSend(); err != nil {
				return err
			}
		}
		return c.Send(ctx, wsclient.MessageBinary, msg)
	}
	c = newWSClient(b, wsclient.Options{URL: url, OnMessage: func(m wsclient.Message) {
		n++
		switch {
		case len(m.Data) != len(msg):
			fail = fmt.Errorf("OnMessage got %d bytes, sent %d", len(m.Data), len(msg))
		case n < b.N:
			if fail = send(); fail == nil {
				return
			}
		}
		close(done)
	}})
	connectWSClient(b, c) // after c is set: the handler uses it
	b.ResetTimer()
	if err := send(); err != nil {
		b.Fatal(err)
	}
	<-done
	b.StopTimer()
	if fail != nil {
		b.Fatal(fail)
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
	srv, err := wsdemo.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer func() { srv.Stop() }() // the current one
	const delay = 20 * time.Millisecond
	states := wsdemo.NewWatcher(nil)
	c, err := wsclient.New(wsclient.Options{
		URL:           "ws://" + srv.Addr(),
		NewBackOff:    func() backoff.BackOff { return backoff.NewConstantBackOff(delay) },
		OnStateChange: states.Changed,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := c.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	if err := states.WaitFor(ctx, lifecycle.StateConnected, 1); err != nil { // delivered in order, after Connect
		b.Fatal(err)
	}
	var total time.Duration
	b.ResetTimer()
	for range b.N {
		connects := states.Count(lifecycle.StateConnected)
		start := time.Now()
		if err := srv.Stop(); err != nil {
			b.Fatal(err)
		}
		if srv, err = wsdemo.Start(srv.Addr()); err != nil {
			b.Fatal(err)
		}
		wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
		err := states.WaitFor(wctx, lifecycle.StateConnected, connects+1)
		wcancel()
		if err != nil {
			b.Fatalf("no reconnect: %v (%+v)", err, c.Stats())
		}
		total += time.Since(start)
	}
	b.ReportMetric(float64(total-time.Duration(b.N)*delay)/float64(b.N)/1e6, "overhead-ms")
}

package bench

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/connkit/connkit/wsclient"
)

// BenchmarkWSEchoPaired times wsclient's echo round trip against raw
// coder/websocket's in the same moments: each op is one round trip through
// wsclient and one through coder (and, for Recv, a third through
// coder-reader), on connections to the same echo server in another
// process, each timed on its own. On a virtual machine
// the loopback round trip drifts between runs (BenchmarkWSEcho's coder runs
// ranged from 50 to 160 µs in one report), which a comparison of separate
// runs cannot tell from a difference between the clients; paired, both
// clients see the same drift. Metrics: wsclient-ns/rt and coder-ns/rt are
// each client's mean round trip, and wsclient/coder their ratio in the run.
// The Recv runs time coder with a reader goroutine too (coder-reader-ns/rt,
// and wsclient/coder-reader).
func BenchmarkWSEchoPaired(b *testing.B) {
	url := startEchoProcess(b)
	for _, size := range []int{64, 4096} {
		msg := []byte(strings.Repeat("x", size))
		b.Run(fmt.Sprintf("Size=%d/Receive=Recv", size), func(b *testing.B) { pairedRecv(b, url, msg) })
		b.Run(fmt.Sprintf("Size=%d/Receive=OnMessage", size), func(b *testing.B) { pairedOnMessage(b, url, msg) })
	}
}

// coderEcho is a raw coder/websocket connection to the echo server.
type coderEcho struct {
	c   *websocket.Conn
	msg []byte
}

func dialCoderEcho(b *testing.B, url string, msg []byte) *coderEcho {
	c, _, err := websocket.Dial(context.Background(), url, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.CloseNow() })
	return &coderEcho{c: c, msg: msg}
}

// roundTrip writes the message and reads its echo, and returns how long
// that took.
func (e *coderEcho) roundTrip(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if err := e.c.Write(ctx, websocket.MessageBinary, e.msg); err != nil {
		return 0, err
	}
	_, data, err := e.c.Read(ctx)
	if err == nil && len(data) != len(e.msg) {
		err = fmt.Errorf("coder read %d bytes, sent %d", len(data), len(e.msg))
	}
	return time.Since(start), err
}

// coderReaderEcho is raw coder/websocket as a client that pings the peer
// must use it when the application takes its messages on a goroutine of
// its own: coder reads a pong only inside a Read, so a goroutine reads all
// the time, and the application takes the messages from a buffered
// channel, as it does from wsclient's Recv. It has no pinger: only the
// reading is measured.
type coderReaderEcho struct {
	c       *websocket.Conn
	msg     []byte
	inbound chan []byte
}

func dialCoderReaderEcho(b *testing.B, url string, msg []byte) *coderReaderEcho {
	c, _, err := websocket.Dial(context.Background(), url, nil)
	if err != nil {
		b.Fatal(err)
	}
	e := &coderReaderEcho{c: c, msg: msg, inbound: make(chan []byte, wsclient.DefaultRecvBuffer)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(e.inbound)
		for {
			_, data, err := c.Read(context.Background())
			if err != nil {
				return
			}
			e.inbound <- data
		}
	}()
	b.Cleanup(func() {
		c.CloseNow()
		<-done
	})
	return e
}

// roundTrip writes the message and takes its echo from the reader
// goroutine, and returns how long that took.
func (e *coderReaderEcho) roundTrip(ctx context.Context) (time.Duration, error) {
	start := time.Now()
	if err := e.c.Write(ctx, websocket.MessageBinary, e.msg); err != nil {
		return 0, err
	}
	select {
	case data, ok := <-e.inbound:
		if !ok {
			return 0, fmt.Errorf("coder reader: connection closed")
		}
		if len(data) != len(e.msg) {
			return 0, fmt.Errorf("coder reader got %d bytes, sent %d", len(data), len(e.msg))
		}
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return time.Since(start), nil
}

// reportPaired reports the two clients' mean round trips and their ratio.
func reportPaired(b *testing.B, ws, coder time.Duration) {
	b.ReportMetric(float64(ws.Nanoseconds())/float64(b.N), "wsclient-ns/rt")
	b.ReportMetric(float64(coder.Nanoseconds())/float64(b.N), "coder-ns/rt")
	b.ReportMetric(float64(ws)/float64(coder), "wsclient/coder")
}

// pairedRecv times three round trips an op: wsclient's with Recv, bare
// coder's, and coder's with a reader goroutine, each op starting with the
// next of the three, so that none always follows the same one.
func pairedRecv(b *testing.B, url string, msg []byte) {
	ctx := context.Background()
	c := newWSClient(b, wsclient.Options{URL: url})
	connectWSClient(b, c)
	raw := dialCoderEcho(b, url, msg)
	reader := dialCoderReaderEcho(b, url, msg)
	var times [3]time.Duration // wsclient, coder, coder-reader
	roundTrips := [3]func() (time.Duration, error){
		func() (time.Duration, error) {
			start := time.Now()
			if err := c.Send(ctx, wsclient.MessageBinary, msg); err != nil {
				return 0, err
			}
			if m, err := c.Recv(ctx); err != nil || len(m.Data) != len(msg) {
				return 0, fmt.Errorf("Recv = %d bytes, %v", len(m.Data), err)
			}
			return time.Since(start), nil
		},
		func() (time.Duration, error) { return raw.roundTrip(ctx) },
		func() (time.Duration, error) { return reader.roundTrip(ctx) },
	}
	b.ResetTimer()
	for i := range b.N {
		for j := range 3 {
			k := (i + j) % 3
			d, err := roundTrips[k]()
			if err != nil {
				b.Fatal(err)
			}
			times[k] += d
		}
	}
	b.StopTimer()
	reportPaired(b, times[0], times[1])
	b.ReportMetric(float64(times[2].Nanoseconds())/float64(b.N), "coder-reader-ns/rt")
	b.ReportMetric(float64(times[0])/float64(times[2]), "wsclient/coder-reader")
}

// pairedOnMessage runs the pairs on wsclient's reader goroutine: before
// each message it sends, the handler ends the timing of the previous echo
// and does coder's round trip, so that neither client's round trip hands a
// message between goroutines.
func pairedOnMessage(b *testing.B, url string, msg []byte) {
	raw := dialCoderEcho(b, url, msg)
	var (
		start     time.Time
		ws, coder time.Duration
	)
	echoOnMessage(b, url, msg, func() error {
		if !start.IsZero() {
			ws += time.Since(start)
		}
		d, err := raw.roundTrip(context.Background())
		coder += d
		start = time.Now()
		return err
	})
	ws += time.Since(start) // the last echo, whose handler sends nothing
	reportPaired(b, ws, coder)
}

package wsclient

import (
	"bufio"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// restartingServer is a WebSocket server on a fixed address that can be
// restarted gracefully: it sends every connection a close frame (1012) and
// keeps reading, recording each message, until the client's close comes
// back; then it closes the listener and opens it again. It speaks the
// protocol itself (RFC 6455, unfragmented frames): coder/websocket's Close
// discards the data frames that arrive during the close handshake, and a
// server that drops what was sent to it cannot tell a client's losses from
// its own.
type restartingServer struct {
	t    *testing.T
	addr string

	mu      sync.Mutex // protects the fields below
	ln      net.Listener
	conns   map[net.Conn]chan struct{} // closed when the connection's reader ended
	got     []int                      // every message, in arrival order
	serving sync.WaitGroup
}

func startRestartingServer(t *testing.T) *restartingServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &restartingServer{t: t, addr: ln.Addr().String(), conns: map[net.Conn]chan struct{}{}}
	s.serve(ln)
	t.Cleanup(s.stop)
	return s
}

func (s *restartingServer) serve(ln net.Listener) {
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	s.serving.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			ended := make(chan struct{})
			s.mu.Lock()
			s.conns[c] = ended
			s.mu.Unlock()
			s.serving.Go(func() {
				defer close(ended)
				defer c.Close()
				s.handle(c)
			})
		}
	})
}

// handle answers the upgrade and records text frames until a close frame.
func (s *restartingServer) handle(c net.Conn) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	for {
		op, payload, err := readFrame(br)
		if err != nil || op == 0x8 {
			return
		}
		if op != 0x1 {
			continue
		}
		n, err := strconv.Atoi(string(payload))
		if err != nil {
			s.t.Errorf("server got %q", payload)
			return
		}
		s.mu.Lock()
		s.got = append(s.got, n)
		s.mu.Unlock()
	}
}

// readFrame reads one client frame (masked, unfragmented).
func readFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, err = io.ReadFull(r, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, err = io.ReadFull(r, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	var mask [4]byte
	if err == nil {
		_, err = io.ReadFull(r, mask[:])
	}
	if err != nil || n > 1<<20 {
		return 0, nil, fmt.Errorf("bad frame: %v", err)
	}
	payload = make([]byte, n)
	if _, err := io.ReadFull(r, payload); err != nil {
		return 0, nil, err
	}
	for i := range payload {
		payload[i] ^= mask[i%4]
	}
	return h[0] & 0x0f, payload, nil
}

// stop closes the listener, sends every connection a close frame 1012, and
// waits until each client answered and its reader recorded everything.
func (s *restartingServer) stop() {
	s.mu.Lock()
	ln, conns := s.ln, s.conns
	s.conns = map[net.Conn]chan struct{}{}
	s.mu.Unlock()
	ln.Close()
	for c, ended := range conns {
		c.Write([]byte{0x88, 2, 0x03, 0xf4}) // close, 1012 service restart
		select {
		case <-ended:
		case <-time.After(5 * time.Second):
			s.t.Error("the client did not answer a close frame within 5s")
			c.Close()
			<-ended
		}
	}
}

func (s *restartingServer) restart() {
	s.stop()
	time.Sleep(2 * time.Millisecond)
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Fatal(err)
	}
	s.serve(ln)
}

func (s *restartingServer) received() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.got...)
}

// TestChaosServerRestarts restarts the server 100 times while a client
// sends numbered messages as fast as it can, each restart once the client
// is back: every Send that returned nil arrived exactly once, everything
// arrived in order, no message whose Send failed arrived, and the client
// connected exactly once per restart.
func TestChaosServerRestarts(t *testing.T) {
	t.Parallel()
	const restarts = 100
	s := startRestartingServer(t)
	c := newClient(t, Options{
		URL:        "ws://" + s.addr,
		NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(2 * time.Millisecond) },
	})
	ctx := testCtx(t)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var sent, failed []int
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err := c.Send(sctx, MessageText, []byte(strconv.Itoa(i)))
			cancel()
			if err == nil {
				sent = append(sent, i)
			} else {
				failed = append(failed, i)
				if errors.Is(err, ErrClosed) {
					t.Errorf("Send %d = %v", i, err)
					return
				}
			}
		}
	})
	for i := range restarts {
		time.Sleep(5 * time.Millisecond) // sends flow on the connection
		before := c.Stats().Connects
		s.restart()
		// The next restart waits for the reconnect, so that each one drops
		// a live connection with sends in flight.
		for deadline := time.Now().Add(10 * time.Second); c.Stats().Connects == before && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if c.Stats().Connects == before {
			t.Errorf("no reconnect within 10s of restart %d", i+1)
			break
		}
	}
	close(stop)
	wg.Wait()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s.stop()
	s.serving.Wait()

	got := s.received()
	seen := make(map[int]bool, len(got))
	for i, n := range got {
		if seen[n] {
			t.Fatalf("message %d arrived twice", n)
		}
		seen[n] = true
		if i > 0 && n < got[i-1] {
			t.Fatalf("message %d arrived after %d", n, got[i-1])
		}
	}
	for _, n := range sent {
		if !seen[n] {
			t.Errorf("Send(%d) returned nil but the message never arrived", n)
		}
	}
	for _, n := range failed {
		if seen[n] {
			t.Errorf("Send(%d) returned an error but the message arrived", n)
		}
	}
	st := c.Stats()
	t.Logf("%d restarts: %d messages sent, %d failed, %d connects", restarts, len(sent), len(failed), st.Connects)
	if st.Connects != restarts+1 {
		t.Errorf("%d connects over %d restarts, want one per restart and the first", st.Connects, restarts)
	}
}

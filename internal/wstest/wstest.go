// Package wstest has the WebSocket test servers that connkit's tests share:
// a server that records numbered messages and restarts gracefully, and the
// pieces of RFC 6455 to write other small servers (Accept, ReadFrame).
//
// They speak the protocol themselves, with no library: coder/websocket's
// Close discards the data frames that arrive during the close handshake, and
// a server that drops what was sent to it cannot tell a client's losses from
// its own.
package wstest

import (
	"bufio"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// Accept reads a WebSocket upgrade request from c and answers it with 101.
// It returns the reader to read the client's frames from.
func Accept(c net.Conn) (*bufio.Reader, error) {
	br := bufio.NewReader(c)
	req, err := http.ReadRequest(br)
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum([]byte(req.Header.Get("Sec-WebSocket-Key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	_, err = fmt.Fprintf(c, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n\r\n",
		base64.StdEncoding.EncodeToString(sum[:]))
	return br, err
}

// ReadFrame reads one client frame (masked, unfragmented, at most 1 MiB)
// and returns its opcode and unmasked payload.
func ReadFrame(r *bufio.Reader) (op byte, payload []byte, err error) {
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

// RecordingServer is a WebSocket server on a fixed loopback address that
// records every text message it receives, each a decimal number, and that
// stops gracefully: it sends every connection a close frame (1012, service
// restart) and keeps reading, recording, until the client's close comes
// back; then it closes the listener. Start listens again on the same
// address.
type RecordingServer struct {
	t    testing.TB
	addr string

	mu      sync.Mutex // protects the fields below
	ln      net.Listener
	conns   map[net.Conn]chan struct{} // closed when the connection's reader ended
	got     []int                      // every message, in arrival order
	serving sync.WaitGroup
}

// StartRecording starts a RecordingServer, stopped when t ends.
func StartRecording(t testing.TB) *RecordingServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &RecordingServer{t: t, addr: ln.Addr().String(), conns: map[net.Conn]chan struct{}{}}
	s.serve(ln)
	t.Cleanup(func() {
		s.Stop()
		s.serving.Wait()
	})
	return s
}

// Addr returns the address the server listens on, while it runs.
func (s *RecordingServer) Addr() string { return s.addr }

func (s *RecordingServer) serve(ln net.Listener) {
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
func (s *RecordingServer) handle(c net.Conn) {
	br, err := Accept(c)
	if err != nil {
		return
	}
	for {
		op, payload, err := ReadFrame(br)
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

// Stop closes the listener, sends every connection a close frame 1012, and
// waits until each client answered and its reader recorded everything. It
// does nothing when the server is stopped.
func (s *RecordingServer) Stop() {
	s.mu.Lock()
	ln, conns := s.ln, s.conns
	s.ln, s.conns = nil, map[net.Conn]chan struct{}{}
	s.mu.Unlock()
	if ln == nil {
		return
	}
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

// Start listens again on the server's address, after Stop.
func (s *RecordingServer) Start() {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		s.t.Errorf("listen again on %s: %v", s.addr, err)
		return
	}
	s.serve(ln)
}

// Restart stops the server and starts it again a moment later.
func (s *RecordingServer) Restart() {
	s.Stop()
	time.Sleep(2 * time.Millisecond)
	s.Start()
}

// Received returns every message received so far, in arrival order.
func (s *RecordingServer) Received() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.got...)
}

// CheckDelivery returns an error naming the first broken promise of an
// at-most-once sender, or nil: every message in sent (its Send returned
// nil) is in got exactly once, got is in order, and nothing in failed (its
// Send returned an error) is in got.
func CheckDelivery(sent, failed, got []int) error {
	seen := make(map[int]bool, len(got))
	for i, n := range got {
		if seen[n] {
			return fmt.Errorf("message %d arrived twice", n)
		}
		seen[n] = true
		if i > 0 && n < got[i-1] {
			return fmt.Errorf("message %d arrived after %d", n, got[i-1])
		}
	}
	for _, n := range sent {
		if !seen[n] {
			return fmt.Errorf("Send(%d) returned nil but the message never arrived", n)
		}
	}
	for _, n := range failed {
		if seen[n] {
			return fmt.Errorf("Send(%d) returned an error but the message arrived", n)
		}
	}
	return nil
}

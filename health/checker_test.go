package health_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/connkit/connkit/health"
	"github.com/connkit/connkit/internal/testenv"
)

func TestTCP(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	c := health.TCP(addr)
	if err := c.Check(testCtx(t)); err != nil {
		t.Fatalf("with a listener: %v", err)
	}
	ln.Close()
	err = health.TCP(testenv.RefusedAddr(t)).Check(testCtx(t)) // the closed port may be taken by a parallel test
	if !errors.Is(err, syscall.ECONNREFUSED) || !strings.HasPrefix(err.Error(), "health: tcp: ") {
		t.Errorf("with no listener: %v; want a refused connect, prefixed", err)
	}
}

func TestConstructorPanics(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name string
		f    func()
		want string
	}{
		{"TCP", func() { health.TCP("") }, "health: TCP called with an empty address"},
		{"Redis", func() { health.Redis(nil) }, "health: Redis called with a nil client"},
		{"SQL", func() { health.SQL(nil) }, "health: SQL called with a nil *sql.DB"},
	} {
		func() {
			defer func() {
				if r := recover(); r != tt.want {
					t.Errorf("%s: panic %v; want %q", tt.name, r, tt.want)
				}
			}()
			tt.f()
		}()
	}
}

// wsServer is a WebSocket server that wants a token in the query and basic
// authentication, and echoes the close handshake.
type wsServer struct {
	*httptest.Server
	token, user, pass string
}

func startWSServer(t *testing.T) *wsServer {
	t.Helper()
	s := &wsServer{token: "ws-token-0a1b2c3d", user: "wsuser", pass: "ws-pass-4e5f6a7b"}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, _ := r.BasicAuth()
		if r.URL.Query().Get("token") != s.token || user != s.user || pass != s.pass {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for { // until the client's close, which Read answers
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// url returns the server's WebSocket URL with the given credentials.
func (s *wsServer) url(user, pass, token string) string {
	return urlAt(strings.TrimPrefix(s.URL, "http://"), user, pass, token)
}

// urlAt returns the WebSocket URL of the server's stream at addr.
func urlAt(addr, user, pass, token string) string {
	return "ws://" + user + ":" + pass + "@" + addr + "/stream?token=" + token
}

func TestWebSocket(t *testing.T) {
	t.Parallel()
	s := startWSServer(t)
	secrets := []string{s.token, s.pass, "wrong-token-99", "wrong-pass-99"}

	if err := health.WebSocket(s.url(s.user, s.pass, s.token)).Check(testCtx(t)); err != nil {
		t.Fatalf("with good credentials: %v", err)
	}
	for _, tt := range []struct {
		name string
		url  string
		want string
	}{
		{"WrongToken", s.url(s.user, s.pass, "wrong-token-99"), "server answered 401 Unauthorized"},
		{"WrongPassword", s.url(s.user, "wrong-pass-99", s.token), "server answered 401 Unauthorized"},
		{"InvalidURL", "ws://u:" + s.pass + "@host:port:bad/?token=" + s.token, "health: websocket: invalid URL"},
		{"BadScheme", "ftp://u:" + s.pass + "@host/?token=" + s.token, `health: websocket: invalid URL: scheme "ftp"`},
		{"NoHost", "ws:///path?token=" + s.token, "health: websocket: invalid URL: no host"},
	} {
		err := health.WebSocket(tt.url).Check(testCtx(t))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want an error with %q", tt.name, err, tt.want)
		}
		if err != nil {
			assertNoSecret(t, tt.name, err.Error(), secrets)
		}
	}

	// Server down: a refusing port, not the server's own once closed,
	// which a parallel test may take (one did, and answered with a reset).
	down := urlAt(testenv.RefusedAddr(t), s.user, s.pass, s.token)
	err := health.WebSocket(down).Check(testCtx(t))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("server down: %v; want a refused connect", err)
	}
	if err != nil {
		assertNoSecret(t, "server down", err.Error(), secrets)
		if !strings.Contains(err.Error(), "ws://REDACTED@127.0.0.1:") && !strings.Contains(err.Error(), "http://REDACTED@127.0.0.1:") {
			t.Errorf("server down: %v; want the URL with its user info redacted", err)
		}
	}
}

// TestWebSocketSilentPeer checks that a check against a server that
// upgrades and then never answers the close frame ends with its context.
func TestWebSocketSilentPeer(t *testing.T) {
	t.Parallel()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		<-done // never reads: the close frame is never answered
		c.CloseNow()
	}))
	defer srv.Close()
	defer close(done)
	ctx, cancel := context.WithTimeout(testCtx(t), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_ = health.WebSocket(srv.URL).Check(ctx) // the upgrade is what counts; the close may fail
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Check took %v with a 200ms context", took)
	}
}

// assertNoSecret fails the test if text holds any of secrets.
func assertNoSecret(t *testing.T, where, text string, secrets []string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s: the secret %q shows in:\n%s", where, s, text)
		}
	}
}

package wsclient

import (
	"context"
	"crypto/tls"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/coder/websocket"
)

// TestTLSIsVerified connects to a server with a self-signed certificate:
// the default client refuses it and gives up at once (retrying cannot make
// the certificate trusted); a client that trusts the server's CA connects.
func TestTLSIsVerified(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.Read(r.Context())
	}))
	t.Cleanup(srv.Close)
	url := "wss://" + strings.TrimPrefix(srv.URL, "https://")

	untrusting := newClient(t, Options{URL: url})
	err := untrusting.Connect(testCtx(t))
	var certErr *tls.CertificateVerificationError
	if !errors.As(err, &certErr) || !strings.Contains(err.Error(), "gave up") {
		t.Fatalf("Connect to a self-signed server = %v, want a certificate error and no retry", err)
	}
	if n := untrusting.Stats().DialErrors; n != 1 {
		t.Errorf("%d attempts against an untrusted certificate, want 1", n)
	}

	trusting := newClient(t, Options{URL: url, HTTPClient: srv.Client()})
	if err := trusting.Connect(testCtx(t)); err != nil {
		t.Fatalf("Connect with the server's CA configured = %v", err)
	}
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	if err := trusting.Send(ctx, MessageText, []byte("over TLS")); err != nil {
		t.Fatal(err)
	}
}

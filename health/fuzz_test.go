package health_test

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/connkit/connkit/health"
)

// FuzzWebSocketURL gives health.WebSocket any URL: it never panics, and its
// check fails (its ctx is already cancelled, so nothing is dialed) with an
// error of its own that never shows the URL's password.
func FuzzWebSocketURL(f *testing.F) {
	for _, u := range []string{"ws://127.0.0.1:1/feed", "wss://user:hunter22@example.com/?token=abc", "ftp://h/",
		"ws://", "://%zz", "ws://[::1", "http://u:p%41ss@h:99999/"} {
		f.Add(u)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := health.WebSocket(raw).Check(ctx)
		if err == nil {
			t.Fatalf("WebSocket(%q).Check with a cancelled ctx = nil", raw)
		}
		if !strings.HasPrefix(err.Error(), "health: websocket: ") {
			t.Fatalf("WebSocket(%q): error without the checker's prefix: %v", raw, err)
		}
		if u, perr := url.Parse(raw); perr == nil {
			// A password that also spells the host or path is shown by
			// them, which are not secret: only the others can be checked.
			pw, ok := u.User.Password()
			public := u.Scheme + u.Host + u.Path + u.Fragment + u.User.Username()
			if ok && len(pw) >= 4 && !strings.Contains(public, pw) && strings.Contains(err.Error(), pw) {
				t.Fatalf("WebSocket(%q): the error shows the password: %v", raw, err)
			}
		}
	})
}

// FuzzMonitorOptions feeds NewMonitor any periods, thresholds and secrets:
// a monitor that closes, or an error naming the option.
func FuzzMonitorOptions(f *testing.F) {
	f.Add(int64(time.Second), int64(time.Second), 2, 3, "hunter22")
	f.Add(int64(-1), int64(-1), -1, -1, "")
	f.Add(int64(0), int64(0), 0, 0, "abc")
	f.Fuzz(func(t *testing.T, period, timeout int64, rise, fall int, secret string) {
		m, err := health.NewMonitor(health.MonitorOptions{
			Period: time.Duration(period), Timeout: time.Duration(timeout),
			Rise: rise, Fall: fall, Secrets: []string{secret},
		})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "health: MonitorOptions.") {
				t.Fatalf("NewMonitor error does not name the option: %v", err)
			}
			return
		}
		m.Close()
	})
}

package wsclient

import (
	"context"
	"net/url"
	"strings"
	"testing"
	"time"
)

// FuzzOptions feeds New any URL and limits: it returns a client that
// closes, or an error that names the option and never echoes the URL's
// password.
func FuzzOptions(f *testing.F) {
	f.Add("ws://example.com/feed", int64(time.Second), 10, int64(1<<20))
	f.Add("wss://user:secret@example.com/?token=abc", int64(-1), -1, int64(-1))
	f.Add("ftp://user:secret@host/", int64(0), 0, int64(0))
	f.Add("://%zz", int64(0), 0, int64(0))
	f.Fuzz(func(t *testing.T, raw string, timeout int64, limit int, readLimit int64) {
		c, err := New(Options{URL: raw, ConnectTimeout: time.Duration(timeout), QueueLimit: limit, ReadLimit: readLimit})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "wsclient: Options.") {
				t.Fatalf("New error does not name the option: %v", err)
			}
			if u, perr := url.Parse(raw); perr == nil {
				if pw, ok := u.User.Password(); ok && len(pw) > 3 && strings.Contains(err.Error(), pw) {
					t.Fatalf("New error shows the URL's password: %v", err)
				}
			}
			return
		}
		if err := c.Close(context.Background()); err != nil {
			t.Fatalf("Close of a client never started: %v", err)
		}
	})
}

package wsclient

import (
	"context"
	"net/url"
	"strconv"
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

// FuzzOptionLimits feeds New every numeric option at once: it returns a
// client that closes, or an error naming the option that is out of range.
func FuzzOptionLimits(f *testing.F) {
	f.Add(int64(time.Second), int64(time.Second), int64(time.Second), int64(time.Second), int64(time.Minute), int64(1<<20), 16, 3)
	f.Add(int64(-1), int64(0), int64(0), int64(0), int64(0), int64(0), 0, 0)
	f.Add(int64(0), int64(0), int64(0), int64(0), int64(0), int64(-1), -1, -1)
	f.Fuzz(func(t *testing.T, ping, pong, write, closeT, stable, queueBytes int64, recvBuffer, maxAttempts int) {
		c, err := New(Options{
			URL:          "ws://127.0.0.1:1/",
			PingInterval: time.Duration(ping), PongTimeout: time.Duration(pong),
			WriteTimeout: time.Duration(write), CloseTimeout: time.Duration(closeT),
			StableAfter: time.Duration(stable), QueueBytes: int(queueBytes),
			RecvBuffer: recvBuffer, MaxAttempts: maxAttempts,
		})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "wsclient: Options.") {
				t.Fatalf("New error does not name the option: %v", err)
			}
			return
		}
		if err := c.Close(context.Background()); err != nil {
			t.Fatalf("Close of a client never started: %v", err)
		}
	})
}

// FuzzRetryAfter feeds retryAfter any header value: the wait is never
// negative and never past maxRetryAfter, and a whole number of seconds
// under a day is taken as it is.
func FuzzRetryAfter(f *testing.F) {
	for _, v := range []string{"", "0", "7", "-5", "86399", "86400", "99999999999999", "soon",
		"Mon, 02 Jan 2006 15:04:05 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"} {
		f.Add(v)
	}
	f.Fuzz(func(t *testing.T, v string) {
		got := retryAfter(v)
		if got < 0 || got > maxRetryAfter {
			t.Fatalf("retryAfter(%q) = %v, want within [0, %v]", v, got, maxRetryAfter)
		}
		if s, err := strconv.ParseInt(v, 10, 64); err == nil && s > 0 && s < 86400 && got != time.Duration(s)*time.Second {
			t.Fatalf("retryAfter(%q) = %v, want %ds", v, got, s)
		}
	})
}

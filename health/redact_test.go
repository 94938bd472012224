package health_test

import (
	"strings"
	"testing"

	"github.com/connkit/connkit/health"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	secrets := []string{"hunter22", "s3cr3t-token", "hunter22-long", "correct horse"}
	tests := []struct {
		name string
		give string
		want string
	}{
		{"Empty", "", ""},
		{"NothingSecret", "dial tcp 127.0.0.1:6379: connect: connection refused", "dial tcp 127.0.0.1:6379: connect: connection refused"},
		{"ConfiguredSecret", "auth failed with hunter22 for user", "auth failed with REDACTED for user"},
		{"LongestSecretFirst", "pw hunter22-long", "pw REDACTED"},
		{"SecretTwice", "hunter22hunter22", "REDACTEDREDACTED"},
		{"SecretBeforePatterns", "password=correct horse", "password=REDACTED"}, // a pattern alone would leave " horse"
		{"URLUserInfo", `Get "https://bob:pw@example.com/x": EOF`, `Get "https://REDACTED@example.com/x": EOF`},
		{"URLUserOnly", "wss://apikeyvalue@example.com/ws", "wss://REDACTED@example.com/ws"},
		{"URLQuery", `dial "ws://127.0.0.1:80/ws?token=abc&x=1": refused`, `dial "ws://127.0.0.1:80/ws?REDACTED": refused`},
		{"URLFragment", "see https://h/p#access_token=xyz", "see https://h/p#REDACTED"},
		{"URLThenColon", "dial ws://h/p?token=abc: EOF", "dial ws://h/p?REDACTED: EOF"},
		{"URLClean", "GET http://127.0.0.1:80/healthz failed", "GET http://127.0.0.1:80/healthz failed"},
		{"URLUnparsable", "bad redis://user:pa%zz@host", "bad redis://REDACTED"},
		{"RedisURL", "redis://:pw@127.0.0.1:6379/0", "redis://REDACTED@127.0.0.1:6379/0"},
		{"DSN", "open connkit:connkit-password@tcp(127.0.0.1:3306)/connkit?parseTime=true: refused",
			"open connkit:REDACTED@tcp(127.0.0.1:3306)/connkit?parseTime=true: refused"},
		{"DSNPasswordWithAt", "root:p@ss@w0rd@tcp(db:3306)/", "root:REDACTED@tcp(db:3306)/"},
		{"DSNNoNetwork", "u:pw@/dbname", "u:REDACTED@/dbname"},
		{"DSNUnix", "u:pw@unix(/tmp/my.sock)/db", "u:REDACTED@unix(/tmp/my.sock)/db"},
		{"Param", "connect failed: password=abc123 host=db", "connect failed: password=REDACTED host=db"},
		{"ParamCase", "API_KEY=xyz;Token=abc,", "API_KEY=REDACTED;Token=REDACTED,"},
		{"MySQLAccessDenied", "Error 1045 (28000): Access denied for user 'connkit'@'localhost' (using password: YES)",
			"Error 1045 (28000): Access denied for user 'connkit'@'localhost' (using password: YES)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := health.Redact(secrets, tt.give); got != tt.want {
				t.Errorf("redact(%q)\n got %q\nwant %q", tt.give, got, tt.want)
			}
		})
	}
}

// FuzzRedact checks that a configured secret never survives redaction,
// wherever it sits in the text and whatever surrounds it.
func FuzzRedact(f *testing.F) {
	f.Add("before ", "hunter22", " after")
	f.Add("ws://u:", "pass", "@h/?t=1")
	f.Add("RED", "ACTED", "ACTED")
	f.Add("", "EDAC", "TED")
	f.Add("xx", "xxxx", "xx")
	f.Add("password=", "DACT", "")
	f.Add("https://", "DACT", "@host/")
	f.Fuzz(func(t *testing.T, before, secret, after string) {
		if len(secret) < 4 {
			return // NewMonitor refuses shorter secrets
		}
		got := health.Redact([]string{secret}, before+secret+after)
		if strings.Contains(got, secret) {
			t.Errorf("redact(%q) = %q: the secret %q is still there", before+secret+after, got, secret)
		}
	})
}

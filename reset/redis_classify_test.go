package reset

import (
	"strings"
	"testing"
)

func TestRedisClassify(t *testing.T) {
	tests := []struct {
		name string
		give []any
		want redisKind
	}{
		{"data", []any{"get", "k"}, redisData},
		{"data upper case", []any{"GET", "k"}, redisData},
		{"long name", []any{"georadiusbymember_ro", "k"}, redisData},
		{"empty", nil, redisData},
		{"not a string", []any{42}, redisData},
		{"swapdb is server-wide", []any{"swapdb", "0", "1"}, redisData},
		{"select", []any{"SELECT", "3"}, redisSetsState},
		{"select as bytes", []any{[]byte("Select"), "3"}, redisSetsState},
		{"hello", []any{"hello", 3}, redisSetsState},
		{"auth", []any{"auth", "pw"}, redisSetsState},
		{"reset", []any{"reset"}, redisSetsState},
		{"readonly", []any{"readonly"}, redisSetsState},
		{"asking", []any{"asking"}, redisSetsState},
		{"multi", []any{"multi"}, redisMultiCmd},
		{"exec", []any{"exec"}, redisEndTx},
		{"discard", []any{"DISCARD"}, redisEndTx},
		{"watch", []any{"watch", "k"}, redisWatchCmd},
		{"unwatch", []any{"unwatch"}, redisUnwatch},
		{"client id", []any{"client", "id"}, redisData},
		{"client info", []any{"CLIENT", "INFO"}, redisData},
		{"client setname", []any{"client", "setname", "x"}, redisSetsState},
		{"client setinfo", []any{"client", "setinfo", "lib-name", "x"}, redisSetsState},
		{"client tracking", []any{"client", "tracking", "on"}, redisSetsState},
		{"client caching", []any{"client", "caching", "yes"}, redisSetsState},
		{"client kill", []any{"client", "kill", "id", "7"}, redisSetsState},
		{"client unknown", []any{"client", "frobnicate"}, redisSetsState},
		{"client alone", []any{"client"}, redisSetsState},
		{"client no-evict", []any{"client", "no-evict", "on"}, redisNoEvictCmd},
		{"client no-touch", []any{"client", "NO-TOUCH", "on"}, redisNoTouchCmd},
		{"client reply on", []any{"client", "reply", "ON"}, redisData},
		{"client reply off", []any{"client", "reply", "off"}, redisUnsafe},
		{"client reply skip", []any{"client", "reply", "skip"}, redisUnsafe},
		{"subscribe", []any{"subscribe", "ch"}, redisUnsafe},
		{"psubscribe", []any{"PSUBSCRIBE", "c*"}, redisUnsafe},
		{"ssubscribe", []any{"ssubscribe", "ch"}, redisUnsafe},
		{"punsubscribe", []any{"punsubscribe"}, redisUnsafe},
		{"monitor", []any{"monitor"}, redisUnsafe},
		{"quit", []any{"quit"}, redisUnsafe},
	}
	for _, tt := range tests {
		if got := redisClassify(tt.give); got != tt.want {
			t.Errorf("%s: redisClassify(%v) = %d; want %d", tt.name, tt.give, got, tt.want)
		}
	}
}

func TestRedisClassifyDoesNotAllocate(t *testing.T) {
	args := []any{"CLIENT", "SETNAME", "x"}
	bargs := []any{[]byte("GET"), "k"}
	if n := testing.AllocsPerRun(100, func() { redisClassify(args); redisClassify(bargs) }); n != 0 {
		t.Errorf("redisClassify allocates %v times", n)
	}
}

// FuzzRedisClassify feeds the command tracker any command and first
// argument: it never panics, reads names without regard to case or to
// string against []byte, and never takes a command that selects a
// database, authenticates or opens a transaction for plain data.
func FuzzRedisClassify(f *testing.F) {
	for _, s := range [][2]string{{"get", "k"}, {"SELECT", "3"}, {"client", "SETNAME"}, {"multi", ""}, {"", ""}, {"ſelect", "1"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, arg string) {
		got := redisClassify([]any{name, arg})
		for _, v := range [][]any{
			{strings.ToUpper(name), strings.ToUpper(arg)},
			{strings.ToLower(name), strings.ToLower(arg)},
			{[]byte(name), []byte(arg)},
		} {
			if isASCII(name) && isASCII(arg) && redisClassify(v) != got {
				t.Fatalf("redisClassify(%q, %q) = %v, but %v as %q", name, arg, got, redisClassify(v), v)
			}
		}
		for _, stateful := range []string{"select", "auth", "hello", "multi", "watch", "reset"} {
			// Redis matches names byte by byte, ASCII case folded: "ſelect"
			// is no command of Redis's, though Unicode folds it to SELECT.
			if isASCII(name) && strings.EqualFold(name, stateful) && got == redisData {
				t.Fatalf("redisClassify(%q, %q) = data", name, arg)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := range len(s) {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

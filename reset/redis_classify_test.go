package reset

import (
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

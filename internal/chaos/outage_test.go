package chaos

import (
	"testing"
	"time"

	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/pool/pooltest"
)

// TestChaosOutage kills Redis, then MariaDB, for 5s under 64 borrowers and
// starts it again on the same port. Every operation checks that its reply
// answers its request; every error is one a caller can act on; dials during
// the outage follow the backoff schedule, not one per borrower; and
// throughput is back to 90% of what it was within the backoff's bound.
func TestChaosOutage(t *testing.T) {
	for _, name := range []string{"redis", "mariadb"} {
		t.Run(name, func(t *testing.T) {
			var b *backend
			if name == "redis" {
				srv := testenv.StartRedis(t, nil)
				b = redisBackend(t, srv, srv.Addr(), nil)
			} else {
				b = mariadbBackend(t, testenv.StartMariaDB(t, nil))
			}
			outage(t, b, 5*time.Second)
		})
	}
}

func outage(t *testing.T, b *backend, down time.Duration) {
	const borrowers = 64
	l := startLoad(t, borrowers, 500*time.Millisecond, b.op, classify)
	time.Sleep(time.Second)
	before := l.rate(time.Now().Add(-700*time.Millisecond), time.Now())
	if before == 0 {
		t.Fatalf("no operation succeeded before the outage: %s", l.summary())
	}

	b.srv.Kill()
	dials0 := b.pool.Stats().Dials
	time.Sleep(down)
	dials := b.pool.Stats().Dials - dials0
	b.srv.Start()
	restarted := time.Now()

	// Recovery is bounded by the longest backoff delay (1s +50%), plus a
	// wave of dials and pings and slack for the race detector on a loaded
	// 2-core CI machine.
	const bound = 1500*time.Millisecond + 3*time.Second
	deadline := restarted.Add(bound + time.Second)
	var back time.Time
	for time.Now().Before(deadline) && back.IsZero() {
		time.Sleep(100 * time.Millisecond)
		back = l.recoveredAt(restarted, before, 0.9)
	}
	l.halt()
	pooltest.VerifyNone(t, b.pool)

	t.Logf("%s: %.0f ops/s before; killed for %v: %d dials (backoff allows %d); back to 90%% after %v; %s",
		b.name, before, down, dials, maxDials(down), back.Sub(restarted).Round(10*time.Millisecond), l.summary())
	if back.IsZero() {
		t.Errorf("throughput not back to 90%% of %.0f ops/s within %v of the restart", before, bound+time.Second)
	} else if took := back.Sub(restarted); took > bound {
		t.Errorf("throughput back to 90%% after %v, want within %v", took, bound)
	}
	if limit := maxDials(down) + 2; dials > int64(limit) {
		t.Errorf("%d dials during a %v outage; the backoff schedule allows %d", dials, down, limit)
	}
	if l.errs["MISMATCH"] != 0 {
		t.Errorf("%d replies did not answer their request: %s", l.errs["MISMATCH"], l.examples["MISMATCH"])
	}
	for _, e := range l.unknownErrors(knownErrors...) {
		t.Errorf("an error a caller cannot act on: %s", e)
	}

}

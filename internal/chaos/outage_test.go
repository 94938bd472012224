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
//
// Throughput is measured against a control: an identical pool, under an
// identical load, in front of a second server that is never touched. On a
// shared 2-core machine running other test packages at the same time, the
// CPU this test gets can halve from one second to the next; both pools see
// the same CPU at the same moment, so the ratio of their throughputs moves
// only with the pool under test.
func TestChaosOutage(t *testing.T) {
	for _, name := range []string{"redis", "mariadb"} {
		t.Run(name, func(t *testing.T) {
			var b, control *backend
			if name == "redis" {
				srv, ctl := testenv.StartRedis(t, nil), testenv.StartRedis(t, nil)
				b, control = redisBackend(t, srv, srv.Addr(), nil), redisBackend(t, ctl, ctl.Addr(), nil)
			} else {
				srv, ctl := testenv.StartMariaDB(t, nil), testenv.StartMariaDB(t, nil)
				b, control = mariadbBackend(t, srv, srv.Addr(), nil), mariadbBackend(t, ctl, ctl.Addr(), nil)
			}
			outage(t, b, control, 5*time.Second)
		})
	}
}

// outageSize is the size of the pools of TestChaosOutage.
const outageSize = 8

func outage(t *testing.T, b, control *backend, down time.Duration) {
	const borrowers = 64
	if size := b.pool.Stats().MaxSize; size != outageSize {
		t.Fatalf("the pool under test holds %d connections, want %d", size, outageSize)
	}
	l := startLoad(t, borrowers, 500*time.Millisecond, b.op, classify)
	c := startLoad(t, borrowers, 500*time.Millisecond, control.op, classify)
	// The share is measured over 2s after a warm-up: over 1s, bursts in
	// which one of the two pools got most of the 2 CPUs set it anywhere
	// from 0.64 to 2.4 (with the same code under both), and recovery to
	// 90% of a lucky 2.4 was chance.
	time.Sleep(3 * time.Second)
	from, to := time.Now().Add(-2*time.Second), time.Now()
	before, ctlBefore := l.rate(from, to), c.rate(from, to)
	if before == 0 || ctlBefore == 0 {
		t.Fatalf("no operation succeeded before the outage: %s; control: %s", l.summary(), c.summary())
	}
	share := before / ctlBefore // the test pool's throughput per unit of the control's

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
		back = l.recoveredAt(restarted, func(from, to time.Time) bool {
			ctl := c.rate(from, to)
			return ctl > 0 && l.rate(from, to) >= 0.9*share*ctl
		})
	}
	l.halt()
	c.halt()
	pooltest.VerifyNone(t, b.pool)

	t.Logf("%s: %.0f ops/s before (control %.0f); killed for %v: %d dials (backoff allows %d); back to 90%% after %v; %s",
		b.name, before, ctlBefore, down, dials, maxOutageDials(down), back.Sub(restarted).Round(10*time.Millisecond), l.summary())
	if back.IsZero() {
		t.Errorf("throughput not back to 90%% of its share of the control's (%.2f) within %v of the restart; per 100ms since the kill: %v, control: %v",
			share, bound+time.Second, l.timeline(restarted.Add(-down)), c.timeline(restarted.Add(-down)))
	} else if took := back.Sub(restarted); took > bound {
		t.Errorf("throughput back to 90%% after %v, want within %v", took, bound)
	}
	if limit := maxOutageDials(down); dials > int64(limit) {
		t.Errorf("%d dials during a %v outage; the backoff schedule allows %d", dials, down, limit)
	}
	l.checkErrors(t, "")
	c.checkErrors(t, "")
	b.owners.check(t, "")
	control.owners.check(t, "control: ")
	if n := c.failures(); n != 0 {
		t.Errorf("the control pool, whose server was never touched, saw %d errors: %s", n, c.summary())
	}
}

// maxOutageDials is the most dials a pool of outageSize may make in an
// outage of d: the first wave, up to one dial per connection, all admitted
// before the first of them fails, then one probe per backoff delay.
func maxOutageDials(d time.Duration) int {
	return outageSize - 1 + maxDials(d)
}

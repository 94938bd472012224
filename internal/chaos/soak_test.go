package chaos

import (
	"context"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"github.com/connkit/connkit/internal/faultproxy"
	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/pool/pooltest"
	"github.com/redis/go-redis/v9"
)

// soakDuration is how long TestSoak runs: CONNKIT_SOAK (a Go duration,
// such as 60s, which .ci/run sets), or 3s.
func soakDuration(t *testing.T) time.Duration {
	v := os.Getenv("CONNKIT_SOAK")
	if v == "" {
		return 3 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("CONNKIT_SOAK=%q: want a positive duration such as 60s", v)
	}
	return d
}

// TestSoak runs Redis and MariaDB pools under load while faults of every
// kind come and go at random: a server killed and restarted, the network
// stalled, slowed or reset. At the end the network heals and both pools
// must serve again; no reply ever answered another request, every error
// was one a caller can act on, nothing is left borrowed, and no goroutine
// (goleak, in TestMain) or descriptor outlives the test.
func TestSoak(t *testing.T) {
	d := soakDuration(t)
	fds, err := pooltest.SnapshotFDs()
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs last: after the pools, clients, proxies
	// and servers of the test are gone.
	t.Cleanup(func() {
		leaked, err := fds.Leaked()
		if err != nil {
			t.Error(err)
		}
		for _, fd := range leaked {
			t.Errorf("descriptor left open: %v", fd)
		}
	})
	seed := uint64(time.Now().UnixNano())
	rng := rand.New(rand.NewPCG(seed, seed))
	t.Logf("soak for %v, seed %d", d, seed)

	rsrv := testenv.StartRedis(t, nil)
	rproxy := faultproxy.Start(t, rsrv.Addr())
	rb := redisBackend(t, rsrv, rproxy.Addr(), func(c *pool.Config[*redis.Conn]) { c.HealthCheckPeriod = 200 * time.Millisecond })
	msrv := testenv.StartMariaDB(t, nil)
	mb := mariadbBackend(t, msrv)
	loads := []*load{
		startLoad(t, 32, 500*time.Millisecond, rb.op, classify),
		startLoad(t, 32, 500*time.Millisecond, mb.op, classify),
	}

	faults := []struct {
		name string
		do   func() (undo func())
	}{
		{"kill redis", func() func() { rsrv.Kill(); return rsrv.Start }},
		{"kill mariadb", func() func() { msrv.Kill(); return msrv.Start }},
		{"stall redis", func() func() {
			rproxy.Blackhole()
			return func() { rproxy.ResetAll(); rproxy.Forward() }
		}},
		{"slow redis", func() func() {
			rproxy.SetLatency(time.Duration(20+rng.IntN(180)) * time.Millisecond)
			return func() { rproxy.SetLatency(0) }
		}},
		{"reset redis connections", func() func() { rproxy.ResetAll(); return func() {} }},
	}
	counts := map[string]int{}
	for end := time.Now().Add(d); time.Now().Before(end); {
		f := faults[rng.IntN(len(faults))]
		counts[f.name]++
		undo := f.do()
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		undo()
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
	}

	// Healed: both pools serve again within the backoff bound.
	for _, b := range []*backend{rb, mb} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		var err error
		for {
			if _, err = b.op(ctx, 0); err == nil || !lifecycle.Sleep(ctx, 50*time.Millisecond) {
				break
			}
		}
		cancel()
		if err != nil {
			t.Errorf("%s does not serve 5s after the faults ended: %v", b.name, err)
		}
	}
	for i, l := range loads {
		l.halt()
		b := []*backend{rb, mb}[i]
		t.Logf("%s: %s", b.name, l.summary())
		l.checkErrors(t, b.name+": ")
		pooltest.VerifyNone(t, b.pool)
	}
	t.Logf("faults: %v", counts)
}

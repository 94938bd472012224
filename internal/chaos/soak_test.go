package chaos

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/connkit/connkit/internal/faultproxy"
	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/internal/wstest"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/pool/pooltest"
	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
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

// soakOpTimeout bounds each operation of the soak's borrowers.
const soakOpTimeout = 500 * time.Millisecond

// TestSoak runs the five chaos scenarios at once, at random (seeded; the
// seed is logged), for soakDuration:
//
//  1. Redis and MariaDB, each under 32 borrowers, killed and restarted;
//  2. the network to either stalled (the proxy holds every byte);
//  3. the network to either slowed, so that acquires time out with the
//     pool's state in their message, and every borrow checks that no one
//     else holds its connection;
//  4. bursts of acquires with deadlines of 0 to 5ms on a small pool with
//     slow dials, whose Stats must balance at the end;
//  5. a WebSocket server restarted while a client sends numbered messages:
//     every Send that returned nil arrived exactly once and in order, and no
//     failed Send arrived.
//
// The network to either backend is also reset now and then. At the end
// the network heals and everything must serve again; no reply ever answered
// another request; every error was one a caller can act on; no operation
// outlived its timeout; nothing is left borrowed; and no goroutine or
// descriptor outlives the test. The summary goes to the log and to stderr.
func TestSoak(t *testing.T) {
	d := soakDuration(t)
	checkBaselines(t)
	seed := uint64(time.Now().UnixNano())
	t.Logf("soak for %v, seed %d", d, seed)
	r := startSoakRig(t)

	tracksCtx, stop := context.WithCancel(context.Background())
	var tracks sync.WaitGroup
	tracks.Go(func() { r.restartWS(tracksCtx, rand.New(rand.NewPCG(seed, 1))) })
	tracks.Go(func() { r.storms(tracksCtx, rand.New(rand.NewPCG(seed, 2))) })
	r.backendFaults(rand.New(rand.NewPCG(seed, 3)), time.Now().Add(d))
	stop()
	tracks.Wait()

	r.healed(t)
	r.check(t)
	r.report(t, d, seed)
}

// checkBaselines snapshots the goroutines and descriptors now and, when
// the test ends, after everything the test started is gone, fails it for
// any left over. It must be called before anything registers a cleanup.
func checkBaselines(t *testing.T) {
	fds, err := pooltest.SnapshotFDs()
	if err != nil {
		t.Fatal(err)
	}
	goroutines := goleak.IgnoreCurrent()
	t.Cleanup(func() {
		if err := goleak.Find(goroutines); err != nil {
			t.Errorf("goroutines left running: %v", err)
		}
		leaked, err := fds.Leaked()
		if err != nil {
			t.Error(err)
		}
		for _, fd := range leaked {
			t.Errorf("descriptor left open: %v", fd)
		}
	})
}

// soakRig is what the soak runs and breaks: two backends behind fault
// proxies under load, a storm pool, and a WebSocket client and server.
type soakRig struct {
	rsrv           *testenv.Redis
	msrv           *testenv.MariaDB
	rproxy, mproxy *faultproxy.Proxy
	backends       []*backend // redis, mariadb
	loads          []*load    // one per backend
	storm          *storm
	ws             *wstest.RecordingServer
	feed           *wsFeed

	mu     sync.Mutex // protects faults
	faults map[string]int
}

func startSoakRig(t *testing.T) *soakRig {
	r := &soakRig{faults: map[string]int{}}
	r.rsrv = testenv.StartRedis(t, nil)
	r.rproxy = faultproxy.Start(t, r.rsrv.Addr())
	r.msrv = testenv.StartMariaDB(t, nil)
	r.mproxy = faultproxy.Start(t, r.msrv.Addr())
	r.backends = []*backend{
		redisBackend(t, r.rsrv, r.rproxy.Addr(), func(c *pool.Config[*redis.Conn]) { c.HealthCheckPeriod = 200 * time.Millisecond }),
		mariadbBackend(t, r.msrv, r.mproxy.Addr(), nil),
	}
	for _, b := range r.backends {
		r.loads = append(r.loads, startLoad(t, 32, soakOpTimeout, b.op, classify))
	}
	r.storm = newStorm(t, r.rsrv, r.rproxy.Addr())
	r.ws = wstest.StartRecording(t)
	r.feed = startWSFeed(t, r.ws.Addr())
	return r
}

func (r *soakRig) count(fault string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.faults[fault]++
}

// backendFaults breaks Redis or MariaDB, one fault at a time, until end:
// each fault lasts 0.2 to 1.5s, with 0.2 to 1s between faults.
func (r *soakRig) backendFaults(rng *rand.Rand, end time.Time) {
	type fault struct {
		name string
		do   func() (undo func())
	}
	var faults []fault
	for _, x := range []struct {
		name string
		srv  interface {
			Kill()
			Start()
		}
		proxy *faultproxy.Proxy
	}{{"redis", r.rsrv, r.rproxy}, {"mariadb", r.msrv, r.mproxy}} {
		faults = append(faults,
			fault{"kill " + x.name, func() func() { x.srv.Kill(); return x.srv.Start }},
			fault{"stall " + x.name, func() func() {
				x.proxy.Blackhole()
				return func() { x.proxy.ResetAll(); x.proxy.Forward() }
			}},
			fault{"slow " + x.name, func() func() {
				x.proxy.SetLatency(time.Duration(20+rng.IntN(180)) * time.Millisecond)
				return func() { x.proxy.SetLatency(0) }
			}},
			fault{"reset " + x.name, func() func() { x.proxy.ResetAll(); return func() {} }},
		)
	}
	for time.Now().Before(end) {
		f := faults[rng.IntN(len(faults))]
		r.count(f.name)
		undo := f.do()
		time.Sleep(time.Duration(200+rng.IntN(1300)) * time.Millisecond)
		undo()
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
	}
}

// restartWS restarts the WebSocket server every 0.1 to 0.7s, down for 2 to
// 100ms each time, until ctx ends.
func (r *soakRig) restartWS(ctx context.Context, rng *rand.Rand) {
	for lifecycle.Sleep(ctx, time.Duration(100+rng.IntN(600))*time.Millisecond) {
		r.count("restart ws")
		r.ws.Stop()
		time.Sleep(time.Duration(2+rng.IntN(98)) * time.Millisecond)
		r.ws.Start()
	}
}

// storms runs a burst of 256 acquires from 16 goroutines every 0.2 to 1s,
// until ctx ends.
func (r *soakRig) storms(ctx context.Context, rng *rand.Rand) {
	for lifecycle.Sleep(ctx, time.Duration(200+rng.IntN(800))*time.Millisecond) {
		r.storm.burst(256, 16)
	}
}

// healed fails t unless, the faults over, both pools, the storm pool and
// the WebSocket client serve again within 5s.
func (r *soakRig) healed(t *testing.T) {
	const within = 5 * time.Second
	for _, b := range r.backends {
		ctx, cancel := context.WithTimeout(context.Background(), within)
		var err error
		for {
			if _, err = b.op(ctx, 0); err == nil || !lifecycle.Sleep(ctx, 50*time.Millisecond) {
				break
			}
		}
		cancel()
		if err != nil {
			t.Errorf("%s does not serve %v after the faults ended: %v", b.name, within, err)
		}
	}
	if err := r.storm.serves(within); err != nil {
		t.Errorf("storm does not serve %v after the faults ended: %v", within, err)
	}
	for _, l := range r.loads {
		l.halt()
	}
	r.feed.finish(t, within)
	r.ws.Stop()
}

// check runs the soak's assertions; everything must be halted.
func (r *soakRig) check(t *testing.T) {
	for i, b := range r.backends {
		l := r.loads[i]
		l.checkErrors(t, b.name+": ")
		b.owners.check(t, b.name+": ")
		if slow := l.slowest; slow > soakOpTimeout+time.Second {
			t.Errorf("%s: an operation took %v, past its %v timeout", b.name, slow, soakOpTimeout)
		}
		pooltest.VerifyNone(t, b.pool)
	}
	r.storm.check(t)
	pooltest.VerifyNone(t, r.storm.p)
	r.feed.check(t, r.ws.Received())
	restarts := r.faults["restart ws"]
	if st := r.feed.c.Stats(); st.Connects < int64(restarts/2) {
		t.Errorf("ws: %d connects over %d restarts", st.Connects, restarts)
	}
}

// report logs the soak's summary: .ci/run runs the soak with -v, which
// shows it.
func (r *soakRig) report(t *testing.T, d time.Duration, seed uint64) {
	var faults []string
	for _, k := range slices.Sorted(maps.Keys(r.faults)) {
		faults = append(faults, fmt.Sprintf("%s=%d", k, r.faults[k]))
	}
	st := r.feed.c.Stats()
	lines := []string{
		fmt.Sprintf("soak %v (seed %d): faults: %s", d, seed, strings.Join(faults, ", ")),
		fmt.Sprintf("  redis:   %s", r.loads[0].summary()),
		fmt.Sprintf("  mariadb: %s", r.loads[1].summary()),
		fmt.Sprintf("  storm:   %s", r.storm.summary()),
		fmt.Sprintf("  ws:      %s slowest Send=%v; %d arrived; %d connects",
			r.feed.tally.counts(), r.feed.tally.slowest.Round(time.Millisecond), len(r.ws.Received()), st.Connects),
		fmt.Sprintf("  total:   %s", combine(slices.Concat(r.loads, []*load{r.storm.tally, r.feed.tally})...).summary()),
	}
	for _, l := range lines {
		t.Log(l)
	}
}

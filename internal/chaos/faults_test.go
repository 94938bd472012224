package chaos

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/coder/websocket"
	"github.com/connkit/connkit/internal/faultproxy"
	"github.com/connkit/connkit/internal/testenv"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/pool/pooltest"
	"github.com/connkit/connkit/wsclient"
	"github.com/redis/go-redis/v9"
)

// TestChaosBlackhole stalls the network for 10s (the proxy stops
// forwarding; connections stay open) under a Redis pool in load and a
// wsclient: no operation outlives its timeout, pings find the dead
// connections and the pool destroys them, the client notices within
// PingInterval + PongTimeout, and both recover once the network is back.
func TestChaosBlackhole(t *testing.T) {
	srv := testenv.StartRedis(t, nil)
	rp := faultproxy.Start(t, srv.Addr())
	b := redisBackend(t, srv, rp.Addr(), func(c *pool.Config[*redis.Conn]) {
		c.HealthCheckPeriod = 200 * time.Millisecond
	})

	ws := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		for {
			if _, _, err := c.Read(r.Context()); err != nil {
				return
			}
		}
	}))
	t.Cleanup(ws.Close)
	wp := faultproxy.Start(t, strings.TrimPrefix(ws.URL, "http://"))
	const pingInterval, pongTimeout = 200 * time.Millisecond, 200 * time.Millisecond
	client, err := wsclient.New(wsclient.Options{
		URL: "ws://" + wp.Addr(), PingInterval: pingInterval, PongTimeout: pongTimeout,
		ConnectTimeout: 500 * time.Millisecond,
		NewBackOff:     func() backoff.BackOff { return backoff.NewConstantBackOff(100 * time.Millisecond) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close(context.Background()) })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		t.Fatal(err)
	}

	const opTimeout = 500 * time.Millisecond
	l := startLoad(t, 16, opTimeout, b.op, classify)
	time.Sleep(500 * time.Millisecond)
	before := l.rate(time.Now().Add(-300*time.Millisecond), time.Now())
	destroyed0 := b.pool.Stats().Destroyed

	rp.Blackhole()
	wp.Blackhole()
	stalled := time.Now()
	for client.State() == lifecycle.StateConnected && time.Since(stalled) < 5*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	noticed := time.Since(stalled)
	time.Sleep(10*time.Second - noticed)
	d := b.pool.Stats().Destroyed
	evicted := d.Ping + d.Broken - destroyed0.Ping - destroyed0.Broken

	rp.ResetAll() // the stall killed the connections it held
	wp.ResetAll()
	rp.Forward()
	wp.Forward()
	healed := time.Now()
	var back time.Time
	for time.Since(healed) < 5*time.Second && back.IsZero() {
		time.Sleep(100 * time.Millisecond)
		// Serving again; the outage test measures throughput.
		back = l.recoveredAt(healed, func(from, to time.Time) bool { return l.rate(from, to) >= 0.05*before })
	}
	l.halt()
	pooltest.VerifyNone(t, b.pool)
	sendErr := client.Send(ctx, wsclient.MessageText, []byte("after the stall"))

	t.Logf("blackhole 10s: client noticed after %v; pool destroyed %d connections; Redis serving again after %v; %s",
		noticed.Round(time.Millisecond), evicted, back.Sub(healed).Round(10*time.Millisecond), l.summary())
	if limit := pingInterval + pongTimeout + time.Second; noticed > limit {
		t.Errorf("the client noticed the stall after %v, want within %v", noticed, limit)
	}
	if evicted == 0 {
		t.Error("no connection destroyed during the stall: pings did not find them dead")
	}
	if slow := l.slowest; slow > opTimeout+time.Second {
		t.Errorf("an operation took %v, past its %v timeout", slow, opTimeout)
	}
	if back.IsZero() {
		t.Errorf("Redis not serving again within 5s of the network healing")
	}
	if sendErr != nil {
		t.Errorf("Send after the stall = %v", sendErr)
	}
	l.checkErrors(t, "")
}

// TestChaosLatency adds 200ms each way under 32 borrowers of a pool of 4
// with a 300ms AcquireTimeout: acquires time out with the pool's state in
// their message, and no connection is ever held by two borrowers.
func TestChaosLatency(t *testing.T) {
	srv := testenv.StartRedis(t, nil)
	rp := faultproxy.Start(t, srv.Addr())
	b := redisBackend(t, srv, rp.Addr(), func(c *pool.Config[*redis.Conn]) {
		c.MaxSize, c.MinIdle, c.AcquireTimeout = 4, 4, 300*time.Millisecond
		c.PingAfterIdle = time.Minute // pings would only add round trips here
	})
	p := b.pool.(*pool.Pool[*redis.Conn])
	var owners sync.Map // *redis.Conn → *atomic.Int64: the worker holding it, or 0
	var doubles atomic.Int64
	op := func(ctx context.Context, w int) (time.Duration, error) {
		began := time.Now()
		c, err := p.Acquire(ctx)
		if err != nil {
			return 0, err
		}
		wait := time.Since(began)
		o, _ := owners.LoadOrStore(c.Value(), new(atomic.Int64))
		if !o.(*atomic.Int64).CompareAndSwap(0, int64(w+1)) {
			doubles.Add(1)
		}
		err = c.Value().Ping(ctx).Err()
		o.(*atomic.Int64).Store(0)
		if err != nil {
			c.Destroy()
		} else {
			c.Release()
		}
		return wait, err
	}
	for p.Stats().Idle < 4 { // dialed before the latency: the test is about borrowing
		time.Sleep(10 * time.Millisecond)
	}
	rp.SetLatency(200 * time.Millisecond)
	l := startLoad(t, 32, 2*time.Second, op, classify)
	time.Sleep(3 * time.Second)
	l.halt()
	pooltest.VerifyNone(t, p)

	t.Logf("latency 200ms each way: %s", l.summary())
	if n := doubles.Load(); n != 0 {
		t.Errorf("%d times a connection was handed to a second borrower while held", n)
	}
	if l.errs["acquire-timeout"] == 0 {
		t.Errorf("no acquire timed out with 32 borrowers on 4 connections of 400ms round trips")
	}
	if ex := l.examples["acquire-timeout"]; !strings.Contains(ex, `pool "redis"`) || !strings.Contains(ex, "borrowed 4") {
		t.Errorf("acquire timeout message without the pool's state: %s", ex)
	}
	for _, e := range l.unknownErrors(knownErrors...) {
		t.Errorf("an error a caller cannot act on: %s", e)
	}
}

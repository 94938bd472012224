package chaos

import (
	"context"
	"database/sql"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
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

// TestChaosBlackhole stalls the network for 10s (the proxies stop
// forwarding; connections stay open) under Redis and MariaDB pools in load,
// an idle pool of each, and two wsclients; then the stalled connections are
// reset and forwarding resumes. Pings time out: the idle pools' sweeps find
// their stalled connections dead, every failed ping failing by its timeout,
// and destroy them. No operation, ping, Send or Close outlives its timeout;
// the client notices the stall within PingInterval + PongTimeout; and
// everything serves again once the network is back.
func TestChaosBlackhole(t *testing.T) {
	const stall = 10 * time.Second
	sides := []*stallSide{redisStallSide(t), mariadbStallSide(t)}
	ws := newStallWS(t)
	for _, s := range sides {
		s.warm(t)
	}

	for _, s := range sides {
		s.startStall()
	}
	ws.proxy.Blackhole()
	stalled := time.Now()
	ws.duringStall(t, stalled)
	time.Sleep(stall - time.Since(stalled))
	for _, s := range sides {
		s.endStall()
	}
	ws.proxy.ResetAll()
	ws.proxy.Forward()
	healed := time.Now()

	for _, s := range sides {
		s.recover(healed)
	}
	ws.afterStall(t)
	for _, s := range sides {
		s.check(t, healed)
	}
}

// stallSide is one backend of TestChaosBlackhole behind its proxy: a pool
// under 16 borrowers, and an idle pool of 4 that no one borrows from, so
// that its sweep (every 200ms, a ping after 100ms idle, 200ms per ping)
// meets the stall.
type stallSide struct {
	name    string
	proxy   *faultproxy.Proxy
	b, idle *backend
	pings   pingWatch // the idle pool's
	l       *load
	before  float64 // ops/s before the stall

	destroyed0, idle0 pool.DestroyStats // at the start of the stall
	// During the stall:
	evicted                  int64 // by the loaded pool: failed pings and broken borrows
	pingKills                int64 // by the idle pool: failed pings
	pingTimeouts, pingOthers int64 // the idle pool's failed pings, by cause
	// After it:
	back    time.Time // the loaded pool serving at 5% of its rate before
	idleErr error     // the idle pool's first op after the heal
}

const (
	stallOpTimeout = 500 * time.Millisecond
	stallIdleSize  = 4
)

func redisStallSide(t *testing.T) *stallSide {
	srv := testenv.StartRedis(t, nil)
	s := &stallSide{name: "redis", proxy: faultproxy.Start(t, srv.Addr())}
	s.b = redisBackend(t, srv, s.proxy.Addr(), func(c *pool.Config[*redis.Conn]) { c.HealthCheckPeriod = 200 * time.Millisecond })
	s.idle = redisBackend(t, srv, s.proxy.Addr(), func(c *pool.Config[*redis.Conn]) { idleConfig(c, &s.pings) })
	return s
}

func mariadbStallSide(t *testing.T) *stallSide {
	srv := testenv.StartMariaDB(t, nil)
	s := &stallSide{name: "mariadb", proxy: faultproxy.Start(t, srv.Addr())}
	s.b = mariadbBackend(t, srv, s.proxy.Addr(), func(c *pool.Config[*sql.Conn]) { c.HealthCheckPeriod = 200 * time.Millisecond })
	s.idle = mariadbBackend(t, srv, s.proxy.Addr(), func(c *pool.Config[*sql.Conn]) { idleConfig(c, &s.pings) })
	return s
}

// idleConfig makes cfg an idle pool of stallIdleSize connections, swept
// every 200ms, whose pings w watches.
func idleConfig[T any](cfg *pool.Config[T], w *pingWatch) {
	cfg.Name += "-idle"
	cfg.MaxSize, cfg.MinIdle, cfg.HealthCheckPeriod = stallIdleSize, stallIdleSize, 200*time.Millisecond
	ping := cfg.Ping
	cfg.Ping = func(ctx context.Context, v T) error {
		began := time.Now()
		err := ping(ctx, v)
		w.record(time.Since(began), err)
		return err
	}
}

// pingWatch counts a pool's failed pings by cause and keeps the longest
// ping.
type pingWatch struct {
	timeouts, others atomic.Int64
	longest          atomic.Int64 // a time.Duration
	example          atomic.Value // string: the first ping error not a timeout
}

func (w *pingWatch) record(took time.Duration, err error) {
	for l := w.longest.Load(); int64(took) > l && !w.longest.CompareAndSwap(l, int64(took)); l = w.longest.Load() {
	}
	var ne net.Error
	switch {
	case err == nil:
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		w.timeouts.Add(1)
	default:
		w.others.Add(1)
		w.example.CompareAndSwap(nil, err.Error())
	}
}

// warm starts the load, waits until the idle pool holds its connections,
// and measures the rate before the stall.
func (s *stallSide) warm(t *testing.T) {
	s.l = startLoad(t, 16, stallOpTimeout, s.b.op, classify)
	for deadline := time.Now().Add(5 * time.Second); s.idle.pool.Stats().Idle < stallIdleSize; {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the idle pool holds %d connections after 5s, want %d", s.name, s.idle.pool.Stats().Idle, stallIdleSize)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	if s.before = s.l.rate(time.Now().Add(-300*time.Millisecond), time.Now()); s.before == 0 {
		t.Fatalf("%s: no operation succeeded in the 300ms before the stall: %s; %s", s.name, s.l.summary(), s.l.firstErrors())
	}
}

func (s *stallSide) startStall() {
	s.destroyed0, s.idle0 = s.b.pool.Stats().Destroyed, s.idle.pool.Stats().Destroyed
	s.pings.timeouts.Store(0)
	s.pings.others.Store(0)
	s.proxy.Blackhole()
}

// endStall takes the stall's figures, then resets the stalled connections
// (the stall killed them) and forwards again.
func (s *stallSide) endStall() {
	d, i := s.b.pool.Stats().Destroyed, s.idle.pool.Stats().Destroyed
	s.evicted = d.Ping + d.Broken - s.destroyed0.Ping - s.destroyed0.Broken
	s.pingKills = i.Ping - s.idle0.Ping
	s.pingTimeouts, s.pingOthers = s.pings.timeouts.Load(), s.pings.others.Load()
	s.proxy.ResetAll()
	s.proxy.Forward()
}

// recover waits up to 5s for the loaded pool to serve again, then halts
// its load and checks that the idle pool serves too.
func (s *stallSide) recover(healed time.Time) {
	for time.Since(healed) < 5*time.Second && s.back.IsZero() {
		time.Sleep(100 * time.Millisecond)
		// Serving again; the outage test measures throughput.
		s.back = s.l.recoveredAt(healed, func(from, to time.Time) bool { return s.l.rate(from, to) >= 0.05*s.before })
	}
	s.l.halt()
	ctx, cancel := context.WithTimeout(context.Background(), time.Until(healed.Add(5*time.Second))+time.Second)
	defer cancel()
	for {
		if _, s.idleErr = s.idle.op(ctx, 0); s.idleErr == nil || !lifecycle.Sleep(ctx, 50*time.Millisecond) {
			return
		}
	}
}

func (s *stallSide) check(t *testing.T, healed time.Time) {
	pooltest.VerifyNone(t, s.b.pool, s.idle.pool)
	t.Logf("%s: during the stall the loaded pool destroyed %d connections, the idle pool %d after failed pings (%d pings timed out, %d failed otherwise; longest ping %v); serving again after %v; %s",
		s.name, s.evicted, s.pingKills, s.pingTimeouts, s.pingOthers, time.Duration(s.pings.longest.Load()).Round(time.Millisecond),
		s.back.Sub(healed).Round(10*time.Millisecond), s.l.summary())
	if s.evicted == 0 {
		t.Errorf("%s: the loaded pool destroyed no connection during the stall", s.name)
	}
	if s.pingKills == 0 || s.pingTimeouts == 0 {
		t.Errorf("%s: no ping timed out during the stall (idle pool: %d destroyed after failed pings, %d pings timed out)", s.name, s.pingKills, s.pingTimeouts)
	}
	if s.pingOthers != 0 {
		t.Errorf("%s: %d pings failed during the stall other than by timing out: %v", s.name, s.pingOthers, s.pings.example.Load())
	}
	if longest := time.Duration(s.pings.longest.Load()); longest > chaosPingTimeout+callSlack {
		t.Errorf("%s: a ping took %v, past its %v timeout", s.name, longest, chaosPingTimeout)
	}
	if slow := s.l.slowest; slow > stallOpTimeout+time.Second {
		t.Errorf("%s: an operation took %v, past its %v timeout", s.name, slow, stallOpTimeout)
	}
	if s.back.IsZero() {
		t.Errorf("%s: not serving again within 5s of the network healing", s.name)
	}
	if s.idleErr != nil {
		t.Errorf("%s: the idle pool does not serve after the heal: %v", s.name, s.idleErr)
	}
	s.l.checkErrors(t, s.name+": ")
	s.b.owners.check(t, s.name+": ")
}

// stallWS is the WebSocket side of TestChaosBlackhole: a server behind a
// proxy, a client that stays, and one closed during the stall.
type stallWS struct {
	proxy          *faultproxy.Proxy
	client, closer *wsclient.Client
	noticed        time.Duration // after the stall began, the client left StateConnected
	send, close    time.Duration // how long Send and the closer's Close took during the stall
}

const (
	wsPingInterval, wsPongTimeout = 200 * time.Millisecond, 200 * time.Millisecond
	wsStallWrite, wsStallClose    = 500 * time.Millisecond, 300 * time.Millisecond
	wsStallSend                   = 300 * time.Millisecond // a Send's ctx
	callSlack                     = time.Second            // for the race detector on 2 shared cores
)

func newStallWS(t *testing.T) *stallWS {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
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
	t.Cleanup(srv.Close)
	ws := &stallWS{proxy: faultproxy.Start(t, strings.TrimPrefix(srv.URL, "http://"))}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []**wsclient.Client{&ws.client, &ws.closer} {
		client, err := wsclient.New(wsclient.Options{
			URL: "ws://" + ws.proxy.Addr(), PingInterval: wsPingInterval, PongTimeout: wsPongTimeout,
			ConnectTimeout: 500 * time.Millisecond, WriteTimeout: wsStallWrite, CloseTimeout: wsStallClose,
			NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(100 * time.Millisecond) },
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { client.Close(context.Background()) })
		if err := client.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		*c = client
	}
	return ws
}

// duringStall closes one client as the stall begins, waits for the other
// to notice the stall, and sends through it: each call must return within
// its timeout and slack.
func (ws *stallWS) duringStall(t *testing.T, stalled time.Time) {
	closed := make(chan time.Duration, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		began := time.Now()
		ws.closer.Close(ctx) // the close handshake gets no answer
		closed <- time.Since(began)
	}()
	for ws.client.State() == lifecycle.StateConnected && time.Since(stalled) < 5*time.Second {
		time.Sleep(5 * time.Millisecond)
	}
	ws.noticed = time.Since(stalled)
	if limit := wsPingInterval + wsPongTimeout + callSlack; ws.noticed > limit {
		t.Errorf("the client noticed the stall after %v, want within %v", ws.noticed, limit)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wsStallSend)
	defer cancel()
	began := time.Now()
	err := ws.client.Send(ctx, wsclient.MessageText, []byte("during the stall"))
	ws.send = time.Since(began)
	if bound := wsStallSend + wsStallWrite + callSlack; ws.send > bound {
		t.Errorf("Send during the stall returned after %v, want within %v", ws.send, bound)
	}
	if err == nil {
		t.Error("Send during the stall = nil: nothing can reach the server")
	}
	if ws.close = <-closed; ws.close > wsStallClose+callSlack {
		t.Errorf("Close during the stall returned after %v, want within CloseTimeout %v + %v", ws.close, wsStallClose, callSlack)
	}
}

// afterStall sends through the client and closes it: both must succeed
// within their timeouts and slack.
func (ws *stallWS) afterStall(t *testing.T) {
	const within = 5 * time.Second
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := ws.client.Send(ctx, wsclient.MessageText, []byte("after the stall")); err != nil {
		t.Errorf("Send after the stall = %v (bounded by %v)", err, within)
	}
	began := time.Now()
	if err := ws.client.Close(ctx); err != nil {
		t.Errorf("Close after the stall = %v", err)
	}
	if took, bound := time.Since(began), wsStallClose+callSlack; took > bound {
		t.Errorf("Close after the stall returned after %v, want within %v", took, bound)
	}
	t.Logf("ws: the client noticed the stall after %v; during it, Send returned after %v (ctx %v) and Close after %v (CloseTimeout %v)",
		ws.noticed.Round(time.Millisecond), ws.send.Round(time.Millisecond), wsStallSend, ws.close.Round(time.Millisecond), wsStallClose)
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
	op := func(ctx context.Context, w int) (time.Duration, error) {
		began := time.Now()
		c, err := p.Acquire(ctx)
		wait := time.Since(began)
		if err != nil {
			return wait, err
		}
		unclaim := b.owners.claim(c.Value())
		err = c.Value().Ping(ctx).Err()
		unclaim()
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
	b.owners.check(t, "")
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

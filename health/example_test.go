package health_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"

	"github.com/connkit/connkit/health"
	"github.com/connkit/connkit/pool"
)

// A Monitor with a required and an optional check, served over HTTP and
// exported to Prometheus. Check runs the checks once at startup, so the
// endpoint does not answer 503 until the first tick.
func ExampleMonitor() {
	m, err := health.NewMonitor(health.MonitorOptions{
		Period:  5 * time.Second,
		Timeout: time.Second,
		Secrets: []string{"cache-password"}, // never shown, even if an error quotes it
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()

	db := health.CheckerFunc(func(ctx context.Context) error { return nil }) // health.SQL(db) in a service
	cache := health.CheckerFunc(func(ctx context.Context) error {
		return errors.New("AUTH cache-password: connection refused")
	})
	_ = m.Add("db", db)
	_ = m.AddOptional("cache", cache) // the service runs without its cache
	_ = m.Check(context.Background())

	registry := prometheus.NewRegistry()
	registry.MustRegister(m.Collector())

	rec := httptest.NewRecorder() // http.Handle("/healthz", m.Handler()) in a service
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/healthz", nil))
	fmt.Print(rec.Code, " ", rec.Body)
	fmt.Println(m.Report().Checks["cache"].LastError)
	// Output:
	// 200 {
	//   "status": "up",
	//   "checks": {
	//     "cache": {
	//       "status": "down",
	//       "required": false
	//     },
	//     "db": {
	//       "status": "up",
	//       "required": true
	//     }
	//   }
	// }
	// health: check "cache": AUTH REDACTED: connection refused
}

// PingRedis is the Ping of a pool of dedicated go-redis connections: the
// pool pings a connection that sat idle before handing it out, and
// destroys it if the ping fails.
func ExamplePingRedis() {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer client.Close()

	p, err := pool.New(pool.Config[*redis.Conn]{
		Name:          "redis",
		Dial:          func(ctx context.Context) (*redis.Conn, error) { return client.Conn(), nil },
		Close:         (*redis.Conn).Close,
		Ping:          health.PingRedis,
		PingAfterIdle: time.Second, // ping connections idle for longer
		PingTimeout:   500 * time.Millisecond,
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer p.Close(context.Background())
	fmt.Println(p.Name(), "ready")
	// Output: redis ready
}

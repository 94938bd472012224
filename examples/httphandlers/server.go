package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/connkit/connkit/health"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/pool"
)

// shutdownWait is how long in-flight requests get to finish after SIGINT or
// SIGTERM before the pools are closed under their borrowers.
const shutdownWait = 10 * time.Second

// serve starts the service and serves until ctx ends or SIGINT or SIGTERM
// comes; then it shuts everything down in the reverse order of start: the
// HTTP server (which waits for the requests in flight), the monitor, the
// pools, the clients.
func serve(ctx context.Context, w *lockedWriter, logger *slog.Logger, o options) error {
	var group lifecycle.Group
	srvCtx, stop := context.WithCancelCause(ctx)
	defer stop(nil)
	b, addr, err := start(srvCtx, o, logger, stop, &group)
	if err != nil {
		return abort(ctx, &group, err)
	}
	printEndpoints(w, addr)
	err = lifecycle.Run(srvCtx, &group, shutdownWait)
	if cause := context.Cause(srvCtx); srvCtx.Err() != nil && !errors.Is(cause, srvCtx.Err()) {
		err = errors.Join(cause, err) // the HTTP server failed
	}
	w.printf("stopped; %s; %s", poolLine(b.redis.Stats()), poolLine(b.mysql.Stats()))
	return err
}

// start opens the backends and the monitor, runs startup and starts the HTTP
// server, which calls fail if it fails on its own. It adds to group what it
// opens, as it goes, and returns the backends and the address it serves on.
func start(ctx context.Context, o options, logger *slog.Logger, fail context.CancelCauseFunc, group *lifecycle.Group) (*backends, string, error) {
	b, err := openBackends(o, logger, group)
	if err != nil {
		return nil, "", err
	}
	m, err := b.newMonitor(o.healthPeriod, logger, group)
	if err != nil {
		return nil, "", err
	}
	if err := startup(ctx, b, m, logger); err != nil {
		return nil, "", err
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(m.Collector())
	h := &handlers{redis: b.redis, mysql: b.mysql, secrets: b.secrets, logger: logger}
	addr, err := startHTTP(o.addr, h.routes(m, registry), fail, group)
	return b, addr, err
}

// abort closes what a failed start opened and returns its error, or nil when
// ctx ended: a Ctrl-C during start-up is not a failure.
func abort(ctx context.Context, group *lifecycle.Group, err error) error {
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownWait)
	defer cancel()
	err = errors.Join(err, group.Shutdown(shutCtx))
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// startup runs every health check once, so that /healthz answers at once
// rather than after the first period, and creates the users table. A Redis
// that is down is only logged: the service starts, /visits answers 503 and
// /healthz says why until Redis is back. MySQL must be up, for the table.
func startup(ctx context.Context, b *backends, m *health.Monitor, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := m.Check(ctx); err != nil {
		logger.Warn("starting with a dependency down; /healthz answers 503 until it is up", "err", err)
	}
	return b.createTable(ctx)
}

// startHTTP listens on addr and serves h in the background until the
// closer it adds to group shuts the server down. A server that fails on its
// own calls fail. It returns the address it listens on.
func startHTTP(addr string, h http.Handler, fail context.CancelCauseFunc, group *lifecycle.Group) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
			fail(err)
		}
	}()
	group.Add("http server", func(ctx context.Context) error {
		err := srv.Shutdown(ctx) // stops accepting, then waits for the requests in flight
		<-served
		return err
	})
	return ln.Addr().String(), nil
}

// routes returns the service's handler: the example's routes, /healthz from
// m and /metrics from registry.
func (h *handlers) routes(m *health.Monitor, registry *prometheus.Registry) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /visits/{page}", h.visits)
	mux.HandleFunc("GET /users/{id}", h.user)
	mux.HandleFunc("GET /tz", h.timeZone)
	mux.Handle("/healthz", m.Handler()) // GET and HEAD; 405 to the rest
	mux.Handle("GET /metrics", promhttp.HandlerFor(registry, promhttp.HandlerOpts{}))
	return mux
}

func printEndpoints(w *lockedWriter, addr string) {
	w.printf("httphandlers listening on http://%s", addr)
	w.printf("  GET /visits/{page}   count a visit in Redis (pool \"redis\")")
	w.printf("  GET /users/{id}      read a user from MySQL (pool \"mysql\")")
	w.printf("  GET /tz?zone=+05:00  change the session's time zone; the next borrower gets a reset session")
	w.printf("  GET /healthz[?verbose]  GET /metrics")
	w.printf("Ctrl-C to stop")
}

// poolLine returns the counters of st that the example is about, on one line.
func poolLine(st pool.Stats) string {
	return fmt.Sprintf("%s pool: dials=%d acquires=%d resets=%d destroyed=%d",
		st.Name, st.Dials, st.Acquires, st.Resets, st.Destroyed.Total())
}

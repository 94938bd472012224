// Command httphandlers is an HTTP service whose handlers borrow pooled
// connections: a dedicated Redis connection to count page visits, and a MySQL
// connection to read users and to show a session reset. Every borrow goes
// through pool.With and is labelled with its route (pool.WithLabel), so leak
// reports and shutdown errors name the handler that holds a connection.
// /healthz and /metrics come from a health.Monitor, and SIGINT or SIGTERM
// shuts the server down before the pools, within 10 s (lifecycle.Run).
//
//	go run ./examples/httphandlers                        # Redis on 127.0.0.1:6379, MySQL root@127.0.0.1:3306/test
//	go run ./examples/httphandlers -redis HOST:PORT -mysql 'user:pass@tcp(HOST:PORT)/db'
//
// The Redis password, if any, comes from the environment variable
// REDIS_PASSWORD, never from a flag: flags show in ps and in -help.
// See README.md for curl examples.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/logging"
)

func main() {
	// Signals are caught from the start, not only once lifecycle.Run is
	// called: a Ctrl-C while connecting at start-up also ends cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// go-redis logs every failed dial attempt to stderr from a package-level
	// logger; the pool and the health monitor already log each failure once,
	// with its pool or check. (Set here, not in run: it is process-wide.)
	redis.SetLogger(&logging.VoidLogger{})
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "httphandlers:", err)
		os.Exit(1)
	}
}

// options are the service's settings, from flags and the environment.
type options struct {
	addr          string        // where to listen
	redisAddr     string        // host:port of Redis
	redisPassword string        // from REDIS_PASSWORD; "" for none
	mysqlDSN      string        // go-sql-driver/mysql DSN
	healthPeriod  time.Duration // how often each health check runs
}

// run parses args, starts the service and serves until ctx ends or SIGINT
// or SIGTERM comes, then shuts it down. It writes its log to out.
func run(ctx context.Context, out io.Writer, args []string) error {
	opts, err := parseFlags(out, args)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	w := &lockedWriter{w: out} // the logger and run write from many goroutines
	logger := slog.New(slog.NewTextHandler(w, nil))
	return serve(ctx, w, logger, opts)
}

// parseFlags returns the options of args; flag errors and -help are written
// to out.
func parseFlags(out io.Writer, args []string) (options, error) {
	fs := flag.NewFlagSet("httphandlers", flag.ContinueOnError)
	fs.SetOutput(out)
	var o options
	fs.StringVar(&o.addr, "addr", "127.0.0.1:8080", "`host:port` to serve HTTP on (:8080 for every interface)")
	fs.StringVar(&o.redisAddr, "redis", "127.0.0.1:6379", "Redis `host:port`; its password, if any, in $REDIS_PASSWORD")
	fs.StringVar(&o.mysqlDSN, "mysql", "root@tcp(127.0.0.1:3306)/test", "MySQL or MariaDB `DSN` (go-sql-driver/mysql syntax)")
	fs.DurationVar(&o.healthPeriod, "health-period", 5*time.Second, "how often each health check runs")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q: flags are -addr, -redis, -mysql and -health-period", fs.Args())
	}
	if o.healthPeriod <= 0 {
		return o, fmt.Errorf("-health-period must be positive, got %v", o.healthPeriod)
	}
	o.redisPassword = os.Getenv("REDIS_PASSWORD")
	return o, nil
}

// lockedWriter serializes the writes of the logger and of run's own lines.
type lockedWriter struct {
	mu sync.Mutex // protects w
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// printf writes one line.
func (l *lockedWriter) printf(format string, args ...any) {
	fmt.Fprintf(l, format+"\n", args...)
}

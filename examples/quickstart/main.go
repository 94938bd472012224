// Command quickstart shows connkit at work with nothing to install, in a few
// seconds. Against in-process servers it runs, one numbered section each:
//
//  1. a lifecycle.Guard: one shared connection, one dial for 100 callers;
//  2. a pool over a TCP echo backend: 32 concurrent borrowers, then the
//     backend killed (borrowers fail fast, dials stay few) and restarted
//     (the pool recovers by itself);
//  3. a wsclient through a WebSocket server restart: Sends made during the
//     outage wait in the queue and are delivered afterwards;
//  4. a connmgr table filled by a listener, read with Range and ByName;
//  5. a connection borrowed and never returned, reported with its label and
//     the stack of its Acquire;
//
// then shuts everything down in order with a lifecycle.Group and prints a
// table of the pools' and the client's counters.
//
//	go run ./examples/quickstart
//	go run ./examples/quickstart -redis localhost:6379 -mysql 'user:pass@tcp(localhost:3306)/db'
//
// With -redis or -mysql it also pools connections to those servers, shows a
// borrower's dirty session (SELECT 3, SET time_zone) reset in place before the
// next borrower gets the connection, and runs a health check.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/connkit/connkit/lifecycle"
	"github.com/connkit/connkit/pool"
	"github.com/connkit/connkit/wsclient"
	"github.com/go-sql-driver/mysql"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "quickstart:", err)
		os.Exit(1)
	}
}

// run parses args and runs every section, writing the narration to out.
func run(ctx context.Context, out io.Writer, args []string) error {
	fs := flag.NewFlagSet("quickstart", flag.ContinueOnError)
	fs.SetOutput(out)
	redisAddr := fs.String("redis", "", "also pool connections to the Redis server at `host:port` (or a redis:// URL)")
	mysqlDSN := fs.String("mysql", "", "also pool connections to MySQL/MariaDB at this go-sql-driver `DSN` (never printed)")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q: the flags are -redis and -mysql", fs.Args())
	}

	d := newDemo(out)
	defer d.shutdown(ctx) // on an early return; a no-op after the one below
	steps := []func(context.Context) error{d.guard, d.pool, d.ws, d.table, d.leak}
	if *redisAddr != "" {
		opts, err := redisOptions(*redisAddr)
		if err != nil {
			return err
		}
		steps = append(steps, func(ctx context.Context) error { return d.redis(ctx, opts) })
	}
	if *mysqlDSN != "" {
		cfg, err := mysql.ParseDSN(*mysqlDSN)
		if err != nil {
			return redactf(*mysqlDSN, "-mysql: %w", err)
		}
		steps = append(steps, func(ctx context.Context) error { return d.mysql(ctx, cfg) })
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return err
		}
	}

	d.section("shutdown (lifecycle.Group): in reverse order of start")
	if err := d.shutdown(ctx); err != nil {
		return err
	}
	d.summary()
	return nil
}

// demo holds what the sections share: the output, the shutdown group, and
// the pools and clients that the summary reports on.
type demo struct {
	group lifecycle.Group

	outMu sync.Mutex // protects the fields below; callbacks print from other goroutines
	out   io.Writer
	n     int // the number of the last section
	pools []pool.Inspector
	wss   []*wsclient.Client
}

func newDemo(out io.Writer) *demo { return &demo{out: out} }

// say prints one line.
func (d *demo) say(format string, args ...any) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	fmt.Fprintf(d.out, format+"\n", args...)
}

// section prints the heading of the next numbered section.
func (d *demo) section(title string) {
	d.outMu.Lock()
	d.n++
	n := d.n
	d.outMu.Unlock()
	d.say("\n%d. %s", n, title)
}

// progress prints a line announcing a wait of up to limit, so that a pause in
// the output is never a mystery.
func (d *demo) progress(what string, limit time.Duration) {
	d.say("   %s (up to %v)...", what, limit.Round(10*time.Millisecond))
}

// closeLater registers a component for the shutdown; the last added is
// closed first. It prints each close as it happens.
func (d *demo) closeLater(name string, close func(context.Context) error) {
	d.group.Add(name, func(ctx context.Context) error {
		start := time.Now()
		err := close(ctx)
		d.say("   closed %-22s in %v", name, time.Since(start).Round(10*time.Microsecond))
		return err
	})
}

// track adds p to the summary.
func (d *demo) track(p pool.Inspector) {
	d.outMu.Lock()
	defer d.outMu.Unlock()
	d.pools = append(d.pools, p)
}

// shutdown closes the group within 5s, even when ctx has ended.
func (d *demo) shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	return d.group.Shutdown(ctx)
}

// poll waits until cond holds, checking every millisecond.
func poll(ctx context.Context, what string, cond func() bool) error {
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// demoBackOff spaces attempts initial, initial*multiplier... up to 1s,
// without jitter, so that the demo is quick and its output repeatable. Keep
// the default policies in a real program: their ±50% jitter stops a fleet
// of clients from retrying in step after an outage.
func demoBackOff(initial time.Duration, multiplier float64) backoff.BackOff {
	return backoff.NewExponentialBackOff(
		backoff.WithInitialInterval(initial),
		backoff.WithMultiplier(multiplier),
		backoff.WithRandomizationFactor(0),
		backoff.WithMaxInterval(time.Second),
		backoff.WithMaxElapsedTime(0), // never stop
	)
}

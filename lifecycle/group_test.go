package lifecycle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"
)

func TestShutdownReverseOrder(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var order []string
	var g Group
	for _, name := range []string{"pool", "cache", "http"} {
		g.Add(name, func(context.Context) error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, name)
			return nil
		})
	}
	if err := g.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(order, ","); got != "http,cache,pool" {
		t.Errorf("closed in order %s, want http,cache,pool", got)
	}
	if err := g.Shutdown(testCtx(t)); err != nil || len(order) != 3 {
		t.Errorf("second Shutdown = %v after %d closes; want nil and no closer called again", err, len(order))
	}
}

func TestShutdownJoinsNamedErrors(t *testing.T) {
	t.Parallel()
	errDB := errors.New("db: 3 connections still borrowed")
	var g Group
	g.Add("db", func(context.Context) error { return errDB })
	g.Add("ok", func(context.Context) error { return nil })
	g.Add("ws", func(context.Context) error { panic("close of closed channel") })
	err := g.Shutdown(testCtx(t))
	if !errors.Is(err, errDB) {
		t.Errorf("Shutdown error %v does not wrap the db error", err)
	}
	for _, want := range []string{"close db: db: 3 connections", "close ws: panic: close of closed channel"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Shutdown error %q does not contain %q", err, want)
		}
	}
	if err != nil && strings.Contains(err.Error(), "close ok") {
		t.Errorf("Shutdown error %q names a closer that succeeded", err)
	}
}

// TestShutdownDeadline has a closer that ignores its context: Shutdown must
// give up on it at the deadline plus Grace, still call the closers after it
// with the ended context, and name it in the error.
func TestShutdownDeadline(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		stuck := make(chan struct{})
		defer close(stuck) // let the abandoned closer go at the end
		var afterErr error
		g := Group{Grace: 50 * time.Millisecond}
		g.Add("pool", func(ctx context.Context) error {
			afterErr = ctx.Err()
			return nil
		})
		g.Add("stuck", func(context.Context) error { <-stuck; return nil })
		g.Add("http", func(ctx context.Context) error {
			<-ctx.Done() // drains in-flight requests until forced
			return ctx.Err()
		})

		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		start := time.Now()
		err := g.Shutdown(ctx)
		if took := time.Since(start); took != time.Second+50*time.Millisecond {
			t.Errorf("Shutdown took %v, want the 1s deadline plus the 50ms grace", took)
		}
		if !errors.Is(afterErr, context.DeadlineExceeded) {
			t.Errorf("closer after the stuck one got ctx.Err() = %v, want it called with the ended context", afterErr)
		}
		for _, want := range []string{"close stuck: abandoned", "close http: context deadline exceeded"} {
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Shutdown error %q does not contain %q", err, want)
			}
		}
	})
}

func TestAddMisuse(t *testing.T) {
	t.Parallel()
	wantPanic := func(t *testing.T, want string, f func()) {
		t.Helper()
		defer func() {
			if r := recover(); r != want {
				t.Errorf("panic = %v, want %q", r, want)
			}
		}()
		f()
	}
	var g Group
	wantPanic(t, "lifecycle: Group.Add(db) with a nil close func", func() { g.Add("db", nil) })
	if err := g.Shutdown(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	wantPanic(t, "lifecycle: Group.Add(late) after Shutdown started", func() {
		g.Add("late", func(context.Context) error { return nil })
	})
}

func TestRunOnContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(testCtx(t))
	var g Group
	closed := make(chan struct{})
	g.Add("server", func(context.Context) error { close(closed); return nil })
	done := make(chan error)
	go func() { done <- Run(ctx, &g, time.Second) }()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	select {
	case <-closed:
	default:
		t.Error("Run returned without closing the group")
	}
	if err := Run(ctx, &g, 0); err == nil || !strings.Contains(err.Error(), "maxWait must be positive") {
		t.Errorf("Run with maxWait 0 = %v, want an error", err)
	}
}

// The signal tests run in a child process (the test binary itself, see
// TestMain), so that the signals reach only it.
const runChildEnv = "CONNKIT_LIFECYCLE_RUN_CHILD"

func TestRunSignal(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		give string
		want []string
	}{
		{"graceful", "graceful", []string{"close second", "close first", "run returned: <nil>"}},
		{"second signal forces", "force", []string{"close slow: waiting for in-flight work", "run returned: " + ErrInterrupted.Error()}},
		// One signal, caught by Run and by a NotifyContext whose ctx Run
		// got: select picks either at random, 20 times over.
		{"one signal through NotifyContext too", "notifycontext", []string{"20 runs, 20 returned nil"}},
		{"second signal through NotifyContext too", "notifycontext-force", []string{"close slow: second signal", "run returned: " + ErrInterrupted.Error()}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cmd := exec.CommandContext(testCtx(t), os.Args[0], "-test.run=^$")
			cmd.Env = append(os.Environ(), runChildEnv+"="+tt.give)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			if got, want := strings.TrimSpace(string(out)), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("child printed:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// runChild is the child process of TestRunSignal: it runs a group under Run
// and sends itself SIGTERM once Run catches signals.
func runChild(mode string) int {
	term := func() { _ = syscall.Kill(os.Getpid(), syscall.SIGTERM) }
	var g Group
	switch mode {
	case "graceful":
		g.Add("first", func(context.Context) error { fmt.Println("close first"); return nil })
		g.Add("second", func(context.Context) error { fmt.Println("close second"); return nil })
	case "force":
		g.Add("slow", func(ctx context.Context) error {
			fmt.Println("close slow: waiting for in-flight work")
			term() // the operator presses Ctrl-C again
			<-ctx.Done()
			return ctx.Err()
		})
	case "notifycontext":
		ok := 0
		for range 20 {
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
			var g Group
			g.Add("slow", func(context.Context) error { time.Sleep(20 * time.Millisecond); return nil })
			err := run(ctx, &g, time.Minute, term)
			stop()
			if err == nil {
				ok++
			} else {
				fmt.Println("run returned:", err)
			}
		}
		fmt.Printf("20 runs, %d returned nil\n", ok)
		return 0
	case "notifycontext-force":
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
		defer stop()
		var g Group
		g.Add("slow", func(ctx context.Context) error {
			time.Sleep(3 * pairedSignalWindow) // a person's second Ctrl-C comes later than this
			fmt.Println("close slow: second signal")
			term()
			<-ctx.Done()
			return ctx.Err()
		})
		fmt.Println("run returned:", run(ctx, &g, time.Minute, term))
		return 0
	default:
		fmt.Println("unknown mode", mode)
		return 2
	}
	err := run(context.Background(), &g, time.Minute, term)
	fmt.Println("run returned:", err)
	return 0
}

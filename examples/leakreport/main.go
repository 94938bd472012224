// Command leakreport shows how connkit reports a connection that was
// borrowed and never returned: in production, through a leak threshold and a
// log line that names the borrower and where it acquired; in tests, through
// pooltest (see main_test.go).
//
//	go run ./examples/leakreport
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/connkit/connkit/pool"
)

// session is what the pool holds: a stand-in for a database connection.
type session struct{ id int }

var errNotFound = errors.New("user not found")

// lookupUser has the classic bug: the early return on a missing user skips
// the Release, and the connection is never given back.
func lookupUser(ctx context.Context, p *pool.Pool[*session], id int) (string, error) {
	c, err := p.Acquire(pool.WithLabel(ctx, "lookupUser"))
	if err != nil {
		return "", err
	}
	if id < 0 {
		return "", errNotFound // BUG: c is never released
	}
	defer c.Release()
	return fmt.Sprintf("user %d via session %d", id, c.Value().id), nil
}

// newPool returns the pool every part of the example uses: stacks on, as in
// tests and staging (use pool.StacksSampled in production).
func newPool(threshold time.Duration, logger *slog.Logger) (*pool.Pool[*session], error) {
	n := 0
	return pool.New(pool.Config[*session]{
		Name: "users",
		Dial: func(context.Context) (*session, error) {
			n++
			return &session{id: n}, nil
		},
		MaxSize: 2,
		Leak:    pool.LeakConfig{Threshold: threshold, Stacks: pool.StacksAlways},
		Logger:  logger,
	})
}

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{} // keep the output stable
			}
			return a
		},
	}))
	p, err := newPool(200*time.Millisecond, logger)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx := context.Background()
	for _, id := range []int{7, -1} { // -1 takes the path that leaks
		user, err := lookupUser(ctx, p, id)
		fmt.Printf("lookupUser(%d) = %q, %v\n", id, user, err)
	}
	fmt.Println("waiting past the 200ms leak threshold...")
	time.Sleep(400 * time.Millisecond)

	fmt.Println("\nstill borrowed:")
	for _, b := range p.Borrowed() {
		fmt.Println(b)
	}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	fmt.Println("\nClose:", p.Close(cctx))
}

package reset

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// cancelOnRead cancels a context as the reset's last reply is read: the
// caller's ctx ends just as the reset succeeds.
type cancelOnRead struct {
	net.Conn
	reads, last int
	cancel      context.CancelFunc
}

func (c *cancelOnRead) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if c.reads++; c.reads == c.last {
		c.cancel()
	}
	return n, err
}

// TestResetEndedByItsContextIsNotClean: when ctx ends as the reset reads
// its last reply, ctx's deadline may land on the socket after the reset
// cleared its own, and would fail the next borrower's first statement. A
// reset that returns nil must leave no deadline on the socket; one that
// cannot be sure returns an error (the connection is then discarded).
func TestResetEndedByItsContextIsNotClean(t *testing.T) {
	plan := newResetPlan(mysql.NewConfig())
	ok := []byte{7, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0}
	for i := range 50 {
		client, server := net.Pipe()
		go func() { // the server: read the pipeline, answer an OK per command
			if _, err := io.ReadFull(server, make([]byte, len(plan.plain.packets))); err != nil {
				return
			}
			for range plan.plain.replies {
				server.Write(ok)
			}
		}()
		ctx, cancel := context.WithCancel(context.Background())
		c := &cancelOnRead{Conn: client, last: 2 * plan.plain.replies, cancel: cancel} // a header and a body a reply
		err := plan.run(ctx, c, false)
		if err == nil {
			time.Sleep(5 * time.Millisecond) // for a late deadline to land
			go server.Write([]byte{1})
			if _, rerr := client.Read(make([]byte, 1)); errors.Is(rerr, os.ErrDeadlineExceeded) {
				t.Errorf("run %d: the reset returned nil and left a past deadline on the socket", i)
			}
		} else if !errors.Is(err, context.Canceled) {
			t.Errorf("run %d: the reset = %v, want nil or context.Canceled", i, err)
		}
		cancel()
		client.Close()
		server.Close()
	}
}

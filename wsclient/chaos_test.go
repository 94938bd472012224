package wsclient

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/cenkalti/backoff/v4"
	"github.com/connkit/connkit/internal/wstest"
)

// TestChaosServerRestarts restarts the server 100 times while a client
// sends numbered messages as fast as it can, each restart once the client
// is back: every Send that returned nil arrived exactly once, everything
// arrived in order, no message whose Send failed arrived, and the client
// connected exactly once per restart.
func TestChaosServerRestarts(t *testing.T) {
	t.Parallel()
	const restarts = 100
	s := wstest.StartRecording(t)
	c := newClient(t, Options{
		URL:        "ws://" + s.Addr(),
		NewBackOff: func() backoff.BackOff { return backoff.NewConstantBackOff(2 * time.Millisecond) },
	})
	ctx := testCtx(t)
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var sent, failed []int
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			sctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			err := c.Send(sctx, MessageText, []byte(strconv.Itoa(i)))
			cancel()
			if err == nil {
				sent = append(sent, i)
			} else {
				failed = append(failed, i)
				if errors.Is(err, ErrClosed) {
					t.Errorf("Send %d = %v", i, err)
					return
				}
			}
		}
	})
	for i := range restarts {
		time.Sleep(5 * time.Millisecond) // sends flow on the connection
		before := c.Stats().Connects
		s.Restart()
		// The next restart waits for the reconnect, so that each one drops
		// a live connection with sends in flight.
		for deadline := time.Now().Add(10 * time.Second); c.Stats().Connects == before && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
		if c.Stats().Connects == before {
			t.Errorf("no reconnect within 10s of restart %d", i+1)
			break
		}
	}
	close(stop)
	wg.Wait()
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s.Stop() // every connection's messages recorded

	if err := wstest.CheckDelivery(sent, failed, s.Received()); err != nil {
		t.Error(err)
	}
	st := c.Stats()
	t.Logf("%d restarts: %d messages sent, %d failed, %d connects", restarts, len(sent), len(failed), st.Connects)
	if st.Connects != restarts+1 {
		t.Errorf("%d connects over %d restarts, want one per restart and the first", st.Connects, restarts)
	}
}

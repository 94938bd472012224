package lifecycle

import (
	"context"
	"time"
)

// Sleep waits for d or until ctx ends, and reports whether d passed: the
// wait of a retry loop that Close or a caller's cancellation can end at
// once, where time.Sleep cannot be stopped.
func Sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

package health_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: every
// Monitor, client and server a test starts must be closed by its end.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

package bench

import (
	"os"
	"testing"
)

// TestMain runs the test binary as a benchmark peer when asked to (see
// startEchoProcess), so that a server's allocations never count against the
// client measured.
func TestMain(m *testing.M) {
	if os.Getenv(echoChildEnv) != "" {
		os.Exit(runEchoServer())
	}
	os.Exit(m.Run())
}

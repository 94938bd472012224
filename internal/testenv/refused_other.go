//go:build !linux

package testenv

import (
	"net"
	"testing"
)

// RefusedAddr returns a loopback TCP address where connects are refused:
// a port that was free a moment ago. Another test running in parallel may
// take it; on Linux, a bound socket holds it for the whole test.
func RefusedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("testenv: RefusedAddr: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

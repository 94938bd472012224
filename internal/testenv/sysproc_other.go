//go:build !linux

package testenv

import "syscall"

// sysProcAttr returns nil: without Linux's Pdeathsig, servers are stopped
// only by the test cleanup, so a test binary that crashes can leave them
// running.
func sysProcAttr() *syscall.SysProcAttr { return nil }

package testenv

import "syscall"

// sysProcAttr makes the kernel SIGKILL a server when the thread that
// started it exits, so a test binary that crashes or is killed leaves no
// orphan servers behind. Pdeathsig exists only on Linux.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}

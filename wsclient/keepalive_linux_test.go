package wsclient

import (
	"net"
	"syscall"
	"testing"
)

// TestSocketHasKeepAlive checks that the client's own transport dials with
// lifecycle.DefaultKeepAlive, so that a vanished peer is found on an idle
// connection even with pings off.
func TestSocketHasKeepAlive(t *testing.T) {
	t.Parallel()
	s := newServer(t, nil)
	c := newClient(t, Options{URL: s.url()})
	if err := c.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
	c.q.mu.Lock()
	cn := c.q.cn
	c.q.mu.Unlock()
	if cn == nil || cn.nc == nil {
		t.Fatal("the client does not know its connection's socket")
	}
	rc, err := cn.nc.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var idle int
	var serr error
	if err := rc.Control(func(fd uintptr) {
		idle, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	if idle != 30 {
		t.Errorf("TCP_KEEPIDLE = %ds, want 30s (lifecycle.DefaultKeepAlive)", idle)
	}
}

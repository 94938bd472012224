package lifecycle

import (
	"net"
	"syscall"
	"testing"
)

// keepAliveOf reads the keepalive settings of a TCP connection's socket.
func keepAliveOf(t *testing.T, c net.Conn) (on, idle, interval, count int) {
	t.Helper()
	rc, err := c.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var serr error
	err = rc.Control(func(fd uintptr) {
		get := func(level, opt int) int {
			v, err := syscall.GetsockoptInt(int(fd), level, opt)
			if err != nil && serr == nil {
				serr = err
			}
			return v
		}
		on = get(syscall.SOL_SOCKET, syscall.SO_KEEPALIVE)
		idle = get(syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
		interval = get(syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL)
		count = get(syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT)
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		t.Fatal(err)
	}
	return on, idle, interval, count
}

func TestNewDialerSetsKeepAlive(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := NewDialer().DialContext(t.Context(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	on, idle, interval, count := keepAliveOf(t, c)
	if on == 0 || idle != 30 || interval != 10 || count != 3 {
		t.Errorf("keepalive on=%d idle=%ds interval=%ds count=%d, want on, 30s, 10s, 3", on, idle, interval, count)
	}
}

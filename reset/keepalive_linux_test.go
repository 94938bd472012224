package reset

import (
	"net"
	"syscall"
	"testing"
)

// TestMySQLSocketHasKeepAlive checks that MySQLConnector dials with
// lifecycle.DefaultKeepAlive, and that the driver's own SetKeepAlive(true)
// leaves its timings alone.
func TestMySQLSocketHasKeepAlive(t *testing.T) {
	e := startMariaDB(t)
	db := openDB(t, e.srv.DSN())
	c, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var idle int
	err = c.Raw(func(dc any) error {
		rc, err := dc.(*mysqlConn).raw.(*net.TCPConn).SyscallConn()
		if err != nil {
			return err
		}
		var serr error
		if err := rc.Control(func(fd uintptr) {
			idle, serr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE)
		}); err != nil {
			return err
		}
		return serr
	})
	if err != nil {
		t.Fatal(err)
	}
	if idle != 30 {
		t.Errorf("TCP_KEEPIDLE = %ds, want 30s (lifecycle.DefaultKeepAlive)", idle)
	}
}

package faultproxy_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"time"

	"github.com/connkit/connkit/internal/faultproxy"
)

// Example stalls a connection to an echo server and heals it again.
func Example() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	served := make(chan struct{})
	go func() { // an echo server for one connection
		defer close(served)
		if c, err := ln.Accept(); err == nil {
			_, _ = io.Copy(c, c)
			c.Close()
		}
	}()

	p, err := faultproxy.New(ln.Addr().String())
	if err != nil {
		panic(err)
	}
	c, err := net.Dial("tcp", p.Addr())
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 5)
	c.Write([]byte("hello"))
	io.ReadFull(c, buf)
	fmt.Printf("echoed %q\n", buf)

	p.Blackhole()
	c.Write([]byte("again"))
	c.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	_, err = c.Read(buf)
	fmt.Println("stalled:", errors.Is(err, os.ErrDeadlineExceeded))

	p.Forward()
	c.SetReadDeadline(time.Time{})
	io.ReadFull(c, buf)
	fmt.Printf("after Forward: %q\n", buf)

	c.Close()
	p.Close()
	ln.Close()
	<-served
	// Output:
	// echoed "hello"
	// stalled: true
	// after Forward: "again"
}

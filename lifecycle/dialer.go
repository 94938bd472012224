package lifecycle

import (
	"net"
	"time"
)

// DefaultKeepAlive returns the TCP keepalive settings of every dialer
// connkit builds: the first probe after 30s without traffic, then one every
// 10s, and the connection is declared dead after 3 unanswered probes. A peer
// that vanished without a FIN or RST (a crashed host, a NAT that forgot the
// flow) is found in about a minute, instead of after the two hours and more
// of the Linux defaults (tcp_keepalive_time 7200s).
//
// Keepalive only finds dead peers on idle connections; a request in flight
// is bounded by its own context.
func DefaultKeepAlive() net.KeepAliveConfig {
	return net.KeepAliveConfig{
		Enable:   true,
		Idle:     30 * time.Second,
		Interval: 10 * time.Second,
		Count:    3,
	}
}

// NewDialer returns a net.Dialer that sets DefaultKeepAlive on every TCP
// connection it makes. Bound each dial with the context passed to
// DialContext.
func NewDialer() *net.Dialer {
	return &net.Dialer{KeepAliveConfig: DefaultKeepAlive()}
}

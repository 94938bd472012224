// Package faultproxy injects network faults between a client and a server
// in tests.
//
// A [Proxy] listens on 127.0.0.1 and forwards every connection it accepts
// to a target address, byte for byte, in both directions. Tests point the
// code under test at [Proxy.Addr] and then, while connections are open,
// add latency, stall the network, reset every connection or move the
// target, and watch how the code copes:
//
//	p := faultproxy.Start(t, redisServer.Addr())
//	client := redis.NewClient(&redis.Options{Addr: p.Addr()})
//	p.Blackhole() // requests now hang: no error, no reply
//	...
//	p.Forward()   // the network is back
//
// The proxy uses only the standard library and lifecycle.Sleep, and
// [Proxy.Close] waits for every goroutine it started, so tests that verify
// goroutine leaks stay clean.
//
// # Blackhole
//
// [Proxy.Blackhole] models a network stall: packets vanish, nothing is
// refused or reset. Open connections stay open but carry no bytes in
// either direction, and new connections are accepted (the client's connect
// succeeds) but not dialed to the target. Bytes sent during a blackhole
// are held, not dropped: TCP never loses bytes silently, so a real stall
// either heals, and the bytes arrive late and in order, or it lasts until
// some timeout kills the connection. [Proxy.Forward] heals it: held bytes
// are delivered, and connections accepted during the blackhole are dialed
// then. To model a stall that kills connections, call [Proxy.ResetAll]
// before [Proxy.Forward]. Held bytes first fill the proxy's buffers and then
// the kernel's, after which the sender's writes block, as they would.
//
// # Latency
//
// [Proxy.SetLatency] delays every chunk of bytes by a fixed time from the
// moment the proxy reads it, in each direction, so a request-reply round
// trip takes two latencies longer. Chunks are delayed independently, not
// one after another, and keep their order. As on a real link, latency
// limits throughput to what is in flight: up to 512 KiB per direction
// within one latency.
//
// # Resets and closes
//
// [Proxy.ResetAll] closes every connection with a TCP RST (SO_LINGER 0) on
// both sides, as a crashed peer or middlebox would: clients read
// ECONNRESET. An RST or error from either peer is passed on to the other
// the same way, and so is a failed dial to the target: instead of a
// refused connect, the client sees a reset, in its connect call if the
// reset comes first, else in its first read or write. A clean half-close (FIN)
// is passed on as a half-close (CloseWrite), so protocols that read until
// EOF work.
package faultproxy

// This file holds the per-client-IP concurrent connection limit applied at
// accept (nginx's limit_conn): a count per IP, taken on accept and given back
// once when the connection closes.

package listener

import (
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

const (
	reasonConnLimit = "conn_limit"
	// overLimitWriteTimeout bounds the 503 written to a rejected
	// connection; the accept loop must never wait on a client.
	overLimitWriteTimeout = 50 * time.Millisecond
)

var overLimitResponse = []byte("HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")

// connLimiter counts open connections per client IP. Memory is bounded by
// the number of open connections: an IP's entry goes when its count
// reaches zero. One mutex is enough: it is taken once per accept and once
// per close, for a map operation.
type connLimiter struct {
	max    int
	mu     sync.Mutex
	counts map[netip.Addr]int
}

func newConnLimiter(maxPerIP int) *connLimiter {
	return &connLimiter{max: maxPerIP, counts: make(map[netip.Addr]int)}
}

// acquire takes a slot for ip, reporting false when ip is at the limit.
func (l *connLimiter) acquire(ip netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := l.counts[ip]
	if n >= l.max {
		return false
	}
	l.counts[ip] = n + 1
	return true
}

// release gives back a slot taken by acquire.
func (l *connLimiter) release(ip netip.Addr) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch n := l.counts[ip]; {
	case n > 1:
		l.counts[ip] = n - 1
	case n == 1:
		delete(l.counts, ip)
	}
}

// open returns the number of connections counted for ip and the number of
// IPs tracked.
func (l *connLimiter) open(ip netip.Addr) (conns, ips int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.counts[ip], len(l.counts)
}

// remoteIP returns the client IP of c, IPv4-mapped IPv6 addresses as IPv4
// and without zone, so that one client has one key.
func remoteIP(c net.Conn) (netip.Addr, bool) { return addrIP(c.RemoteAddr()) }

// addrIP is remoteIP for an address of any transport (TCP, QUIC's UDP).
func addrIP(addr net.Addr) (netip.Addr, bool) {
	var ap netip.AddrPort
	switch a := addr.(type) {
	case *net.TCPAddr:
		ap = a.AddrPort()
	case nil:
		return netip.Addr{}, false
	default:
		var err error
		if ap, err = netip.ParseAddrPort(a.String()); err != nil {
			return netip.Addr{}, false
		}
	}
	ip := ap.Addr().Unmap().WithZone("")
	return ip, ip.IsValid()
}

// rejectOverLimit answers 503 and closes c, without waiting on the client.
// The 503 is best effort: if the client has already sent its request, the
// close resets the connection and the client may see the reset instead.
func rejectOverLimit(c net.Conn) {
	// Only a socket: its write lands in the kernel's buffer, where a
	// pipe's would wait for the client to read.
	if _, ok := c.(syscall.Conn); ok {
		_ = c.SetWriteDeadline(time.Now().Add(overLimitWriteTimeout))
		_, _ = c.Write(overLimitResponse)
	}
	_ = c.Close()
}

package listener

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/rawsock"
)

func TestConnLimiterCountsAndForgets(t *testing.T) {
	l := newConnLimiter(2)
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")
	for i, want := range []bool{true, true, false} {
		if got := l.acquire(a); got != want {
			t.Fatalf("acquire %d: got %v, want %v", i, got, want)
		}
	}
	if !l.acquire(b) {
		t.Fatal("another IP was refused")
	}
	l.release(a)
	if !l.acquire(a) {
		t.Fatal("refused after a release")
	}
	l.release(a)
	l.release(a)
	l.release(b)
	if conns, ips := l.open(a); conns != 0 || ips != 0 {
		t.Errorf("after releasing all: got %d conns, %d IPs tracked; want 0, 0", conns, ips)
	}
	l.release(a) // an extra release must not go negative
	if conns, ips := l.open(a); conns != 0 || ips != 0 {
		t.Errorf("after an extra release: got %d conns, %d IPs; want 0, 0", conns, ips)
	}
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (c addrConn) RemoteAddr() net.Addr { return c.remote }

func TestRemoteIPNormalises(t *testing.T) {
	tests := []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 1}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 1}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 1, Zone: "eth0"}, "fe80::1"},
		{&net.UnixAddr{Name: "/tmp/x", Net: "unix"}, ""},
	}
	for _, tc := range tests {
		ip, ok := remoteIP(addrConn{remote: tc.addr})
		got := ""
		if ok {
			got = ip.String()
		}
		if got != tc.want {
			t.Errorf("%v: got %q, want %q", tc.addr, got, tc.want)
		}
	}
}

func TestGuardedConnDoubleCloseReleasesOnce(t *testing.T) {
	l := newConnLimiter(2)
	ip := netip.MustParseAddr("192.0.2.1")
	l.acquire(ip)
	l.acquire(ip)
	c1, c2 := net.Pipe()
	defer c2.Close()
	gc := newGuardedConn(c1, 0)
	gc.limiter, gc.ip = l, ip
	gc.Close()
	gc.Close()
	if conns, _ := l.open(ip); conns != 1 {
		t.Errorf("got %d conns counted, want 1", conns)
	}
}

func TestListenerLimitsConnsPerIP(t *testing.T) {
	inner, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var rejects rejectLog
	// Wrapped as the server wraps it (raw socket calls).
	ln := newGuardedListener(rawsock.Listener{Listener: inner}, guardOptions{MaxConnsPerIP: 2, OnReject: rejects.add})
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				io.WriteString(c, "hi\n")
				io.Copy(io.Discard, c)
				c.Close()
			}()
		}
	}()
	addr := inner.Addr().String()
	open := func() (net.Conn, string) {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		c.SetReadDeadline(time.Now().Add(waitLimit))
		line, err := bufio.NewReader(c).ReadString('\n')
		if err != nil && line == "" {
			return c, "closed"
		}
		return c, line
	}
	c1, got1 := open()
	_, got2 := open()
	if got1 != "hi\n" || got2 != "hi\n" {
		t.Fatalf("first two: got %q, %q; want both accepted", got1, got2)
	}
	// The client sent nothing, so the close after the 503 is no reset:
	// the 503 arrives.
	if _, got3 := open(); !strings.HasPrefix(got3, "HTTP/1.1 503") {
		t.Fatalf("third: got %q, want a 503", got3)
	}
	if r := rejects.get(); len(r) != 1 || r[0] != reasonConnLimit {
		t.Errorf("got rejects %q, want [%q]", r, reasonConnLimit)
	}

	// Closing one frees its slot once the server side has closed too.
	c1.Close()
	lim := ln.(*guardedListener).limiter
	ip := netip.MustParseAddr("127.0.0.1")
	deadline := time.Now().Add(waitLimit)
	for n, _ := lim.open(ip); n != 1; n, _ = lim.open(ip) {
		if time.Now().After(deadline) {
			t.Fatalf("slot not released: %d conns counted", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, got4 := open(); got4 != "hi\n" {
		t.Errorf("after a close: got %q, want accepted", got4)
	}
}

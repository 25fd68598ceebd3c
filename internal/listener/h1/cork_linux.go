package h1

import "syscall"

// cork sets TCP_CORK on a plain TCP connection; uncorking sends what is
// held. A failure only costs the coalescing, so it is ignored.
func (c *conn) cork(on bool) {
	if c.tcp == nil || c.raw == nil {
		return
	}
	v := 0
	if on {
		v = 1
	}
	_ = c.raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_CORK, v)
	})
}

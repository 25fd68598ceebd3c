package rawsock

import "net"

// TCP finds the *net.TCPConn under c through Unwrap methods (this
// package's Conn, the listener's guards), for sendfile, splice and socket
// options; nil when there is none.
func TCP(c net.Conn) *net.TCPConn {
	for range 4 {
		if tc, ok := c.(*net.TCPConn); ok {
			return tc
		}
		u, ok := c.(interface{ Unwrap() net.Conn })
		if !ok {
			return nil
		}
		c = u.Unwrap()
	}
	return nil
}

//go:build !linux

package rawsock

import "net"

// Wrap returns c: raw system calls are only used on Linux.
func Wrap(c net.Conn) net.Conn { return c }

// Listener is the listener it wraps: raw system calls are only used on
// Linux.
type Listener struct{ net.Listener }

//go:build unix

package listener

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// setReusePort lets several processes bind the same address; the kernel
// then spreads new connections (and UDP flows) over their sockets.
func setReusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	return errors.Join(err, serr)
}

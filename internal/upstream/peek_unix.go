//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package upstream

import "syscall"

// peekEmpty reports whether a non-blocking MSG_PEEK on the socket finds
// nothing to read yet (EAGAIN): not a byte, not the end of the stream.
func peekEmpty(fd uintptr, b []byte) bool {
	for {
		_, _, err := syscall.Recvfrom(int(fd), b, syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err != syscall.EINTR {
			return err == syscall.EAGAIN
		}
	}
}

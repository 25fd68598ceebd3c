//go:build linux || darwin || freebsd || netbsd || openbsd || dragonfly

package sockpeek

import "syscall"

// Empty reports whether a non-blocking MSG_PEEK on fd finds nothing to
// read yet (EAGAIN): not a byte, not the end of the stream, not an error.
// buf (at least one byte) is where the peek puts what it sees; it is not
// consumed. ok is false where no such peek exists.
func Empty(fd uintptr, buf []byte) (empty, ok bool) {
	for {
		_, _, err := syscall.Recvfrom(int(fd), buf[:1], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err != syscall.EINTR {
			return err == syscall.EAGAIN, true
		}
	}
}

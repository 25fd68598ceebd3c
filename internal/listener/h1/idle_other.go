//go:build !linux

package h1

import (
	"errors"
	"syscall"
)

// waitReadable is only implemented on Linux; elsewhere idle connections
// keep their buffers (see socketPeekWaits and Server.idleRelease).
func waitReadable(raw syscall.RawConn) error {
	return errors.ErrUnsupported
}

// socketPeekWaits: waitReadable does not work here, so a plain connection
// keeps its buffers while idle.
const socketPeekWaits = false

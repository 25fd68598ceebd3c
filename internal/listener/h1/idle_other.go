//go:build !linux

package h1

import (
	"errors"
	"net"
	"syscall"
	"time"
)

// waitReadable is only implemented on Linux; elsewhere idle connections
// keep their buffers (the caller never gets here: see Server.idleRelease).
func waitReadable(raw syscall.RawConn, c net.Conn, deadline time.Time) error {
	return errors.ErrUnsupported
}

// socketPeekWaits: waitReadable does not work here, so a plain connection
// keeps its buffers while idle.
const socketPeekWaits = false

package h1

import (
	"syscall"

	"github.com/portico-proxy/portico/internal/sockpeek"
)

// waitReadable waits, without a read buffer, until the connection has a
// byte to read, is closed by the peer, fails, or its read deadline
// passes. A non-blocking MSG_PEEK checks readiness first, since the
// poller only reports new readiness.
func waitReadable(raw syscall.RawConn) error {
	var b [1]byte
	return raw.Read(func(fd uintptr) bool {
		empty, _ := sockpeek.Empty(fd, b[:])
		return !empty
	})
}

// socketPeekWaits: waitReadable works here.
const socketPeekWaits = true

//go:build !unix

package listener

import (
	"errors"
	"syscall"
)

func setReusePort(_, _ string, _ syscall.RawConn) error {
	return errors.New("sharing a port between processes (workers) needs a Unix system")
}

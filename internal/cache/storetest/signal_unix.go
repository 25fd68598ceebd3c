//go:build unix

package storetest

import "syscall"

// The signals that pause and resume a redis-server.
var stopSignal, continueSignal = syscall.SIGSTOP, syscall.SIGCONT

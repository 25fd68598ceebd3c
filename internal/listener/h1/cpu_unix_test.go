//go:build unix

package h1

import "syscall"

// processCPU is the process's user+system CPU time in nanoseconds: per
// request, the cost of client and server together (the client is the
// same for both servers).
func processCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

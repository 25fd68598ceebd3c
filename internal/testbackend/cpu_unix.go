//go:build unix

package testbackend

import "syscall"

// ProcessCPU is the process's user and system CPU time in nanoseconds.
// Benchmarks that run client and server in one process report it per
// request: it is steadier than wall time on a shared machine.
func ProcessCPU() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

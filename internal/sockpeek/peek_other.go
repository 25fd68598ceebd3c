//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package sockpeek

// Empty has no non-blocking peek to use here: ok is false.
func Empty(fd uintptr, buf []byte) (empty, ok bool) { return false, false }

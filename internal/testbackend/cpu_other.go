//go:build !unix

package testbackend

// ProcessCPU is not measured here: it reports 0.
func ProcessCPU() int64 { return 0 }

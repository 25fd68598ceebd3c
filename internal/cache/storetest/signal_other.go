//go:build !unix

package storetest

import "os"

// There are no signals to pause a process with here.
var stopSignal, continueSignal os.Signal

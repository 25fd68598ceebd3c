// Package rawsock makes a TCP connection's reads and writes as raw system
// calls, which Go's scheduler does not see.
//
// A socket is non-blocking, so its read and write calls never wait: they
// move bytes or answer EAGAIN, after which the goroutine waits in Go's
// poller as usual. Made as ordinary system calls, the scheduler treats
// them as calls that may block: when one lasts past a tick of its
// monitor thread (about 20 µs, which a loopback write under load often
// does, since it runs the receiver's TCP work too), the processor is
// handed to another thread, which is woken for it, and the calling thread
// later finds its processor gone and parks. On a busy proxy that monitor
// thread then wakes every few microseconds. Raw calls keep the processor;
// the thread runs on, as an event loop's would.
//
// It owns only the read and write paths of the connections it wraps;
// deadlines, closing, socket options, sendfile and splice go to the
// wrapped *net.TCPConn.
package rawsock

// Package sockpeek looks at a socket's receive queue without reading from
// it and without waiting. The HTTP/1.1 engine uses it to wait for an idle
// connection's next request without a read buffer, the upstream client to
// check that a pooled connection has no late bytes and no close pending.
// It owns no socket state and touches nothing but the descriptor it is
// given.
package sockpeek

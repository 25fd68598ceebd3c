//go:build !linux

package h1

// cork is Linux's TCP_CORK; elsewhere the head leaves on its own.
func (c *conn) cork(bool) {}

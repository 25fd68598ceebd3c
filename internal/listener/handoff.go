package listener

import (
	"net"
	"sync"
)

// handoff is a net.Listener fed by hand: the HTTP/1.1 engine passes it the
// connections that open with the HTTP/2 preface (h2c with prior
// knowledge), and net/http's HTTP/2 server accepts them from here.
type handoff struct {
	addr   net.Addr
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

func newHandoff(addr net.Addr) *handoff {
	return &handoff{addr: addr, conns: make(chan net.Conn), closed: make(chan struct{})}
}

// push hands c over, or closes it when the listener is already closed.
func (h *handoff) push(c net.Conn) {
	select {
	case h.conns <- c:
	case <-h.closed:
		c.Close()
	}
}

func (h *handoff) Accept() (net.Conn, error) {
	select {
	case c := <-h.conns:
		return c, nil
	case <-h.closed:
		return nil, net.ErrClosed
	}
}

func (h *handoff) Close() error {
	h.once.Do(func() { close(h.closed) })
	return nil
}

func (h *handoff) Addr() net.Addr { return h.addr }

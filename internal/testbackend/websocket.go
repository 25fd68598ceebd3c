package testbackend

import (
	"net/http"

	"github.com/coder/websocket"
)

// EchoWebSocket accepts a WebSocket and sends every message back with
// prefix in front, until the client goes.
func EchoWebSocket(w http.ResponseWriter, r *http.Request, prefix string) {
	c, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer c.CloseNow()
	for {
		typ, msg, err := c.Read(r.Context())
		if err != nil {
			return
		}
		if err := c.Write(r.Context(), typ, append([]byte(prefix), msg...)); err != nil {
			return
		}
	}
}

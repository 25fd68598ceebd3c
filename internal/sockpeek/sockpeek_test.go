package sockpeek

import (
	"testing"
	"time"

	"github.com/portico-proxy/portico/internal/testbackend"
)

// TestEmpty: a quiet socket is empty; a byte or the peer's close makes it
// not, and the peek consumes nothing.
func TestEmpty(t *testing.T) {
	c, peer := testbackend.TCPPair(t)
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var buf [1]byte
	empty := func() bool {
		var e, ok bool
		if err := raw.Control(func(fd uintptr) { e, ok = Empty(fd, buf[:]) }); err != nil {
			t.Fatal(err)
		}
		if !ok {
			t.Skip("no MSG_PEEK on this platform")
		}
		return e
	}
	// The peer's bytes and close take a moment to arrive on loopback.
	eventually := func(want bool, what string) {
		deadline := time.Now().Add(5 * time.Second)
		for empty() != want {
			if time.Now().After(deadline) {
				t.Fatalf("%s: Empty stayed %v", what, !want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	if !empty() {
		t.Fatal("a quiet socket is not empty")
	}
	peer.Write([]byte("x"))
	eventually(false, "after a byte")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := c.Read(buf[:]); n != 1 || buf[0] != 'x' {
		t.Fatalf("the peeked byte was consumed: read %d %q %v", n, buf[:n], err)
	}
	if !empty() {
		t.Fatal("empty again after the read: got not empty")
	}
	peer.CloseWrite()
	eventually(false, "after the peer's close")
}

package h2

import (
	"errors"
	"testing"

	"golang.org/x/net/http2"
)

// TestHeadersOnAnEndedStream: a HEADERS frame for a stream the client
// ended is a stream error while the response is still going (half-closed,
// RFC 9113 5.1), and a connection error once the response ended too, even
// if the handler has not returned yet and the stream is still listed.
func TestHeadersOnAnEndedStream(t *testing.T) {
	cases := []struct {
		name     string
		sentEnd  bool
		wantConn bool
	}{
		{"response still going", false, false},
		{"response ended, handler not returned", true, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &conn{streams: map[uint32]*stream{}, maxID: 1}
			st := newStream(c, 1)
			st.remoteDone, st.w.sentEnd = true, tc.sentEnd
			c.streams[1] = st
			f := &http2.MetaHeadersFrame{HeadersFrame: &http2.HeadersFrame{FrameHeader: http2.FrameHeader{
				Type: http2.FrameHeaders, StreamID: 1, Flags: http2.FlagHeadersEndStream | http2.FlagHeadersEndHeaders,
			}}}
			err := c.processHeaders(f)
			var ce http2.ConnectionError
			var se http2.StreamError
			switch {
			case tc.wantConn && !(errors.As(err, &ce) && http2.ErrCode(ce) == http2.ErrCodeStreamClosed):
				t.Fatalf("got %v, want a connection error STREAM_CLOSED", err)
			case !tc.wantConn && !(errors.As(err, &se) && se.Code == http2.ErrCodeStreamClosed):
				t.Fatalf("got %v, want a stream error STREAM_CLOSED", err)
			}
		})
	}
}

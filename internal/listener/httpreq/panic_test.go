package httpreq

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestPanicLogLimitsToOneRecordASecond: a burst of panics gives one
// record, and the next record counts the ones left out.
func TestPanicLogLimitsToOneRecordASecond(t *testing.T) {
	var out bytes.Buffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	var p PanicLog
	for range 3 {
		p.Log(log, "h9: panic serving request", "10.0.0.1:5", "boom")
	}
	if n := strings.Count(out.String(), "panic serving request"); n != 1 {
		t.Fatalf("got %d records for a burst, want 1:\n%s", n, out.String())
	}
	p.last = time.Now().Add(-2 * time.Second)
	p.Log(log, "h9: panic serving request", "10.0.0.1:5", "boom")
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(last, "suppressed=2") || !strings.Contains(last, "stack=") {
		t.Errorf("second record %q: want suppressed=2 and a stack", last)
	}
	p.Log(nil, "no logger", "", "boom") // a nil logger is fine
}

package middleware

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// AccessLog writes one JSON line per request through slog. Lines are
// formatted on the request's goroutine and handed to a writer goroutine
// through a bounded queue: a slow disk never slows requests down, and when
// the queue is full a line is dropped and counted instead.
type AccessLog struct {
	logger  *slog.Logger
	queue   chan []byte
	dropped atomic.Uint64
	done    chan struct{}
	closing sync.Once
	out     io.Writer
	now     func() time.Time
}

const accessQueueLen = 4096

// NewAccessLog starts a log writing to out. Close flushes and stops it.
func NewAccessLog(out io.Writer) *AccessLog {
	a := &AccessLog{queue: make(chan []byte, accessQueueLen), done: make(chan struct{}), out: out, now: time.Now}
	a.logger = slog.New(slog.NewJSONHandler(queueWriter{a}, nil))
	go a.run()
	return a
}

// Dropped is the number of lines lost to a full queue.
func (a *AccessLog) Dropped() uint64 { return a.dropped.Load() }

// Close writes what is queued and stops the writer.
func (a *AccessLog) Close() {
	a.closing.Do(func() { close(a.queue) })
	<-a.done
}

func (a *AccessLog) run() {
	defer close(a.done)
	bw := bufio.NewWriterSize(a.out, 64<<10)
	for line := range a.queue {
		_, _ = bw.Write(line)
		if len(a.queue) == 0 {
			_ = bw.Flush()
		}
	}
	_ = bw.Flush()
}

// queueWriter is what slog writes to: it copies the formatted line (slog
// reuses its buffer) onto the queue.
type queueWriter struct{ a *AccessLog }

func (q queueWriter) Write(p []byte) (n int, err error) {
	line := append([]byte(nil), p...)
	defer func() {
		if recover() != nil { // queue closed during shutdown
			q.a.dropped.Add(1)
		}
	}()
	select {
	case q.a.queue <- line:
	default:
		q.a.dropped.Add(1)
	}
	return len(p), nil
}

// Wrap logs every request that next serves.
func (a *AccessLog) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := a.now()
		rec := &recorder{ResponseWriter: w}
		// The ID as the request arrived: a route's request edits must not
		// change what the log records.
		id := r.Header.Get(RequestIDHeader)
		defer func() {
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			// A client that left before the response was complete is logged
			// as 499, the nginx convention; nothing was sent with it.
			if errors.Is(r.Context().Err(), context.Canceled) && (rec.status == 0 || rec.status >= 500) {
				status = 499
			}
			// A HEAD response has no body: net/http swallows what is
			// written, so nothing counts.
			bytes := rec.bytes
			if r.Method == http.MethodHead {
				bytes = 0
			}
			a.logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("remote", r.RemoteAddr),
				slog.String("method", r.Method),
				slog.String("host", r.Host),
				slog.String("uri", r.RequestURI),
				slog.String("proto", r.Proto),
				slog.Int("status", status),
				slog.Int64("bytes", bytes),
				slog.Float64("duration_ms", float64(a.now().Sub(start).Microseconds())/1000),
				slog.String("request_id", id),
				slog.String("user_agent", r.UserAgent()),
				// The cache's verdict (RFC 9211 Cache-Status): hit, miss,
				// stale, bypass; empty on routes without a cache.
				slog.String("cache", w.Header().Get("Cache-Status")),
			)
		}()
		next.ServeHTTP(rec, r)
	})
}

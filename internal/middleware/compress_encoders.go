package middleware

import (
	"fmt"
	"io"
	"sync"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// encoder is what gzip, brotli and zstd writers have in common.
type encoder interface {
	io.Writer
	Flush() error
	Close() error
	Reset(io.Writer)
}

// encoderPools keeps one pool per coding, at the route's levels. An
// encoder's state (hash tables, windows) is the expensive part of
// compressing a small response, so it is reused, never rebuilt.
type encoderPools struct {
	pools [4]sync.Pool // by httpsyntax.Coding; Identity unused
}

// brotliWindow is 256 KiB (2^18): on-the-fly responses rarely gain from
// more, and each pooled encoder holds its window.
const brotliWindow = 18

func newEncoderPools(lv config.CompressLevels) (*encoderPools, error) {
	gzipLevel, brLevel, zstdLevel := orDefault(lv.Gzip, config.DefaultGzipLevel),
		orDefault(lv.Brotli, config.DefaultBrotliLevel), orDefault(lv.Zstd, config.DefaultZstdLevel)
	// Build one of each now, so a bad level fails the build, not a request.
	if _, err := gzip.NewWriterLevel(io.Discard, gzipLevel); err != nil {
		return nil, fmt.Errorf("compress: gzip level %d: %w", gzipLevel, err)
	}
	zopts := []zstd.EOption{
		zstd.WithEncoderLevel(zstd.EncoderLevel(zstdLevel)),
		// One goroutine per stream: responses are already concurrent, and
		// a synchronous encoder flushes when asked.
		zstd.WithEncoderConcurrency(1),
		zstd.WithWindowSize(1 << 20),
		zstd.WithEncoderCRC(true),
	}
	if _, err := zstd.NewWriter(nil, zopts...); err != nil {
		return nil, fmt.Errorf("compress: zstd level %d: %w", zstdLevel, err)
	}
	p := &encoderPools{}
	p.pools[httpsyntax.Gzip].New = func() any {
		w, _ := gzip.NewWriterLevel(io.Discard, gzipLevel)
		return w
	}
	p.pools[httpsyntax.Brotli].New = func() any {
		return brotli.NewWriterOptions(io.Discard, brotli.WriterOptions{Quality: brLevel, LGWin: brotliWindow})
	}
	p.pools[httpsyntax.Zstd].New = func() any {
		w, _ := zstd.NewWriter(nil, zopts...)
		return w
	}
	return p, nil
}

func orDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// get returns an encoder of coding c writing to w.
func (p *encoderPools) get(c httpsyntax.Coding, w io.Writer) encoder {
	e := p.pools[c].Get().(encoder)
	e.Reset(w)
	return e
}

// put returns an encoder after Close; it drops its writer first so the
// pool keeps no response alive.
func (p *encoderPools) put(c httpsyntax.Coding, e encoder) {
	e.Reset(io.Discard)
	p.pools[c].Put(e)
}

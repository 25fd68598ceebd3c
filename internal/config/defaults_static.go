package config

// Defaults of the static terminal and the compress middleware.
const (
	DefaultStaticIndex     = "index.html"
	DefaultCompressMinSize = 1 << 10
	// Fast levels: on-the-fly compression is paid per response, so the
	// defaults favour throughput; nginx ships gzip level 1 for the same
	// reason.
	DefaultGzipLevel   = 1
	DefaultBrotliLevel = 3
	DefaultZstdLevel   = 1
)

// DefaultCompressEncodings is the server preference: zstd and brotli
// compress better than gzip at the same speed.
var DefaultCompressEncodings = []string{"zstd", "br", "gzip"}

// DefaultCompressTypes are media types that compress well. Images, audio,
// video, archives and WOFF fonts are compressed already.
var DefaultCompressTypes = []string{
	"text/*",
	"application/json", "application/*+json", "application/x-ndjson",
	"application/javascript", "application/x-javascript", "application/ecmascript",
	"application/xml", "application/*+xml",
	"application/wasm",
	"application/x-yaml", "application/yaml", "application/toml",
	"application/graphql-response+json",
	"image/svg+xml", "image/x-icon", "image/vnd.microsoft.icon", "image/bmp",
	"font/ttf", "font/otf", "font/collection",
	"application/vnd.ms-fontobject", "application/x-font-ttf", "application/x-font-otf",
}

func (s *Static) applyDefaults() {
	if s == nil {
		return
	}
	if len(s.Index) == 0 {
		s.Index = []string{DefaultStaticIndex}
	}
}

func (c *Compress) applyDefaults() {
	if c == nil {
		return
	}
	if len(c.Encodings) == 0 {
		c.Encodings = DefaultCompressEncodings
	}
	if len(c.Types) == 0 {
		c.Types = DefaultCompressTypes
	}
	setDefault(&c.MinSize, DefaultCompressMinSize)
	setDefault(&c.Levels.Gzip, DefaultGzipLevel)
	setDefault(&c.Levels.Brotli, DefaultBrotliLevel)
	setDefault(&c.Levels.Zstd, DefaultZstdLevel)
}

package config

// Static serves files from a directory: the `static:` terminal. In YAML a
// plain string is Root.
type Static struct {
	// Root is the directory files are served from; the whole request path
	// is looked up under it (as nginx's root). Required; it must exist when
	// Portico starts (see CheckFiles).
	Root string
	// Index lists the files tried, in order, for a directory. Default
	// ["index.html"].
	Index []string
	// Browse lists a directory without an index file (HTML, or JSON for
	// Accept: application/json). Default false: such a directory is a 404.
	Browse bool
	// SPAFallback is a file under Root (such as "/index.html") served with
	// 200 for any path that names no file. Empty means 404.
	SPAFallback string
	// Precompressed serves FILE.zst, FILE.br or FILE.gz beside FILE when the
	// client accepts that encoding.
	Precompressed bool
	// CacheControl sets Cache-Control per path: the first rule in file
	// order whose pattern matches wins. Patterns are a path prefix
	// ("/assets/"), or a suffix ("*.html"); "*" matches everything.
	CacheControl []CacheControlRule
	// Dotfiles serves names starting with "." (other than /.well-known/,
	// which is always served). Default false: they are a 404.
	Dotfiles bool
	// AllowSymlinks follows symbolic links that lead outside Root. Links
	// that stay inside Root are always followed.
	AllowSymlinks bool
	Pos           Pos
}

// CacheControlRule is one entry of Static.CacheControl.
type CacheControlRule struct {
	Pattern string
	Value   string
	Pos     Pos
}

// Compress compresses responses on the fly. In YAML `true` means every
// default.
type Compress struct {
	// Encodings is the server's preference, most preferred first, and the
	// set offered. Default [zstd, br, gzip].
	Encodings []string
	// MinSize is the smallest response compressed; a response of unknown
	// length is buffered up to MinSize to decide. Default 1KiB.
	MinSize int64
	// Types are the media types compressed: exact ("application/json"),
	// a whole type ("text/*") or a suffix ("application/*+json"). Default
	// DefaultCompressTypes.
	Types []string
	// Levels per encoding; 0 means that encoding's fast default.
	Levels CompressLevels
	Pos    Pos
}

// CompressLevels are the encoder levels: gzip 1-9 (default 1), br 1-11
// (default 1), zstd 1-4 (default 1: fastest, 2: default, 3: better, 4: best).
type CompressLevels struct {
	Gzip   int
	Brotli int
	Zstd   int
}

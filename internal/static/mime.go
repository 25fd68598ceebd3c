package static

import "strings"

// mimeTypes maps a lowercase extension to the Content-Type sent. The
// table is built in, not read from /etc/mime.types, so a response does not
// depend on the machine. Text types carry charset=utf-8.
var mimeTypes = map[string]string{
	".html":        "text/html; charset=utf-8",
	".htm":         "text/html; charset=utf-8",
	".css":         "text/css; charset=utf-8",
	".js":          "text/javascript; charset=utf-8",
	".mjs":         "text/javascript; charset=utf-8",
	".json":        "application/json",
	".map":         "application/json",
	".webmanifest": "application/manifest+json",
	".xml":         "application/xml",
	".rss":         "application/rss+xml",
	".atom":        "application/atom+xml",
	".txt":         "text/plain; charset=utf-8",
	".md":          "text/markdown; charset=utf-8",
	".csv":         "text/csv; charset=utf-8",
	".yaml":        "application/yaml",
	".yml":         "application/yaml",
	".toml":        "application/toml",
	".wasm":        "application/wasm",
	".svg":         "image/svg+xml",
	".png":         "image/png",
	".jpg":         "image/jpeg",
	".jpeg":        "image/jpeg",
	".gif":         "image/gif",
	".webp":        "image/webp",
	".avif":        "image/avif",
	".ico":         "image/vnd.microsoft.icon",
	".bmp":         "image/bmp",
	".tif":         "image/tiff",
	".tiff":        "image/tiff",
	".woff":        "font/woff",
	".woff2":       "font/woff2",
	".ttf":         "font/ttf",
	".otf":         "font/otf",
	".eot":         "application/vnd.ms-fontobject",
	".mp4":         "video/mp4",
	".m4v":         "video/mp4",
	".webm":        "video/webm",
	".ogv":         "video/ogg",
	".mov":         "video/quicktime",
	".m3u8":        "application/vnd.apple.mpegurl",
	".ts":          "video/mp2t",
	".mpd":         "application/dash+xml",
	".mp3":         "audio/mpeg",
	".m4a":         "audio/mp4",
	".ogg":         "audio/ogg",
	".oga":         "audio/ogg",
	".opus":        "audio/ogg",
	".wav":         "audio/wav",
	".flac":        "audio/flac",
	".aac":         "audio/aac",
	".pdf":         "application/pdf",
	".zip":         "application/zip",
	".gz":          "application/gzip",
	".tgz":         "application/gzip",
	".br":          "application/octet-stream",
	".zst":         "application/zstd",
	".tar":         "application/x-tar",
	".7z":          "application/x-7z-compressed",
	".bin":         "application/octet-stream",
	".exe":         "application/octet-stream",
	".dmg":         "application/octet-stream",
	".iso":         "application/octet-stream",
	".apk":         "application/vnd.android.package-archive",
	".epub":        "application/epub+zip",
	".ics":         "text/calendar; charset=utf-8",
	".vtt":         "text/vtt; charset=utf-8",
	".srt":         "text/plain; charset=utf-8",
}

const defaultType = "application/octet-stream"

// typeSlices holds each Content-Type as a one-element slice, shared by
// every response, so setting the header costs no allocation. Nothing in
// Portico writes into a header value slice in place.
var typeSlices = func() map[string][]string {
	m := make(map[string][]string, len(mimeTypes))
	for ext, t := range mimeTypes {
		m[ext] = []string{t}
	}
	return m
}()

var defaultTypeSlice = []string{defaultType}

// contentType is the Content-Type for a file name, by its extension.
func contentType(name string) []string {
	ext := extension(name)
	if ext == "" {
		return defaultTypeSlice
	}
	if t, ok := typeSlices[ext]; ok {
		return t
	}
	if lower := strings.ToLower(ext); lower != ext {
		if t, ok := typeSlices[lower]; ok {
			return t
		}
	}
	return defaultTypeSlice
}

// extension is the final ".ext" of the last path element, or "".
func extension(name string) string {
	for i := len(name) - 1; i >= 0 && name[i] != '/'; i-- {
		if name[i] == '.' {
			return name[i:]
		}
	}
	return ""
}

// compressible reports whether a sidecar is worth looking for: text-like
// types only, so a request for a JPEG costs no extra open.
func compressible(ct string) bool {
	return strings.HasPrefix(ct, "text/") || strings.HasPrefix(ct, "application/json") ||
		strings.HasPrefix(ct, "application/manifest") || strings.HasPrefix(ct, "application/xml") ||
		strings.HasPrefix(ct, "application/wasm") || strings.HasPrefix(ct, "image/svg") ||
		strings.HasPrefix(ct, "application/yaml") || strings.HasPrefix(ct, "application/rss") ||
		strings.HasPrefix(ct, "application/atom") || strings.HasPrefix(ct, "font/ttf") ||
		strings.HasPrefix(ct, "font/otf") || ct == "application/vnd.ms-fontobject"
}

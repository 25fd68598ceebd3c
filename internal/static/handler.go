// Package static owns the static terminal: it serves files from one root
// directory with correct HTTP (types, validators, conditionals, ranges,
// HEAD), index files, optional listings, a SPA fallback and precompressed
// sidecars. Small files are kept in memory (bounded, checked against the
// disk once a second); larger bodies go to the writer's ReadFrom so plain
// HTTP/1.1 sends them with sendfile.
//
// It must not compress on the fly (middleware/compress does), pick routes
// or read config files; it trusts the config it is given to be validated.
package static

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/httpsyntax"
)

// Handler serves one route's files. Build it with New. It holds the root
// directory open; Close releases it, and so does the garbage collector
// once the handler is unreachable, so a retiring generation need not
// close it under requests still running on it.
type Handler struct {
	// root is the open root directory; nil with AllowSymlinks, which
	// opens rootPath + name instead.
	root     atomic.Pointer[openRoot]
	checked  atomic.Int64 // unix nanoseconds of the last look at rootPath
	now      func() time.Time
	rootPath string
	index    []string
	browse   bool
	spa      string // relative to the root, "" for none
	precomp  bool
	dotfiles bool
	rules    []cacheRule
}

type cacheRule struct {
	prefix, suffix string // one of them, or both empty for "*"
	value          []string
}

// sidecars are tried in this order when the client accepts several with
// the same weight: the smallest first.
var sidecars = []struct {
	coding httpsyntax.Coding
	ext    string
	enc    []string
}{
	{httpsyntax.Zstd, ".zst", []string{"zstd"}},
	{httpsyntax.Brotli, ".br", []string{"br"}},
	{httpsyntax.Gzip, ".gz", []string{"gzip"}},
}

// Shared header values: one slice for every response, no allocation.
var (
	acceptRanges = []string{"bytes"}
	varyAE       = []string{"Accept-Encoding"}
	allowGetHead = []string{"GET, HEAD"}
)

// New opens the root. A root that is missing or not a directory is an
// error, so a typo fails the build instead of serving 404s.
func New(cfg *config.Static) (*Handler, error) {
	fi, err := os.Stat(cfg.Root)
	if err != nil {
		return nil, fmt.Errorf("static: root: %w", err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("static: root %q is not a directory", cfg.Root)
	}
	h := &Handler{
		index:    cfg.Index,
		browse:   cfg.Browse,
		spa:      strings.TrimPrefix(cfg.SPAFallback, "/"),
		precomp:  cfg.Precompressed,
		dotfiles: cfg.Dotfiles,
	}
	if len(h.index) == 0 {
		h.index = []string{config.DefaultStaticIndex}
	}
	if h.rootPath, err = filepath.Abs(cfg.Root); err != nil {
		return nil, fmt.Errorf("static: root: %w", err)
	}
	h.now = time.Now
	if !cfg.AllowSymlinks {
		r, err := openRootAt(h.rootPath)
		if err != nil {
			return nil, fmt.Errorf("static: root: %w", err)
		}
		h.root.Store(r)
		h.checked.Store(h.now().UnixNano())
	}
	for _, r := range cfg.CacheControl {
		rule := cacheRule{value: []string{r.Value}}
		switch {
		case r.Pattern == "*":
		case strings.HasPrefix(r.Pattern, "*."):
			rule.suffix = r.Pattern[1:]
		default:
			rule.prefix = r.Pattern
		}
		h.rules = append(h.rules, rule)
	}
	return h, nil
}

// Close releases the root directory.
func (h *Handler) Close() error {
	if r := h.root.Load(); r != nil {
		return r.dir.Close()
	}
	return nil
}

func (h *Handler) open(or *openRoot, rel string) (*os.File, error) {
	if rel == "" {
		rel = "."
	}
	if or != nil {
		return or.dir.Open(rel)
	}
	return os.Open(h.rootPath + "/" + rel)
}

// openRoot is the root directory as opened, and what it was then.
type openRoot struct {
	dir   *os.Root // resolves every name beneath it, refusing ".." and links out
	fi    fs.FileInfo
	cache fileCache
}

func openRootAt(path string) (*openRoot, error) {
	dir, err := os.OpenRoot(path)
	if err != nil {
		return nil, err
	}
	fi, err := dir.Stat(".")
	if err != nil {
		dir.Close()
		return nil, err
	}
	return &openRoot{dir: dir, fi: fi}, nil
}

// rootCheckInterval is how often the root path is looked at again.
const rootCheckInterval = time.Second

// currentRoot returns the open root, opening it again when the path now
// names another directory: a deploy that swaps a symbolic link
// (current -> release-42) or renames a new tree into place is served
// within a second, without a reload. A path that is gone keeps the old
// directory (whose files answer 404 if it was deleted).
func (h *Handler) currentRoot() *openRoot {
	r := h.root.Load()
	if r == nil {
		return nil
	}
	now := h.now().UnixNano()
	last := h.checked.Load()
	if now-last < int64(rootCheckInterval) || !h.checked.CompareAndSwap(last, now) {
		return r
	}
	fi, err := os.Stat(h.rootPath)
	if err != nil || !fi.IsDir() || os.SameFile(fi, r.fi) {
		return r
	}
	nr, err := openRootAt(h.rootPath)
	if err != nil {
		return r
	}
	// The old one is left to the garbage collector: requests running now
	// may still open files through it.
	h.root.Store(nr)
	return nr
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header()["Allow"] = allowGetHead
		writeStatus(w, http.StatusMethodNotAllowed)
		return
	}
	rel, dirSlash, v := cleanPath(r.URL.Path, h.dotfiles)
	switch v {
	case pathBad:
		writeStatus(w, http.StatusBadRequest)
		return
	case pathHidden:
		writeStatus(w, http.StatusNotFound)
		return
	}
	or := h.currentRoot()
	if or != nil && !dirSlash {
		if e := or.cache.get(rel, rel, or.dir, h.now()); e != nil && !e.missing {
			h.serveCached(w, r, or, e, rel)
			return
		}
	}
	f, fi, err := h.openStat(or, rel)
	if err == nil && fi.IsDir() {
		f, fi, rel, err = h.directory(w, r, or, f, rel, dirSlash)
		if f == nil && err == nil {
			return // answered: a redirect or a listing
		}
	} else if err == nil && dirSlash {
		f.Close()
		err = fs.ErrNotExist // "/file.txt/" names no directory
	}
	if err != nil {
		if h.spa == "" || !notFound(err) {
			writeStatus(w, statusOf(err))
			return
		}
		if f, fi, err = h.openStat(or, h.spa); err != nil || fi.IsDir() {
			closeFile(f)
			writeStatus(w, http.StatusNotFound)
			return
		}
		rel = h.spa
	}
	defer f.Close()
	h.serveFile(w, r, f, fi, rel, or)
}

// serveCached answers from a cached small file, or from its sidecar when
// the client accepts one.
func (h *Handler) serveCached(w http.ResponseWriter, r *http.Request, or *openRoot, e *cacheEntry, rel string) {
	if h.precomp && compressible(e.ct[0]) {
		if p, sf := h.sidecar(r, or, rel, e.ct); p != nil {
			defer closeFile(sf)
			h.respond(w, r, p)
			return
		}
	}
	h.respond(w, r, &e.rep)
}

func closeFile(f *os.File) {
	if f != nil {
		f.Close()
	}
}

func (h *Handler) openStat(or *openRoot, rel string) (*os.File, fs.FileInfo, error) {
	f, err := h.open(or, rel)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return f, fi, nil
}

// directory answers a request for a directory: a redirect to the slashed
// URL, an index file (returned open, with its path), or a listing. It
// closes dir.
func (h *Handler) directory(w http.ResponseWriter, r *http.Request, or *openRoot, dir *os.File, rel string, dirSlash bool) (*os.File, fs.FileInfo, string, error) {
	if !dirSlash && rel != "" {
		dir.Close()
		// Relative links in an index page resolve against the slashed URL.
		// It is built from the cleaned path, escaped: the decoded request
		// path could start with "//" (another host to a browser) or hold
		// a "?" or a space.
		target := (&url.URL{Path: "/" + rel + "/"}).EscapedPath()
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		w.Header().Set("Location", target)
		writeStatus(w, http.StatusMovedPermanently)
		return nil, nil, "", nil
	}
	for _, name := range h.index {
		p := name
		if rel != "" {
			p = rel + "/" + name
		}
		if f, fi, err := h.openStat(or, p); err == nil {
			if !fi.IsDir() {
				dir.Close()
				return f, fi, p, nil
			}
			f.Close()
		}
	}
	if !h.browse {
		dir.Close()
		return nil, nil, "", fs.ErrNotExist
	}
	defer dir.Close()
	h.listing(w, r, dir)
	return nil, nil, "", nil
}

// notFound reports an error that means "no such file": also a path
// that runs through a file ("/app.js/x").
func notFound(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// statusOf maps an open error to a status without saying more.
func statusOf(err error) int {
	switch {
	case notFound(err):
		return http.StatusNotFound
	case errors.Is(err, fs.ErrPermission):
		return http.StatusForbidden
	}
	// Anything else, such as os.Root refusing a symbolic link that leads
	// out of the root, is for the client a file that does not exist.
	return http.StatusNotFound
}

// writeStatus answers with a short neutral body.
func writeStatus(w http.ResponseWriter, code int) {
	hd := w.Header()
	text := http.StatusText(code)
	hd["Content-Type"] = textPlain
	hd["X-Content-Type-Options"] = nosniff
	hd["Content-Length"] = []string{strconv.Itoa(len(text) + 1)}
	w.WriteHeader(code)
	io.WriteString(w, text+"\n")
}

var (
	textPlain = []string{"text/plain; charset=utf-8"}
	nosniff   = []string{"nosniff"}
)

// modTime is the file's time as HTTP dates carry it: whole seconds.
func modTime(fi fs.FileInfo) time.Time {
	return fi.ModTime().Truncate(time.Second)
}

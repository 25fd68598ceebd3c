package static

import (
	"encoding/json"
	"errors"
	"html"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// maxListing bounds a directory listing; a directory with more entries
// lists the first ones by name.
const maxListing = 10_000

type entry struct {
	Name    string    `json:"name"`
	Dir     bool      `json:"dir"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
}

// listing answers with the entries of dir: JSON when the client asks for
// application/json, else a small HTML page. Dotfiles are left out unless
// they are served.
func (h *Handler) listing(w http.ResponseWriter, r *http.Request, dir *os.File) {
	des, err := dir.ReadDir(maxListing)
	if err != nil && !errors.Is(err, io.EOF) { // EOF: an empty directory
		writeStatus(w, http.StatusInternalServerError)
		return
	}
	entries := make([]entry, 0, len(des))
	for _, de := range des {
		name := de.Name()
		if name[0] == '.' && !h.dotfiles {
			continue
		}
		e := entry{Name: name, Dir: de.IsDir()}
		if fi, err := de.Info(); err == nil {
			e.Size, e.ModTime = fi.Size(), fi.ModTime().UTC().Truncate(time.Second)
		}
		entries = append(entries, e)
	}
	sortEntries(entries)
	hd := w.Header()
	hd["Cache-Control"] = []string{"no-cache"}
	addVaryAccept(hd)
	if wantsJSON(r) {
		body, _ := json.Marshal(entries)
		hd["Content-Type"] = []string{"application/json"}
		hd["Content-Length"] = []string{strconv.Itoa(len(body))}
		w.WriteHeader(http.StatusOK)
		if r.Method != http.MethodHead {
			w.Write(body)
		}
		return
	}
	body := listingHTML(r.URL.Path, entries)
	hd["Content-Type"] = []string{"text/html; charset=utf-8"}
	hd["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write([]byte(body))
	}
}

func addVaryAccept(hd http.Header) {
	hd["Vary"] = append(hd["Vary"], "Accept")
}

// sortEntries puts directories first, then names: ReadDir(n) returns
// directory order.
func sortEntries(es []entry) {
	slices.SortFunc(es, func(a, b entry) int {
		if a.Dir != b.Dir {
			if a.Dir {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
}

func wantsJSON(r *http.Request) bool {
	for _, v := range r.Header["Accept"] {
		if strings.Contains(v, "application/json") {
			return true
		}
	}
	return false
}

func listingHTML(urlPath string, es []entry) string {
	var b strings.Builder
	title := html.EscapeString(urlPath)
	b.WriteString("<!doctype html>\n<meta charset=\"utf-8\">\n<title>Index of ")
	b.WriteString(title)
	b.WriteString("</title>\n<h1>Index of ")
	b.WriteString(title)
	b.WriteString("</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n")
	if urlPath != "/" {
		b.WriteString("<tr><td><a href=\"../\">../</a></td><td></td><td></td></tr>\n")
	}
	for _, e := range es {
		name := e.Name
		size := strconv.FormatInt(e.Size, 10)
		if e.Dir {
			name += "/"
			size = "-"
		}
		b.WriteString("<tr><td><a href=\"")
		b.WriteString(html.EscapeString((&url.URL{Path: "./" + name}).EscapedPath()))
		b.WriteString("\">")
		b.WriteString(html.EscapeString(name))
		b.WriteString("</a></td><td>")
		b.WriteString(size)
		b.WriteString("</td><td>")
		b.WriteString(e.ModTime.Format(time.RFC3339))
		b.WriteString("</td></tr>\n")
	}
	b.WriteString("</table>\n")
	return b.String()
}

package static

// verdict is what the path cleaner says about a request path.
type verdict uint8

const (
	pathOK     verdict = iota
	pathBad            // malformed or a traversal attempt: 400
	pathHidden         // a dotfile while dotfiles are off: 404
)

// cleanPath checks a decoded URL path and returns it relative to the root
// ("" for the root itself, no leading or trailing slash) and whether it
// ended in a slash. It refuses rather than repairs: "." and ".." segments,
// backslashes (a separator on Windows), NUL and other control bytes are
// pathBad, whatever their encoding was on the wire, since the router
// gives the decoded form. Empty segments ("a//b") are dropped. The common
// case, an already clean path, allocates nothing.
func cleanPath(p string, dotfiles bool) (rel string, dirSlash bool, v verdict) {
	if p == "" || p[0] != '/' {
		return "", false, pathBad
	}
	clean := true
	hidden := false
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) {
			c := p[i]
			if c < 0x20 || c == 0x7f || c == '\\' {
				return "", false, pathBad
			}
			if c != '/' {
				continue
			}
		}
		seg := p[segStart:i]
		switch {
		case seg == "":
			if i < len(p) {
				clean = false // "//": an empty segment
			}
		case seg == "." || seg == "..":
			return "", false, pathBad
		case seg[0] == '.' && !dotfiles && !(segStart == 1 && seg == ".well-known"):
			hidden = true
		}
		segStart = i + 1
	}
	if hidden {
		return "", false, pathHidden
	}
	dirSlash = p[len(p)-1] == '/'
	if clean {
		rel = p[1:]
		if dirSlash && rel != "" {
			rel = rel[:len(rel)-1]
		}
		return rel, dirSlash, pathOK
	}
	return joinSegments(p), dirSlash, pathOK
}

// joinSegments rebuilds p without empty segments or the leading slash.
func joinSegments(p string) string {
	out := make([]byte, 0, len(p))
	start := 0
	for i := 0; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		if seg := p[start:i]; seg != "" {
			if len(out) > 0 {
				out = append(out, '/')
			}
			out = append(out, seg...)
		}
		start = i + 1
	}
	return string(out)
}

package httpsyntax

// Coding is a content coding Portico knows: those it can produce, and
// deflate, which only backends produce (the cache keys variants on it).
type Coding uint8

const (
	Identity Coding = iota
	Gzip
	Brotli
	Zstd
	Deflate
	numCodings
)

// Token is the coding's name in Content-Encoding and Accept-Encoding.
func (c Coding) Token() string {
	switch c {
	case Gzip:
		return "gzip"
	case Brotli:
		return "br"
	case Zstd:
		return "zstd"
	case Deflate:
		return "deflate"
	}
	return "identity"
}

// CodingByName finds a coding by its configuration name (zstd, br, gzip).
func CodingByName(name string) (Coding, bool) {
	switch name {
	case "gzip":
		return Gzip, true
	case "br":
		return Brotli, true
	case "zstd":
		return Zstd, true
	}
	return Identity, false
}

// AcceptEncoding is a parsed Accept-Encoding field (RFC 9110 12.5.3): the
// weight, in thousandths, the client gave each coding Portico knows, to
// "*", or -1 where it said nothing.
type AcceptEncoding struct {
	q    [numCodings]int16
	star int16
	// Present: the request had the field at all. Without it the client
	// has no preference, and Portico sends identity.
	Present bool
}

// ParseAcceptEncoding parses every line of the field. It never fails:
// an element it cannot read (a bad q-value, an empty name) is skipped, as
// an unknown coding is. The first mention of a coding wins.
func ParseAcceptEncoding(lines []string) AcceptEncoding {
	a := AcceptEncoding{star: -1, Present: len(lines) > 0}
	for i := range a.q {
		a.q[i] = -1
	}
	for _, line := range lines {
		for line != "" {
			var elem string
			elem, line = cutComma(line)
			name, q, ok := parseElement(elem)
			if !ok {
				continue
			}
			var slot *int16
			switch {
			case name == "*":
				slot = &a.star
			case EqualFoldASCII(name, "gzip") || EqualFoldASCII(name, "x-gzip"):
				slot = &a.q[Gzip]
			case EqualFoldASCII(name, "br"):
				slot = &a.q[Brotli]
			case EqualFoldASCII(name, "zstd"):
				slot = &a.q[Zstd]
			case EqualFoldASCII(name, "deflate"):
				slot = &a.q[Deflate]
			case EqualFoldASCII(name, "identity"):
				slot = &a.q[Identity]
			default:
				continue
			}
			if *slot < 0 {
				*slot = q
			}
		}
	}
	return a
}

// Q is the weight (0-1000) the client gives c: its own, else that of "*",
// else 1000 for identity (always acceptable unless excluded) and 0 for
// the others.
func (a AcceptEncoding) Q(c Coding) int {
	if q := a.q[c]; q >= 0 {
		return int(q)
	}
	if a.star >= 0 {
		return int(a.star)
	}
	if c == Identity {
		return 1000
	}
	return 0
}

// IdentityAllowed reports whether an uncoded response is acceptable.
func (a AcceptEncoding) IdentityAllowed() bool { return a.Q(Identity) > 0 }

// Choose picks the coding of prefs the client weighs highest, the
// earlier one in prefs on a tie, or Identity when it accepts none of them.
func (a AcceptEncoding) Choose(prefs []Coding) Coding {
	best, bestQ := Identity, 0
	if !a.Present {
		return Identity
	}
	for _, c := range prefs {
		if q := a.Q(c); q > bestQ {
			best, bestQ = c, q
		}
	}
	return best
}

// cutComma splits off the first list element.
func cutComma(s string) (elem, rest string) {
	for i := 0; i < len(s); i++ {
		if s[i] == ',' {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

// parseElement reads `coding *( OWS ";" OWS param )` and the q param.
func parseElement(elem string) (name string, q int16, ok bool) {
	elem = TrimOWS(elem)
	i := 0
	for i < len(elem) && tokenChar[elem[i]] {
		i++
	}
	name, rest := elem[:i], TrimOWS(elem[i:])
	if name == "" {
		return "", 0, false
	}
	q = 1000
	for rest != "" {
		if rest[0] != ';' {
			return "", 0, false
		}
		rest = TrimOWS(rest[1:])
		j := 0
		for j < len(rest) && rest[j] != ';' {
			j++
		}
		param := TrimOWS(rest[:j])
		rest = rest[j:]
		if len(param) >= 2 && (param[0] == 'q' || param[0] == 'Q') && param[1] == '=' {
			v, good := parseQValue(param[2:])
			if !good {
				return "", 0, false
			}
			q = v
		}
	}
	return name, q, true
}

// parseQValue reads `"0" [ "." 0*3DIGIT ] / "1" [ "." 0*3("0") ]` as
// thousandths.
func parseQValue(s string) (int16, bool) {
	if s == "" || len(s) > 5 || (s[0] != '0' && s[0] != '1') {
		return 0, false
	}
	v := int16(s[0]-'0') * 1000
	if len(s) == 1 {
		return v, true
	}
	if s[1] != '.' {
		return 0, false
	}
	scale := int16(100)
	for i := 2; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		v += int16(c-'0') * scale
		scale /= 10
	}
	if v > 1000 {
		return 0, false
	}
	return v, true
}

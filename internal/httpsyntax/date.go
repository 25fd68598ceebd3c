package httpsyntax

import (
	"net/http"
	"time"
)

// ParseDate reads an HTTP date (RFC 9110 section 5.6.7). The preferred
// IMF-fixdate is read strictly by position, as the grammar fixes every
// character: "Sun, 06 Nov 1994 08:49:37 GMT". Only the letters are taken
// case-insensitively, as most caches do; two spaces, a one-digit hour or a
// "UTC" zone make the value invalid, which for Expires means "already
// expired" (RFC 9111 section 5.3). The obsolete RFC 850 and asctime forms
// are still accepted, as the RFC asks of recipients.
func ParseDate(s string) (time.Time, bool) {
	if len(s) == len(http.TimeFormat) && s[3] == ',' {
		return parseIMFFixdate(s)
	}
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range [...]string{time.RFC850, time.ANSIC} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

var (
	dayNames   = [...]string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}
	monthNames = [...]string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}
)

func parseIMFFixdate(s string) (time.Time, bool) {
	// Sun, 06 Nov 1994 08:49:37 GMT
	// 0123456789012345678901234567
	if s[4] != ' ' || s[7] != ' ' || s[11] != ' ' || s[16] != ' ' || s[19] != ':' || s[22] != ':' || s[25] != ' ' {
		return time.Time{}, false
	}
	if !EqualFoldASCII(s[26:], "GMT") || nameIndex(dayNames[:], s[:3]) < 0 {
		return time.Time{}, false
	}
	mon := nameIndex(monthNames[:], s[8:11])
	day, ok1 := digits(s[5:7])
	year, ok2 := digits(s[12:16])
	hour, ok3 := digits(s[17:19])
	minute, ok4 := digits(s[20:22])
	sec, ok5 := digits(s[23:25])
	if mon < 0 || !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 60 {
		return time.Time{}, false
	}
	return time.Date(year, time.Month(mon+1), day, hour, minute, sec, 0, time.UTC), true
}

func nameIndex(names []string, s string) int {
	for i, n := range names {
		if EqualFoldASCII(n, s) {
			return i
		}
	}
	return -1
}

func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, true
}

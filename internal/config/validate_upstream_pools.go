package config

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// poolPolicy checks the resilience keys of one upstream.
func (v *validator) poolPolicy(path string, u *Upstream) {
	if u.HashKey != "" && !validHashKey(u.HashKey) {
		v.errorf(path+".hash_key", "%q is not ip, header:NAME, cookie:NAME or uri", u.HashKey)
	}
	if u.StickyCookie != "" {
		if u.Balance != "sticky" {
			v.errorf(path+".sticky_cookie", "only used with balance: sticky")
		} else if !isToken(u.StickyCookie) {
			v.errorf(path+".sticky_cookie", "%q is not a valid cookie name", u.StickyCookie)
		}
	}
	for i, s := range u.RetryOn {
		if !validRetryOn(s) {
			v.errorf(indexPath(path+".retry_on", i), "%q is not error, timeout, 5xx or a status from 500 to 599", s)
		}
	}
	if u.MaxConns < 0 {
		v.errorf(path+".max_conns", "must not be negative")
	}
	if u.MaxPending < 0 {
		v.errorf(path+".max_pending", "must not be negative")
	}
	if u.ReplayBody < 0 {
		v.errorf(path+".replay_body", "must not be negative")
	}
	v.nonNegative(path+".try_timeout", u.TryTimeout)
	v.nonNegative(path+".slow_start", u.SlowStart)
	v.nonNegative(path+".resolve", u.Resolve)
	if u.Resolve > 0 && u.Resolve < minResolve {
		v.errorf(path+".resolve", "must be at least %v: DNS is not a per-request lookup", minResolve)
	}
	if e := u.Eject; e != nil && !e.Off {
		v.nonNegative(path+".eject.duration", e.Duration)
		v.nonNegative(path+".eject.max_duration", e.MaxDuration)
		if e.MaxDuration > 0 && e.Duration > e.MaxDuration {
			v.errorf(path+".eject.max_duration", "must not be shorter than duration (%v)", e.Duration)
		}
	}
}

// minResolve keeps a typo such as "30ms" from hammering the resolver.
const minResolve = time.Second

func validHashKey(s string) bool {
	switch {
	case s == "ip" || s == "uri":
		return true
	case strings.HasPrefix(s, "header:"):
		return isToken(s[len("header:"):])
	case strings.HasPrefix(s, "cookie:"):
		return isToken(s[len("cookie:"):])
	}
	return false
}

func validRetryOn(s string) bool {
	switch s {
	case "error", "timeout", "5xx":
		return true
	}
	c, err := strconv.Atoi(s)
	return err == nil && c >= 500 && c <= 599
}

// ParseStatusRange reads a health check's passing statuses: one code
// ("200") or an inclusive range ("200-399"), within 100..599.
func ParseStatusRange(s string) (lo, hi int, err error) {
	a, b, isRange := strings.Cut(s, "-")
	lo, errA := strconv.Atoi(strings.TrimSpace(a))
	hi, errB := lo, error(nil)
	if isRange {
		hi, errB = strconv.Atoi(strings.TrimSpace(b))
	}
	if errA != nil || errB != nil || lo < 100 || hi > 599 || lo > hi {
		return 0, 0, fmt.Errorf("%q is not a status or a range such as 200-399", s)
	}
	return lo, hi, nil
}

// checkSRVURL checks srv+http://_service._proto.name: the backends are
// the targets of that DNS SRV record, with its ports and weights.
func checkSRVURL(raw string) (string, string) {
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return "", fmt.Sprintf("%q is not a valid URL", raw)
	case u.Scheme != "srv+http":
		return "", fmt.Sprintf("scheme %q is not supported; use srv+http", u.Scheme)
	case u.Port() != "":
		return "", "an SRV backend takes its ports from the DNS record; remove the port"
	case !strings.HasPrefix(u.Hostname(), "_") || !validHostname(u.Hostname()):
		return "", fmt.Sprintf("%q needs an SRV name such as srv+http://_http._tcp.example.com", raw)
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		return "", "must not contain user info, a query or a fragment"
	}
	return u.String(), ""
}

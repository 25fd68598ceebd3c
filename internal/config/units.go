package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// sizeUnits are the suffixes ParseSize accepts. Both families are offered
// because people copy sizes from docs written either way; the binary ones
// are what nginx and the kernel mean by "k".
var sizeUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first so "KiB" is not read as "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

const sizeHint = "use bytes or a unit: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB"

// ParseSize reads a byte size: a plain integer is bytes, otherwise an
// integer followed by one of B, KB, MB, GB, TB (powers of 1000) or KiB,
// MiB, GiB, TiB (powers of 1024), as in "64KiB". Negative sizes are errors.
func ParseSize(s string) (int64, error) {
	num, unit := s, ""
	if i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		num, unit = s[:i], s[i:]
	}
	if strings.HasPrefix(s, "-") {
		return 0, errors.New("must not be negative")
	}
	if num == "" {
		return 0, fmt.Errorf("invalid size %q; %s", s, sizeHint)
	}
	mult := int64(0)
	if unit == "" {
		mult = 1
	}
	for _, u := range sizeUnits {
		if unit == u.suffix {
			mult = u.mult
		}
	}
	if mult == 0 {
		return 0, fmt.Errorf("unknown size unit %q in %q; %s", unit, s, sizeHint)
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

// ParseDuration reads a duration in Go syntax ("500ms", "1m30s"). Unlike
// time.ParseDuration it refuses a bare number, even 0: "30" could mean
// seconds or milliseconds, and a wrong guess is a silent outage.
func ParseDuration(s string) (time.Duration, error) {
	if strings.HasPrefix(s, "-") {
		return 0, errors.New("must not be negative")
	}
	if s != "" && strings.Trim(s, "0123456789.") == "" {
		return 0, fmt.Errorf("missing unit in duration %s; write e.g. %ss or %sms", s, s, s)
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q; use Go units such as 500ms, 10s, 2m or 1h", s)
	}
	return d, nil
}

package config

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in      string
		want    int64
		wantErr string
	}{
		{"0", 0, ""},
		{"1024", 1024, ""},
		{"10B", 10, ""},
		{"64KiB", 64 << 10, ""},
		{"1MiB", 1 << 20, ""},
		{"1GiB", 1 << 30, ""},
		{"2TiB", 2 << 40, ""},
		{"10KB", 10_000, ""},
		{"1MB", 1_000_000, ""},
		{"1GB", 1_000_000_000, ""},
		{"1TB", 1_000_000_000_000, ""},
		{"", 0, `invalid size ""; use bytes or a unit: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB`},
		{"KiB", 0, `invalid size "KiB"; use bytes or a unit: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB`},
		{"64kb", 0, `unknown size unit "kb" in "64kb"; use bytes or a unit: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB`},
		{"64 KiB", 0, `unknown size unit " KiB" in "64 KiB"; use bytes or a unit: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB`},
		{"1.5MiB", 0, `unknown size unit ".5MiB" in "1.5MiB"; use bytes or a unit: B, KB, MB, GB, TB, KiB, MiB, GiB, TiB`},
		{"-1", 0, "must not be negative"},
		{"-1KiB", 0, "must not be negative"},
		{"9223372036854775807", 1<<63 - 1, ""},
		{"9223372036854775808", 0, `size "9223372036854775808" is too large`},
		{"8388608TiB", 0, `size "8388608TiB" is too large`},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("ParseSize(%q) = %d, %q; want %d, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

func TestParseDuration(t *testing.T) {
	tests := []struct {
		in      string
		want    time.Duration
		wantErr string
	}{
		{"500ms", 500 * time.Millisecond, ""},
		{"10s", 10 * time.Second, ""},
		{"1m30s", 90 * time.Second, ""},
		{"2h", 2 * time.Hour, ""},
		{"0s", 0, ""},
		{"30", 0, "missing unit in duration 30; write e.g. 30s or 30ms"},
		{"0", 0, "missing unit in duration 0; write e.g. 0s or 0ms"},
		{"1.5", 0, "missing unit in duration 1.5; write e.g. 1.5s or 1.5ms"},
		{"-5s", 0, "must not be negative"},
		{"5 seconds", 0, `invalid duration "5 seconds"; use Go units such as 500ms, 10s, 2m or 1h`},
		{"", 0, `invalid duration ""; use Go units such as 500ms, 10s, 2m or 1h`},
		{"1d", 0, `invalid duration "1d"; use Go units such as 500ms, 10s, 2m or 1h`},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if got != tt.want || gotErr != tt.wantErr {
			t.Errorf("ParseDuration(%q) = %v, %q; want %v, %q", tt.in, got, gotErr, tt.want, tt.wantErr)
		}
	}
}

// TestYAMLScalarsForUnits checks the YAML side: how each node type is read
// where a size or a duration is expected.
func TestYAMLScalarsForUnits(t *testing.T) {
	tests := []struct {
		value   string
		wantErr string
	}{
		{"max_header_bytes: 4096", ""},
		{"max_header_bytes: 4KiB", ""},
		{"max_header_bytes: 1.5", "expected a size such as 64KiB"},
		{"max_header_bytes: [1]", "expected a size such as 64KiB"},
		{"idle_timeout: 90s", ""},
		{"idle_timeout: 90", "missing unit in duration 90; write e.g. 90s or 90ms"},
		{"idle_timeout: true", "expected a duration such as 500ms"},
		{"idle_timeout: {s: 1}", "expected a duration such as 500ms"},
		{"max_conns_per_ip: 10", ""},
		{"max_conns_per_ip: ten", "expected an integer"},
		{"max_conns_per_ip: 99999999999", "99999999999 is too large"},
	}
	for _, tt := range tests {
		src := "listeners: [{addr: ':80', limits: {" + tt.value + "}}]\nroutes: [{respond: ok}]\n"
		_, errs := parse("t.yaml", []byte(src))
		got := ""
		if len(errs) > 0 {
			got = errs[0].Msg
		}
		if got != tt.wantErr || len(errs) > 1 {
			t.Errorf("%s: got %v, want %q", tt.value, errs, tt.wantErr)
		}
	}
}

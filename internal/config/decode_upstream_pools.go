package config

import (
	"strconv"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// fields are the keys of PoolPolicy inside an upstream mapping.
func (pp *PoolPolicy) fields(d *decoder) []field {
	return []field{
		{"sticky_cookie", func(n ast.Node, p string) { pp.StickyCookie = d.str(n, p) }},
		{"retry_on", func(n ast.Node, p string) { pp.RetryOn = d.strList(n, p) }},
		{"retry_budget", func(n ast.Node, p string) { pp.RetryBudget = d.percent(n, p) }},
		{"try_timeout", func(n ast.Node, p string) { pp.TryTimeout = d.duration(n, p) }},
		{"replay_body", func(n ast.Node, p string) { pp.ReplayBody = d.size(n, p) }},
		{"max_conns", func(n ast.Node, p string) { pp.MaxConns = d.integer(n, p, 1) }},
		{"max_pending", func(n ast.Node, p string) { pp.MaxPending = d.integer(n, p, 1) }},
		{"eject", func(n ast.Node, p string) { pp.Eject = decodeEject(d, n, p) }},
		{"slow_start", func(n ast.Node, p string) { pp.SlowStart = d.duration(n, p) }},
		{"resolve", func(n ast.Node, p string) { pp.Resolve = d.duration(n, p) }},
	}
}

// decodeEject takes false as off, true as the defaults, or a mapping.
func decodeEject(d *decoder, n ast.Node, path string) *Eject {
	e := &Eject{Pos: d.at(path)}
	on, ok := d.toggle(n, path, []field{
		{"failures", func(n ast.Node, p string) { e.Failures = d.integer(n, p, 1) }},
		{"duration", func(n ast.Node, p string) { e.Duration = d.duration(n, p) }},
		{"max_duration", func(n ast.Node, p string) { e.MaxDuration = d.duration(n, p) }},
		{"max_percent", func(n ast.Node, p string) { e.MaxPercent = d.percent(n, p) }},
	})
	if !ok {
		return nil
	}
	e.Off = !on
	return e
}

// percent decodes a whole percentage from 1 to 100, written 20 or "20%".
func (d *decoder) percent(n ast.Node, path string) int {
	s := d.str(n, path)
	if d.bad[path] || s == "" {
		return 0
	}
	v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(s), "%"))
	if err != nil || v < 1 || v > 100 {
		d.fail(n, path, "%q is not a percentage from 1%% to 100%%", s)
		return 0
	}
	return v
}

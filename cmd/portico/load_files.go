package main

import "github.com/portico-proxy/portico/internal/config"

// loadConfig loads and validates a config file, then checks what it names
// on disk (static roots), so run, validate and reload report a missing
// directory with its file:line like any other config error.
func loadConfig(path string) (*config.Config, error) {
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckFiles(); err != nil {
		return nil, err
	}
	return cfg, nil
}

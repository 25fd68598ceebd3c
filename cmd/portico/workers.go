package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/portico-proxy/portico/internal/admin"
	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/supervisor"
)

// superviseWorkers runs a config with workers > 1: this process starts
// the workers, hands signals to them and answers the admin address for
// all of them; it serves no request itself.
func superviseWorkers(cfg *config.Config, load func() (*config.Config, error), args []string, log *slog.Logger,
	sigs chan os.Signal, stderr io.Writer) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("workers: finding this binary: %w", err)
	}
	sup, err := supervisor.Start(supervisor.Options{
		Exe:         exe,
		Args:        append([]string{"run"}, args...),
		Workers:     cfg.Workers,
		GOMAXPROCS:  max(1, runtime.GOMAXPROCS(0)/cfg.Workers),
		StopTimeout: cfg.DrainTimeout + 10*time.Second,
		Stdout:      os.Stdout,
		Stderr:      stderr,
		Log:         log,
	})
	if err != nil {
		return err
	}
	var relay *admin.Server
	if cfg.Admin != nil {
		if relay, err = admin.NewRelay(cfg.Admin.Addr, sup.AdminAddrs, log); err != nil {
			sup.Stop()
			return err
		}
		go func() {
			if err := relay.Serve(); err != nil {
				log.Error("admin relay stopped", "err", err.Error())
			}
		}()
	}
	log.Info("workers serving", "workers", cfg.Workers, "pids", fmt.Sprint(sup.PIDs()))
	for sig := range sigs {
		if sig != syscall.SIGHUP {
			log.Info("draining", "signal", sig.String())
			break
		}
		// Each worker reads the file itself; checking it here first keeps
		// one broken file from being reported N times.
		next, err := load()
		if err != nil {
			log.Error("reload failed; the workers keep their config", "err", err.Error())
			continue
		}
		if next.Workers != cfg.Workers {
			log.Warn("reload: a change of workers needs a restart", "running", cfg.Workers, "file", next.Workers)
		}
		sup.Signal(syscall.SIGHUP)
	}
	if relay != nil {
		_ = relay.Shutdown(context.Background())
	}
	sup.Stop()
	return nil
}

// loadWorkerConfig loads the config as worker w runs it: its admin API on
// a loopback port of its own (the supervisor relays the configured
// address), and its share of the cache: each worker keeps its own stores,
// so the configured sizes are split, and the disk tier gets a directory
// per worker (a disk store belongs to one process).
func loadWorkerConfig(path string, w *supervisor.Worker) (*config.Config, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	if cfg.Admin != nil {
		host, _, err := net.SplitHostPort(cfg.Admin.Addr)
		if err != nil {
			return nil, fmt.Errorf("admin.addr: %w", err)
		}
		cfg.Admin = &config.Admin{Addr: net.JoinHostPort(host, "0"), Pos: cfg.Admin.Pos}
	}
	n := int64(max(cfg.Workers, 1))
	if c := cfg.Cache; c != nil {
		c.Memory /= n
		if d := c.Disk; d != nil {
			d.Path = filepath.Join(d.Path, fmt.Sprintf("worker-%d", w.Index))
			d.Max /= n
		}
	}
	return cfg, nil
}

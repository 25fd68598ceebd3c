package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/portico-proxy/portico/internal/admin"
	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/supervisor"
)

// workerSet is a supervisor's side of a config with workers > 1: the
// worker processes and the admin relay. This process serves no request
// itself.
type workerSet struct {
	sup     *supervisor.Supervisor
	relay   *admin.Server // nil without an admin key
	log     *slog.Logger
	workers int
}

// startWorkers starts the workers of cfg, each running `portico run`
// with args, and the admin relay.
func startWorkers(cfg *config.Config, args []string, log *slog.Logger, stderr io.Writer) (*workerSet, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("workers: finding this binary: %w", err)
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
		return nil, err
	}
	ws := &workerSet{sup: sup, log: log, workers: cfg.Workers}
	if cfg.Admin != nil {
		if ws.relay, err = admin.NewRelay(cfg.Admin.Addr, sup.AdminAddrs, log); err != nil {
			sup.Stop()
			return nil, err
		}
		go func() {
			if err := ws.relay.Serve(); err != nil {
				log.Error("admin relay stopped", "err", err.Error())
			}
		}()
	}
	log.Info("workers serving", "workers", cfg.Workers, "pids", fmt.Sprint(sup.PIDs()))
	return ws, nil
}

// serveUntilSignal passes SIGHUP on to the workers once load has read
// the file without error, and stops them all on SIGTERM or SIGINT.
func (ws *workerSet) serveUntilSignal(sigs chan os.Signal, load func() (*config.Config, error)) error {
	defer signal.Stop(sigs)
	for sig := range sigs {
		if sig != syscall.SIGHUP {
			ws.log.Info("draining", "signal", sig.String())
			break
		}
		// Each worker reads the file itself; checking it here first keeps
		// one broken file from being reported N times.
		next, err := load()
		if err != nil {
			ws.log.Error("reload failed; the workers keep their config", "err", err.Error())
			continue
		}
		if next.Workers != ws.workers {
			ws.log.Warn("reload: a change of workers needs a restart", "running", ws.workers, "file", next.Workers)
		}
		ws.sup.Signal(syscall.SIGHUP)
	}
	if ws.relay != nil {
		_ = ws.relay.Shutdown(context.Background())
	}
	ws.sup.Stop()
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
	n := int64(cfg.Workers) // at least 1 once loaded
	if c := cfg.Cache; c != nil {
		c.Memory /= n
		if d := c.Disk; d != nil {
			d.Path = filepath.Join(d.Path, fmt.Sprintf("worker-%d", w.Index))
			d.Max /= n
		}
	}
	return cfg, nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/listener"
	"github.com/portico-proxy/portico/internal/middleware"
	"github.com/portico-proxy/portico/internal/router"
)

func cmdRun(args []string, stderr io.Writer) error {
	path, err := configFlag("run", args)
	if err != nil {
		return err
	}
	sigs := catchSignals()
	defer signal.Stop(sigs)
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	cfg, err := config.Load(path)
	if err != nil {
		return err
	}
	inst, err := start(cfg, log, func() (*config.Config, error) { return config.Load(path) }, os.Stdout)
	if err != nil {
		return err
	}
	return inst.serveUntilSignal(sigs)
}

func cmdValidate(args []string, stdout io.Writer) error {
	path, err := configFlag("validate", args)
	if err != nil {
		return err
	}
	if _, err := config.Load(path); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n", path)
	return nil
}

// instance is one running Portico: its listeners, the live generation and
// how to load the next one.
type instance struct {
	log     *slog.Logger
	cur     *listener.Current
	servers []*listener.Server
	shared  router.Shared
	load    func() (*config.Config, error)
	mu      sync.Mutex // serialises reloads
	served  sync.WaitGroup
	errs    chan error
}

// start builds the first generation and binds every listener. Nothing is
// left running when it fails.
func start(cfg *config.Config, log *slog.Logger, load func() (*config.Config, error), stdout io.Writer) (*instance, error) {
	in := &instance{log: log, cur: &listener.Current{}, load: load, errs: make(chan error, len(cfg.Listeners)),
		shared: router.Shared{RequestIDs: middleware.NewRequestIDs(), Stdout: stdout}}
	c, err := newCache(cfg, log)
	if err != nil {
		return nil, err
	}
	in.shared.Cache = c
	gen, err := router.Build(cfg, in.shared)
	if err != nil {
		c.Close()
		return nil, err
	}
	in.cur.Swap(gen)
	for _, l := range cfg.Listeners {
		s, err := listener.New(l, in.cur, log)
		if err != nil {
			in.closeListeners()
			gen.Retire()
			c.Close()
			return nil, err
		}
		in.servers = append(in.servers, s)
	}
	for _, s := range in.servers {
		in.served.Add(1)
		go func() {
			defer in.served.Done()
			if err := s.Serve(); err != nil {
				in.errs <- err
			}
		}()
		log.Info("listening", "addr", s.Addr().String())
	}
	return in, nil
}

func (in *instance) closeListeners() {
	for _, s := range in.servers {
		_ = s.Shutdown(context.Background())
	}
}

// reload loads the config again and swaps in a new generation. Any error
// leaves the running generation untouched.
func (in *instance) reload() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	cfg, err := in.load()
	if err != nil {
		return fmt.Errorf("reload: config kept: %w", err)
	}
	old := in.cur.Load()
	if changed := listenersChanged(old.Config, cfg); changed != "" {
		in.log.Warn("reload: listener changes need a restart; applying the rest", "change", changed)
		cfg.Listeners = old.Config.Listeners
	}
	if changed := cacheChanged(old.Config, cfg); changed != "" {
		in.log.Warn("reload: cache store changes need a restart; the running stores are kept", "change", changed)
	}
	gen, err := router.Build(cfg, in.shared)
	if err != nil {
		return fmt.Errorf("reload: config kept: %w", err)
	}
	in.cur.Swap(gen)
	// Requests already running on the old generation finish on it; its
	// pools close their connections as those requests return them.
	old.Retire()
	return nil
}

// listenersChanged describes a change in listener addresses, names or
// limits, which a reload cannot apply to open sockets.
func listenersChanged(a, b *config.Config) string {
	if len(a.Listeners) != len(b.Listeners) {
		return "number of listeners"
	}
	for i := range a.Listeners {
		x, y := a.Listeners[i], b.Listeners[i]
		if x.Addr != y.Addr || x.Name != y.Name || x.Limits != y.Limits || !sameCerts(x.TLS, y.TLS) {
			return "listener " + x.Addr
		}
	}
	return ""
}

// sameCerts reports whether two TLS settings name the same certificate
// files. Certificates are loaded when a listener starts, so a change needs
// a restart in this release.
func sameCerts(a, b *config.TLS) bool {
	if a == nil || b == nil {
		return a == b
	}
	if len(a.Certs) != len(b.Certs) {
		return false
	}
	for i := range a.Certs {
		if a.Certs[i].Cert != b.Certs[i].Cert || a.Certs[i].Key != b.Certs[i].Key {
			return false
		}
	}
	return true
}

// shutdown drains: listeners stop accepting, in-flight requests get until
// the drain timeout, then the rest is closed.
func (in *instance) shutdown() {
	timeout := in.cur.Load().Config.DrainTimeout
	if timeout <= 0 {
		timeout = config.DefaultDrainTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var wg sync.WaitGroup
	for _, s := range in.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.Shutdown(ctx); err != nil {
				in.log.Warn("drain timed out; closing connections", "addr", s.Addr().String())
			}
		}()
	}
	wg.Wait()
	in.served.Wait()
	in.cur.Load().Retire()
	if in.shared.Cache != nil {
		_ = in.shared.Cache.Close()
	}
}

// catchSignals starts listening for the control signals. Call it before
// anything else starts: a SIGHUP that arrives during startup must queue a
// reload, not kill the process (its default action).
func catchSignals() chan os.Signal {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGINT)
	return sigs
}

func (in *instance) serveUntilSignal(sigs chan os.Signal) error {
	defer signal.Stop(sigs)
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if err := in.reload(); err != nil {
					in.log.Error("reload failed", "err", err.Error())
				} else {
					in.log.Info("reloaded")
				}
				continue
			}
			in.log.Info("draining", "signal", sig.String())
			in.shutdown()
			return nil
		case err := <-in.errs:
			in.shutdown()
			return errors.Join(errors.New("listener failed"), err)
		}
	}
}

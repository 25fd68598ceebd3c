package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/portico-proxy/portico/internal/admin"
	"github.com/portico-proxy/portico/internal/config"
	"github.com/portico-proxy/portico/internal/listener"
	"github.com/portico-proxy/portico/internal/middleware"
	"github.com/portico-proxy/portico/internal/router"
	"github.com/portico-proxy/portico/internal/supervisor"
	"github.com/portico-proxy/portico/internal/upstream"
)

func cmdRun(args []string, stderr io.Writer) error {
	path, err := configFlag("run", args)
	if err != nil {
		return err
	}
	sigs := catchSignals()
	defer signal.Stop(sigs)
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	worker, err := supervisor.Join()
	if err != nil {
		return err
	}
	load := func() (*config.Config, error) { return loadConfig(path) }
	if worker != nil {
		log = log.With("worker", worker.Index)
		load = func() (*config.Config, error) { return loadWorkerConfig(path, worker) }
	}
	cfg, err := load()
	if err != nil {
		return err
	}
	if worker == nil && cfg.Workers > 1 {
		ws, err := startWorkers(cfg, args, log, stderr)
		if err != nil {
			return err
		}
		return ws.serveUntilSignal(sigs, load)
	}
	inst, err := start(cfg, log, load, os.Stdout, worker)
	if err != nil {
		return err
	}
	var orphaned <-chan struct{}
	if worker != nil {
		orphaned = worker.Orphaned()
		if err := worker.Ready(inst.adminAddr()); err != nil {
			inst.shutdown()
			return err
		}
	}
	return inst.serveUntilSignal(sigs, orphaned)
}

func cmdValidate(args []string, stdout io.Writer) error {
	path, err := configFlag("validate", args)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(path)
	if err != nil {
		return err
	}
	for _, w := range listener.ExpiryWarnings(cfg, time.Now(), config.CertExpiryWarning) {
		fmt.Fprintf(stdout, "%s: warning: %s\n", path, w)
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
	admin   *admin.Server // nil without an admin key
	mu      sync.Mutex    // serialises reloads
	served  sync.WaitGroup
	errs    chan error

	started    time.Time
	reloads    int       // successful reloads, under mu
	lastReload time.Time // under mu
	reloadErr  string    // the last failed reload's error, under mu
}

// start builds the first generation and binds every listener. Nothing is
// left running when it fails. A worker (non-nil w) shares its listener
// addresses and ticket keys with the other workers.
func start(cfg *config.Config, log *slog.Logger, load func() (*config.Config, error), stdout io.Writer, w *supervisor.Worker) (*instance, error) {
	in := &instance{log: log, cur: &listener.Current{}, load: load, errs: make(chan error, len(cfg.Listeners)+1),
		shared:  router.Shared{RequestIDs: middleware.NewRequestIDs(), Stdout: stdout, Drains: upstream.NewDrainSet()},
		started: time.Now()}
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
	opts := tlsOptions(cfg)
	if w != nil {
		opts.ReusePort, opts.TicketSecret = true, w.Secret
	}
	for _, l := range cfg.Listeners {
		s, err := listener.NewWithOptions(l, in.cur, log, opts)
		if err != nil {
			in.closeListeners()
			gen.Retire()
			c.Close()
			return nil, err
		}
		in.servers = append(in.servers, s)
	}
	if cfg.Admin != nil {
		if err := in.startAdmin(cfg.Admin.Addr); err != nil {
			in.closeListeners()
			gen.Retire()
			return nil, err
		}
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

// adminAddr is where the admin API listens, "" without one.
func (in *instance) adminAddr() string {
	if in.admin == nil {
		return ""
	}
	return in.admin.Addr().String()
}

func (in *instance) closeListeners() {
	for _, s := range in.servers {
		_ = s.Shutdown(context.Background())
	}
}

// startAdmin binds the admin listener; like listener addresses, its
// address is read at start only.
func (in *instance) startAdmin(addr string) error {
	a, err := admin.New(addr, admin.Sources{
		Generation:   in.cur.Load,
		Reload:       in.reload,
		Status:       in.status,
		Certificates: in.certificates,
		Cache:        in.shared.Cache,
	}, in.log)
	if err != nil {
		return err
	}
	in.admin = a
	in.served.Add(1)
	go func() {
		defer in.served.Done()
		if err := a.Serve(); err != nil {
			in.errs <- err
		}
	}()
	in.log.Info("admin listening", "addr", a.Addr().String())
	return nil
}

func (in *instance) status() admin.Status {
	in.mu.Lock()
	defer in.mu.Unlock()
	gen := in.cur.Load()
	st := admin.Status{Version: version, Started: in.started, Reloads: in.reloads, LastReload: in.lastReload,
		ReloadError: in.reloadErr, ConfigFile: gen.Config.File, Routes: len(gen.Config.Routes),
		Upstreams: len(gen.Config.Upstreams)}
	for _, s := range in.servers {
		st.Listeners = append(st.Listeners, s.Addr().String())
	}
	fillRuntime(&st)
	return st
}

// reload loads the config again and swaps in a new generation. Any error
// leaves the running generation untouched.
func (in *instance) reload() (err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	defer func() {
		in.reloadErr = ""
		if err != nil {
			in.reloadErr = err.Error()
			return
		}
		in.reloads++
		in.lastReload = time.Now()
	}()
	cfg, err := in.load()
	if err != nil {
		return fmt.Errorf("reload: config kept: %w", err)
	}
	old := in.cur.Load()
	if changed := listenersChanged(old.Config, cfg); changed != "" {
		in.log.Warn("reload: listener changes need a restart; applying the rest", "change", changed)
		cfg.Listeners = old.Config.Listeners
	}
	if !sameAdmin(old.Config.Admin, cfg.Admin) {
		in.log.Warn("reload: admin address changes need a restart; keeping the running one")
		cfg.Admin = old.Config.Admin
	}
	if changed := cacheChanged(old.Config, cfg); changed != "" {
		in.log.Warn("reload: cache store changes need a restart; the running stores are kept", "change", changed)
	}
	gen, err := router.Build(cfg, in.shared)
	if err != nil {
		return fmt.Errorf("reload: config kept: %w", err)
	}
	in.cur.Swap(gen)
	// A drain that arrived while gen was being built marked the old pools
	// (and the shared set) only; now that gen is live, take the marks over.
	for _, p := range gen.Pools() {
		p.SyncDrains()
	}
	in.reloadCerts(cfg)
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
		if x.Addr != y.Addr || x.Name != y.Name || x.Limits != y.Limits || !listener.SameTLSPolicy(x.TLS, y.TLS) ||
			x.HTTP3 != y.HTTP3 || !sameRedirect(x.RedirectHTTPS, y.RedirectHTTPS) {
			return "listener " + x.Addr
		}
	}
	return ""
}

func sameAdmin(a, b *config.Admin) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.Addr == b.Addr
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
	if in.admin != nil {
		_ = in.admin.Shutdown(ctx)
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

// serveUntilSignal serves until SIGTERM or SIGINT, or until orphaned
// closes (a worker whose supervisor is gone), and reloads on SIGHUP.
func (in *instance) serveUntilSignal(sigs chan os.Signal, orphaned <-chan struct{}) error {
	defer signal.Stop(sigs)
	for {
		select {
		case <-orphaned:
			in.log.Warn("draining: the supervisor is gone")
			in.shutdown()
			return nil
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

func fillRuntime(st *admin.Status) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	st.PID = os.Getpid()
	st.GoMaxProcs = runtime.GOMAXPROCS(0)
	st.Goroutines = runtime.NumGoroutine()
	st.HeapInuseMiB = float64(m.HeapInuse) / (1 << 20)
}

package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strconv"

	"github.com/portico-proxy/portico/internal/config"
)

// cmdProxy is the one-liner: one listener, one backend, no file. It builds
// the same config a file would, so it gets the same checks and defaults.
func cmdProxy(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("proxy", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	from := fs.String("from", ":8080", "address to listen on")
	to := fs.String("to", "", "backend URL, e.g. http://127.0.0.1:3000")
	accessLog := fs.Bool("access-log", false, "log every request to stdout")
	if err := fs.Parse(args); err != nil {
		return usageError{"proxy: " + err.Error()}
	}
	if *to == "" {
		return usageError{"proxy: --to URL is required"}
	}
	cfg, err := config.Parse("proxy", []byte(oneLinerConfig(*from, *to, *accessLog)))
	if err != nil {
		return err
	}
	sigs := catchSignals()
	defer signal.Stop(sigs)
	log := slog.New(slog.NewJSONHandler(stderr, nil))
	inst, err := start(cfg, log, func() (*config.Config, error) { return cfg, nil }, os.Stdout, nil)
	if err != nil {
		return err
	}
	return inst.serveUntilSignal(sigs, nil)
}

func oneLinerConfig(from, to string, accessLog bool) string {
	s := fmt.Sprintf("listeners:\n  - addr: %s\nroutes:\n  - match: /\n    proxy: %s\n",
		strconv.Quote(from), strconv.Quote(to))
	if accessLog {
		s += "access_log: stdout\n"
	}
	return s
}

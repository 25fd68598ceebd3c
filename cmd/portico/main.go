// Command portico is the Portico reverse proxy and web server.
//
//	portico run --config portico.yaml   serve (SIGHUP reloads, SIGTERM drains)
//	portico validate --config FILE      check a config, print every error
//	portico proxy --from :8080 --to http://127.0.0.1:3000
//	portico demo                        a self-contained tour
//	portico version
//
// The wiring is written out here, with no registries: config → generation
// (router.Build) → listeners (listener.New) → signals.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "0.1.0-dev"

func main() {
	os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: portico <command> [flags]

commands:
  run       --config FILE (-c)   serve with a config file
  validate  --config FILE (-c)   check a config file and exit
  proxy     --from ADDR --to URL  proxy one address to one backend, no file
  demo      [--addr ADDR]        start a demo with built-in backends
  version                        print the version
`

func runCLI(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "run":
		err = cmdRun(rest, stderr)
	case "validate":
		err = cmdValidate(rest, stdout)
	case "proxy":
		err = cmdProxy(rest, stderr)
	case "demo":
		err = cmdDemo(rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "portico", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "portico: unknown command %q\n%s", cmd, usage)
		return 2
	}
	if err == nil {
		return 0
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	fmt.Fprintln(stderr, err)
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

type usageError struct{ msg string }

func (e usageError) Error() string { return "portico: " + e.msg }

// configFlag parses --config/-c for run and validate.
func configFlag(name string, args []string) (string, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	var path string
	fs.StringVar(&path, "config", "", "config file")
	fs.StringVar(&path, "c", "", "config file (short)")
	if err := fs.Parse(args); err != nil {
		return "", usageError{fmt.Sprintf("%s: %v", name, err)}
	}
	if path == "" && fs.NArg() == 1 {
		path = fs.Arg(0)
	}
	if path == "" {
		return "", usageError{name + ": --config FILE is required"}
	}
	return path, nil
}

// Command liftrescue is the elevator emergency rescue dispatch service: one binary that serves the
// API and the map UI, migrates and fills its database, and runs a demo city.
//
// It wires every package together and is the only one allowed to import them all.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `liftrescue — elevator emergency rescue dispatch

Usage:
  liftrescue demo     [flags]   run the service on a demo city (Zaozhuang), the first thing to try
  liftrescue serve    [flags]   run the service
  liftrescue migrate  [flags]   apply database migrations and exit
  liftrescue import   districts|organizations|elevators FILE [flags]
                                import district outlines (GeoJSON) or a CSV registry
                                (UTF-8 or GB18030) into the database "serve" uses
  liftrescue user     add|list|password [USERNAME] [flags]
                                manage who signs in (the first admin is made at first start)
  liftrescue key      add|list|revoke [NAME|ID] [flags]
                                manage the API keys of external systems (hotline, IoT platforms)
  liftrescue loadgen  [flags]   drive a running server over a tracker protocol (benchmarks, demos)
  liftrescue verify   [flags]   check the incident record's hash chain; names the first broken link
  liftrescue scenario [flags]   walk two full rescues over the HTTP API (its own server unless --url)
  liftrescue version            print the version

Run "liftrescue COMMAND --help" for the flags of a command.`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "liftrescue:", err)
		}
		os.Exit(2)
	}
}

// run dispatches a command line. Output goes to stdout, logs and errors to stderr.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, usage)
		return flag.ErrHelp
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return runServe(ctx, rest, stdout, stderr)
	case "demo":
		return runDemo(ctx, rest, stdout, stderr)
	case "migrate":
		return runMigrate(ctx, rest, stdout, stderr)
	case "import":
		return runImport(ctx, rest, stdout, stderr)
	case "loadgen":
		return runLoadgen(ctx, rest, stdout, stderr)
	case "user":
		return runUser(ctx, rest, stdout, stderr)
	case "key":
		return runKey(ctx, rest, stdout, stderr)
	case "verify":
		return runVerify(ctx, rest, stdout, stderr)
	case "scenario":
		return runScenario(ctx, rest, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "liftrescue", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprintln(stdout, usage)
		return nil
	}
	fmt.Fprintln(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

package main

import (
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
	_ "time/tzdata" // the centre's zone must load on a machine without zoneinfo
)

// Config is read once per command: defaults, overridden by LIFTRESCUE_* environment variables,
// overridden by flags. It is validated before anything starts.
type Config struct {
	Addr     string // HTTP listen address
	DataDir  string // directory of the embedded database
	DB       string // PostgreSQL URL; empty selects the embedded SQLite database
	TimeZone string // the centre's zone, for times shown and local times read
	LogLevel string
	LogJSON  bool

	location *time.Location
}

// envPrefix starts the environment variable of every flag: --addr reads LIFTRESCUE_ADDR.
const envPrefix = "LIFTRESCUE_"

func envName(flagName string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// flags registers flags whose defaults come from the environment, and remembers environment values
// that do not parse so that the command can refuse them.
type flags struct {
	*flag.FlagSet
	errs []error
}

func newFlags(name, usage string) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	f := &flags{FlagSet: fs}
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags (each also read from the environment variable shown):\n", usage)
		fs.VisitAll(func(fl *flag.Flag) {
			def := ""
			if fl.DefValue != "" && fl.DefValue != "false" && fl.DefValue != "0" {
				def = fmt.Sprintf(" (default %q)", fl.DefValue)
			}
			fmt.Fprintf(fs.Output(), "  --%s  [%s]\n      %s%s\n", fl.Name, envName(fl.Name), fl.Usage, def)
		})
	}
	return f
}

func (f *flags) String(p *string, name, def, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		def = v
	}
	f.StringVar(p, name, def, usage)
}

func (f *flags) Int(p *int, name string, def int, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		n, err := strconv.Atoi(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: want an integer", envName(name), v))
		}
		def = n
	}
	f.IntVar(p, name, def, usage)
}

func (f *flags) Bool(p *bool, name string, def bool, usage string) {
	if v, ok := os.LookupEnv(envName(name)); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			f.errs = append(f.errs, fmt.Errorf("%s=%q: want true or false", envName(name), v))
		}
		def = b
	}
	f.BoolVar(p, name, def, usage)
}

// parse parses the arguments and reports bad environment values as well.
func (f *flags) parse(args []string) error {
	if err := f.Parse(args); err != nil {
		return err
	}
	return errors.Join(f.errs...)
}

// storeFlags registers the flags that choose the database.
func (c *Config) storeFlags(f *flags) {
	f.String(&c.DataDir, "data", "data", "directory of the embedded SQLite database")
	f.String(&c.DB, "db", "", "PostgreSQL URL (postgres://user@host:5432/db); empty uses the embedded database in --data")
	f.String(&c.TimeZone, "tz", "Asia/Shanghai", "the centre's time zone: times are shown and local times in imports are read in it")
	f.String(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	f.Bool(&c.LogJSON, "log-json", false, "write logs as JSON lines")
}

// serveFlags registers the flags of the commands that serve HTTP.
func (c *Config) serveFlags(f *flags) {
	c.storeFlags(f)
	f.String(&c.Addr, "addr", "127.0.0.1:8080", "HTTP listen address (host:port; port 0 picks a free one)")
}

// Validate checks the configuration once, before anything starts.
func (c *Config) Validate() error {
	loc, err := time.LoadLocation(c.TimeZone)
	if err != nil {
		return fmt.Errorf("--tz %q: not a time zone name such as Asia/Shanghai", c.TimeZone)
	}
	c.location = loc
	if c.Addr != "" {
		if _, _, err := net.SplitHostPort(c.Addr); err != nil {
			return fmt.Errorf("--addr %q: want host:port, e.g. 127.0.0.1:8080", c.Addr)
		}
	}
	if c.DB != "" && !strings.HasPrefix(c.DB, "postgres://") && !strings.HasPrefix(c.DB, "postgresql://") {
		return fmt.Errorf("--db: want a postgres:// URL, or nothing for the embedded database")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", c.LogLevel)
	}
	return nil
}

// sqlitePath is the embedded database file of a command ("liftrescue" or "demo").
func (c *Config) sqlitePath(name string) string { return filepath.Join(c.DataDir, name+".db") }

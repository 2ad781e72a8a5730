package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/csvimport"
)

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	var iopt liftrescue.ImportOptions
	var crs string
	f := newFlags("import", `liftrescue import elevators|organizations FILE [flags]: import a CSV registry

The file is UTF-8 or GB18030 (as Excel saves it in China), with English or Chinese column names.
Elevators are upserted by equipment code and name their units by organisation code;
organisations are upserted by code. Every bad row is reported with its line and column, and by
default one bad row imports nothing.`)
	f.SetOutput(stderr)
	cfg.storeFlags(f)
	f.Bool(&iopt.Partial, "partial", false, "import the good rows and report the bad ones")
	f.Bool(&iopt.DryRun, "dry-run", false, "check everything and write nothing")
	f.String(&crs, "crs", "wgs84", "coordinate system of lat/lon in the file: wgs84 or gcj02 (converted to WGS-84)")
	kind, file, rest := importArgs(f.FlagSet, args)
	if err := f.parse(rest); err != nil {
		return err
	}
	if kind != "elevators" && kind != "organizations" || file == "" {
		f.Usage()
		return fmt.Errorf("want: liftrescue import elevators|organizations FILE")
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	in, err := os.Open(file)
	if err != nil {
		return err
	}
	defer in.Close()
	store, err := openStore(ctx, &cfg, "liftrescue")
	if err != nil {
		return err
	}
	defer store.Close()
	opt := csvimport.Options{CRS: crs, Location: cfg.location}
	var res *liftrescue.ImportResult
	if kind == "elevators" {
		res, err = csvimport.ImportElevators(ctx, store, in, opt, iopt)
	} else {
		res, err = csvimport.ImportOrganizations(ctx, store, in, opt, iopt)
	}
	if err != nil {
		for _, d := range liftrescue.ErrorDetails(err) {
			fmt.Fprintf(stderr, "%s:%d: %s: %s\n", file, d.Line, d.Field, d.Reason)
		}
		return fmt.Errorf("%s", liftrescue.ErrorMessage(err))
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// importArgs takes the kind and the file from among the arguments, so that flags may stand before
// or after them; a flag that is not boolean takes the next argument as its value.
func importArgs(fs *flag.FlagSet, args []string) (kind, file string, flags []string) {
	var positional []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if len(a) < 2 || a[0] != '-' {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		name := strings.TrimLeft(a, "-")
		if strings.Contains(name, "=") {
			continue
		}
		if fl := fs.Lookup(name); fl != nil && !isBoolFlag(fl) && i+1 < len(args) {
			i++
			flags = append(flags, args[i])
		}
	}
	positional = append(positional, "", "")
	return positional[0], positional[1], flags
}

func isBoolFlag(fl *flag.Flag) bool {
	b, ok := fl.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

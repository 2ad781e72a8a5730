package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/csvimport"
	"github.com/liftrescue/liftrescue/geo"
)

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg Config
	var iopt liftrescue.ImportOptions
	var crs string
	f := newFlags("import", `liftrescue import districts|organizations|elevators FILE [flags]: import a registry file

Import into the database that "serve" uses (data/liftrescue.db, or --db), in this order:
  districts      a GeoJSON FeatureCollection of district outlines, properties code (or
                 adcode) and name, optionally rural; upserted by code
  organizations  CSV: code, kind, name, district, address, lat, lon, duty_phones, contact_name,
                 contact_phone; upserted by code
  elevators      CSV: rescue_code, equipment_code, address, building, district, lat, lon, kind,
                 floors, manufacturer, model, installed_on, user_unit_code,
                 maintenance_unit_code, last_maintained_at, inspection_valid_until, status;
                 upserted by equipment code; units are named by organisation code
CSV files are UTF-8 or GB18030 (as Excel saves them in China), with English or Chinese column
names. Every bad row is reported with its line and column, and by default one bad row imports
nothing. Columns a file leaves out keep their stored values.`)
	f.SetOutput(stderr)
	cfg.storeFlags(f)
	f.Bool(&iopt.Partial, "partial", false, "import the good rows and report the bad ones")
	f.Bool(&iopt.DryRun, "dry-run", false, "check everything and write nothing")
	f.String(&crs, "crs", "wgs84", "coordinate system of lat/lon in the file: wgs84 or gcj02 (converted to WGS-84)")
	kind, file, rest := importArgs(f.FlagSet, args)
	if err := f.parse(rest); err != nil {
		return err
	}
	if kind != "elevators" && kind != "organizations" && kind != "districts" || file == "" {
		f.Usage()
		return fmt.Errorf("want: liftrescue import districts|organizations|elevators FILE")
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
	switch kind {
	case "districts":
		var ds []liftrescue.District
		if ds, err = geo.ReadDistricts(in, crs); err == nil && !iopt.DryRun {
			res, err = liftrescue.UpsertDistricts(ctx, store, ds)
		} else if err == nil {
			res = &liftrescue.ImportResult{Rows: len(ds), DryRun: true}
		}
	case "elevators":
		res, err = csvimport.ImportElevators(ctx, store, in, opt, iopt)
	default:
		res, err = csvimport.ImportOrganizations(ctx, store, in, opt, iopt)
	}
	if err != nil {
		for _, d := range liftrescue.ErrorDetails(err) {
			where := strconv.Itoa(d.Line)
			if d.Index != nil {
				where = "feature " + strconv.Itoa(*d.Index)
			}
			fmt.Fprintf(stderr, "%s:%s: %s: %s\n", file, where, d.Field, d.Reason)
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

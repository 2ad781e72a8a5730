package liftrescue_test

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/liftrescue/liftrescue"

// allowedOurs says which of our packages each package may import, so that imports keep pointing
// inward and the layout stays a true map of the system.
var allowedOurs = map[string][]string{
	"":                      []string{},
	"geo":                   {""},
	"gps":                   {"", "geo"},
	"dispatch":              {"", "geo"},
	"planning":              {"", "geo"},
	"geo/geotest":           {},
	"dispatch/dispatchtest": {"", "dispatch", "geo", "store/sqlite"},
	"csvimport":             {"", "geo"},
	"demo":                  {""},
	"migrations":            {},
	"ui":                    {},
	"store/sqlite":          {"", "migrations", "store/internal/upsert", "store/internal/sqlq"},
	"store/postgres":        {"", "migrations", "store/internal/upsert", "store/internal/sqlq"},
	"store/internal/upsert": {""},
	"store/internal/sqlq":   {""},
	"store/postgres/pgtest": {},
	"store/storetest":       {""},
	"api":                   {"", "auth", "csvimport", "geo", "gps", "iot", "planning", "stream"},
	"auth":                  {""},
	"stream":                {"", "geo"},
	"live":                  {"", "geo", "gps"},
	"loadgen":               {"", "gps", "iot"},
	"notify":                {""},
	"iot":                   {""},
	// e2e drives the built binary through a browser; its tests read the API with loadgen's client.
	"e2e": {"loadgen"},
}

// fenced third-party modules may be imported only by the packages named.
var fenced = map[string][]string{
	"github.com/labstack/echo":            {"api"},
	"github.com/jackc/pgx":                {"store/postgres", "store/postgres/pgtest"},
	"modernc.org/sqlite":                  {"store/sqlite"},
	"github.com/uber/h3-go":               {"geo"},
	"github.com/tidwall/rtree":            {"geo"},
	"github.com/tidwall/geoindex":         {"geo"},
	"github.com/eclipse/paho.mqtt.golang": {"iot"},
}

func TestImportMap(t *testing.T) {
	out, err := exec.Command("go", "list", "-e", "-json", "./...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p struct {
			ImportPath string
			Imports    []string
		}
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")
		if strings.HasPrefix(rel, "cmd/") {
			continue // the command wires everything
		}
		allowed, known := allowedOurs[rel]
		if !known {
			t.Errorf("package %q has no entry in the import map: add one that says what it may import", rel)
			continue
		}
		for _, imp := range p.Imports {
			if imp == module || strings.HasPrefix(imp, module+"/") {
				dep := strings.TrimPrefix(strings.TrimPrefix(imp, module), "/")
				if !contains(allowed, dep) {
					t.Errorf("%s imports %s: not allowed (may import %q)", p.ImportPath, imp, allowed)
				}
				continue
			}
			for prefix, owners := range fenced {
				if strings.HasPrefix(imp, prefix) && !contains(owners, rel) {
					t.Errorf("%s imports %s, which only %v may use", p.ImportPath, imp, owners)
				}
			}
			if rel == "" && strings.Contains(strings.SplitN(imp, "/", 2)[0], ".") && !strings.HasPrefix(imp, "github.com/paulmach/orb") {
				t.Errorf("the root package imports %s: it may use only the standard library and orb", imp)
			}
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

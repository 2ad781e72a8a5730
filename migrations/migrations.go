// Package migrations embeds the numbered SQL migrations of each database dialect. Files are named
// NNNN_what.sql, applied in order, each in its own transaction, and recorded in the
// schema_migrations table. A released file is never edited: a change is a new file.
//
// It imports nothing of ours; the stores run the files with their own drivers.
package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// Migration is one numbered SQL file.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Load returns the migrations of a dialect ("sqlite" or "postgres") in version order.
func Load(dialect string) ([]Migration, error) {
	entries, err := fs.ReadDir(files, dialect)
	if err != nil {
		return nil, fmt.Errorf("migrations for %q: %w", dialect, err)
	}
	var out []Migration
	for _, e := range entries {
		num, name, ok := strings.Cut(strings.TrimSuffix(e.Name(), ".sql"), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration file %s: want NNNN_name.sql", e.Name())
		}
		b, err := files.ReadFile(path.Join(dialect, e.Name()))
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: v, Name: name, SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i, m := range out {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrations for %q: version %d where %d was expected", dialect, m.Version, i+1)
		}
	}
	return out, nil
}

// Latest returns the highest version of a dialect.
func Latest(dialect string) (int, error) {
	ms, err := Load(dialect)
	if err != nil {
		return 0, err
	}
	return len(ms), nil
}

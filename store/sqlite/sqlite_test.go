package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/sqlite"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// MustOpen opens a fresh database in a temporary directory.
func MustOpen(tb testing.TB, now func() time.Time) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "liftrescue.db"), sqlite.Options{Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(tb testing.TB, now func() time.Time) liftrescue.Store { return MustOpen(tb, now) })
}

// Reopening a database applies no migration twice and keeps the data.
func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	ctx := context.Background()
	for range 2 {
		db, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := db.UpsertDistrict(ctx, &liftrescue.District{Code: "370402", Name: "市中区"}); err != nil {
			t.Fatal(err)
		}
		if err := db.Ready(ctx); err != nil {
			t.Fatal(err)
		}
		db.Close()
	}
}

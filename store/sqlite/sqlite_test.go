package sqlite_test

import (
	"context"
	"database/sql"
	"os"
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

// A path is a path: # and ? in a directory name are not the end of a URI.
func TestOpenPathWithURICharacters(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	path := filepath.Join(root, "a#b?c", "d%20e", "liftrescue.db")
	for range 2 {
		db, err := sqlite.Open(ctx, path, sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		storetest.MustOK(t, db.UpsertDistrict(ctx, &liftrescue.District{Code: "370402", Name: "市中区"}))
		_, err = db.FindDistrict(ctx, "370402")
		storetest.MustOK(t, err)
		db.Close()
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("the database is not where it was asked for: %v", err)
	}
	entries, err := os.ReadDir(root)
	storetest.MustOK(t, err)
	if len(entries) != 1 || entries[0].Name() != "a#b?c" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("the data directory holds %q, want only a#b?c", names)
	}
}

// An import that does not write never takes the write lock: a dry run, or an all-or-nothing
// import with a bad row, answers at once while another connection holds the lock.
func TestImportChecksTakeNoWriteLock(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "liftrescue.db")
	db, err := sqlite.Open(ctx, path, sqlite.Options{})
	storetest.MustOK(t, err)
	defer db.Close()
	storetest.MustOK(t, db.UpsertDistrict(ctx, &liftrescue.District{Code: "370402", Name: "市中区"}))
	orgs := []liftrescue.OrganizationRow{
		{Line: 2, Org: liftrescue.Organization{Code: "U1", Kind: liftrescue.OrgUserUnit, Name: "阳光物业", District: "370402"}},
		{Line: 3, Org: liftrescue.Organization{Code: "M1", Kind: liftrescue.OrgMaintenance, Name: "迅达维保", District: "370402"}},
	}
	_, err = db.ImportOrganizations(ctx, orgs, liftrescue.ImportOptions{})
	storetest.MustOK(t, err)
	rows := storetest.ElevatorRows(3)

	other, err := sql.Open("sqlite", "file:"+path+"?_txlock=immediate")
	storetest.MustOK(t, err)
	defer other.Close()
	lock, err := other.BeginTx(ctx, nil)
	storetest.MustOK(t, err)
	defer lock.Rollback()

	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := db.ImportElevators(ctx, rows, liftrescue.ImportOptions{DryRun: true})
	storetest.MustOK(t, err)
	if res.Created != 3 {
		t.Errorf("dry run = %+v, want 3 created", res)
	}
	_, err = db.ImportOrganizations(ctx, orgs, liftrescue.ImportOptions{DryRun: true})
	storetest.MustOK(t, err)
	rows[1].UserUnitCode = "U9"
	_, err = db.ImportElevators(ctx, rows, liftrescue.ImportOptions{})
	storetest.MustCode(t, err, liftrescue.EINVALID)
	res, err = db.ImportElevators(ctx, rows[1:2], liftrescue.ImportOptions{Partial: true})
	storetest.MustOK(t, err)
	if res.Rejected != 1 {
		t.Errorf("partial import of a bad row = %+v, want it rejected", res)
	}
}

// BenchmarkImportElevators100k imports a city's worth of elevators in one file while another
// writer keeps writing, as dispatchers do during an import. writer-wait-ms is the longest that
// writer waited for the write lock: what the import's write transaction costs everyone else.
func BenchmarkImportElevators100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	db := MustOpen(b, nil)
	storetest.MustUnits(b, db)
	rows := storetest.ElevatorRows(n)
	var maxWait time.Duration
	for b.Loop() {
		stop := make(chan struct{})
		waited := make(chan time.Duration)
		go func() {
			var longest time.Duration
			for {
				select {
				case <-stop:
					waited <- longest
					return
				default:
				}
				start := time.Now()
				if err := db.UpsertDistrict(ctx, &liftrescue.District{Code: "370403", Name: "薛城区"}); err != nil {
					b.Error(err)
				}
				longest = max(longest, time.Since(start))
			}
		}()
		res, err := db.ImportElevators(ctx, rows, liftrescue.ImportOptions{})
		close(stop)
		maxWait = max(maxWait, <-waited)
		if err != nil {
			b.Fatal(err)
		}
		if res.Created+res.Updated != n {
			b.Fatalf("import = %+v, want %d rows written", res, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
	b.ReportMetric(float64(maxWait.Milliseconds()), "writer-wait-ms")
}

func TestParseTime(t *testing.T) {
	for _, s := range []string{"2026-11-21T02:30:00.123456Z", "1999-12-31T23:59:59.999999Z", "2026-02-28T00:00:00.000000Z"} {
		got, err := sqlite.ParseTime(s)
		want, werr := time.Parse("2006-01-02T15:04:05.000000Z", s)
		if err != nil || werr != nil || !got.Equal(want) || got.Location() != time.UTC {
			t.Errorf("parseTime(%q) = %v, %v; want %v", s, got, err, want)
		}
	}
	for _, s := range []string{"2026-13-21T02:30:00.123456Z", "2026-11-21T02:30:00Z", "2026-11-21 02:30:00.123456Z", "2026-02-31T00:00:00.000000Z", "garbage"} {
		if _, err := sqlite.ParseTime(s); err == nil {
			t.Errorf("parseTime(%q) accepted", s)
		}
	}
}

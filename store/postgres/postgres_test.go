package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/migrations"
	"github.com/liftrescue/liftrescue/store/postgres"
	"github.com/liftrescue/liftrescue/store/postgres/pgtest"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// MustOpen opens a fresh database; it is closed, then dropped, when the test ends.
func MustOpen(tb testing.TB, now func() time.Time) *postgres.DB {
	tb.Helper()
	dbURL := pgtest.MustDatabase(tb)
	db, err := postgres.Open(context.Background(), dbURL, postgres.Options{Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestConformance(t *testing.T) {
	pgtest.ServerURL(t)
	storetest.Run(t, func(tb testing.TB, now func() time.Time) liftrescue.Store { return MustOpen(tb, now) })
}

// Times come back in UTC whatever the zone of the process or the server session; the suite
// compares them with Equal, which ignores the zone.
func TestTimesInUTC(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, func() time.Time { return time.Date(2026, 11, 21, 10, 30, 0, 123456789, time.FixedZone("CST", 8*3600)) })
	storetest.MustOK(t, db.UpsertDistrict(ctx, &liftrescue.District{Code: "370402", Name: "市中区"}))
	o := &liftrescue.Organization{Code: "U1", Kind: liftrescue.OrgUserUnit, Name: "阳光物业", District: "370402"}
	storetest.MustOK(t, db.CreateOrganization(ctx, o))
	got, err := db.FindOrganization(ctx, o.ID)
	storetest.MustOK(t, err)
	want := time.Date(2026, 11, 21, 2, 30, 0, 123456000, time.UTC)
	for _, tm := range []time.Time{o.CreatedAt, got.CreatedAt, got.UpdatedAt} {
		if !tm.Equal(want) || tm.Location() != time.UTC {
			t.Errorf("time %v (%s), want %v in UTC to the microsecond", tm, tm.Location(), want)
		}
	}
}

// A change of kind that elevators rely on is a row error of an organisation import; other rows
// still go in when the import is partial.
func TestImportOrganizationKindChange(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, nil)
	storetest.MustOK(t, db.UpsertDistrict(ctx, &liftrescue.District{Code: "370402", Name: "市中区"}))
	org := func(line int, code string, kind liftrescue.OrgKind) liftrescue.OrganizationRow {
		return liftrescue.OrganizationRow{Line: line, Org: liftrescue.Organization{Code: code, Kind: kind, Name: "单位" + code, District: "370402"}}
	}
	_, err := db.ImportOrganizations(ctx, []liftrescue.OrganizationRow{
		org(2, "U1", liftrescue.OrgUserUnit), org(3, "M1", liftrescue.OrgMaintenance), org(4, "F1", liftrescue.OrgFire)}, liftrescue.ImportOptions{})
	storetest.MustOK(t, err)
	_, err = db.ImportElevators(ctx, []liftrescue.ElevatorRow{{Line: 2, UserUnitCode: "U1", MaintenanceUnitCode: "M1", Elevator: liftrescue.Elevator{
		RescueCode: "100001", EquipmentCode: "31103704022015000001", Address: "光明路1号", District: "370402", Lat: 34.86, Lon: 117.55,
		Kind: liftrescue.KindTraction}}}, liftrescue.ImportOptions{})
	storetest.MustOK(t, err)

	res, err := db.ImportOrganizations(ctx, []liftrescue.OrganizationRow{
		org(2, "M1", liftrescue.OrgVolunteer), // relied on by the elevator
		org(3, "F1", liftrescue.OrgVolunteer), // relied on by nothing
		org(4, "V1", liftrescue.OrgVolunteer),
	}, liftrescue.ImportOptions{Partial: true})
	storetest.MustOK(t, err)
	if res.Created != 1 || res.Updated != 1 || res.Rejected != 1 || res.Errors[0].Line != 2 || res.Errors[0].Field != "kind" {
		t.Fatalf("import = %+v, want 1 created, 1 updated, line 2 rejected on kind", res)
	}
	for code, want := range map[string]liftrescue.OrgKind{"M1": liftrescue.OrgMaintenance, "F1": liftrescue.OrgVolunteer, "V1": liftrescue.OrgVolunteer} {
		o, err := db.FindOrganizationByCode(ctx, code)
		storetest.MustOK(t, err)
		if o.Kind != want {
			t.Errorf("%s is a %s, want %s", code, o.Kind, want)
		}
	}
}

// A NUL byte or bytes that are not UTF-8, which PostgreSQL refuses in any text, are the client's
// mistake, said in words a client may read.
func TestBadText(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, nil)
	for _, bad := range []string{"U1\x00", "\xff"} {
		_, err := db.FindOrganizationByCode(ctx, bad)
		storetest.MustCode(t, err, liftrescue.EINVALID)
		if msg := liftrescue.ErrorMessage(err); msg != "text contains a NUL character or bytes that are not UTF-8" {
			t.Errorf("message %q", msg)
		}
	}
}

// Creates that race for the same code, plate or device id: one wins, and every other gets the
// conflict that the check before the write gives, naming the field and the winner, whether that
// check or the unique index caught it.
func TestConcurrentCreatesOfTakenValues(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t, nil)
	user, maint := storetest.MustUnits(t, db)
	team := &liftrescue.Team{OrganizationID: maint.ID, Name: "一队"}
	storetest.MustOK(t, db.CreateTeam(ctx, team))

	const writers = 8
	// race runs create for writers at once and checks the answers; idOf gives the winner's id.
	race := func(t *testing.T, what, field, value string, create func(i int) (id func() int64, err error)) {
		t.Helper()
		start := make(chan struct{})
		ids := make([]func() int64, writers)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for i := range writers {
			wg.Go(func() {
				<-start
				ids[i], errs[i] = create(i)
			})
		}
		close(start)
		wg.Wait()
		var winner int64
		for i, err := range errs {
			if err == nil {
				if winner != 0 {
					t.Fatalf("%s %s %s: two creates succeeded", what, field, value)
				}
				winner = ids[i]()
			}
		}
		if winner == 0 {
			t.Fatalf("%s %s %s: no create succeeded: %v", what, field, value, errs)
		}
		want := liftrescue.Taken(what, field, value, winner)
		for _, err := range errs {
			if err == nil {
				continue
			}
			if liftrescue.ErrorCode(err) != liftrescue.ECONFLICT || liftrescue.ErrorMessage(err) != want.Message ||
				fmt.Sprint(liftrescue.ErrorDetails(err)) != fmt.Sprint(want.Details) {
				t.Errorf("%s %s %s: %v (details %+v), want %q with details %+v", what, field, value, err, liftrescue.ErrorDetails(err), want.Message, want.Details)
			}
		}
	}
	for round := range 10 {
		rescue := fmt.Sprintf("2%05d", round)
		race(t, "elevator", "rescue_code", rescue, func(i int) (func() int64, error) {
			e := &liftrescue.Elevator{RescueCode: rescue, EquipmentCode: fmt.Sprintf("311037040220%03d%05d", round, i),
				Address: "光明路1号", District: "370402", Lat: 34.86, Lon: 117.55, Kind: liftrescue.KindTraction,
				UserUnitID: user.ID, MaintenanceUnitID: maint.ID}
			return func() int64 { return e.ID }, db.CreateElevator(ctx, e)
		})
		equipment := fmt.Sprintf("311037040220%03d99999", round)
		race(t, "elevator", "equipment_code", equipment, func(i int) (func() int64, error) {
			e := &liftrescue.Elevator{RescueCode: fmt.Sprintf("3%03d%02d", round, i), EquipmentCode: equipment,
				Address: "光明路1号", District: "370402", Lat: 34.86, Lon: 117.55, Kind: liftrescue.KindTraction,
				UserUnitID: user.ID, MaintenanceUnitID: maint.ID}
			return func() int64 { return e.ID }, db.CreateElevator(ctx, e)
		})
		code := fmt.Sprintf("V%d", round)
		race(t, "organization", "code", code, func(int) (func() int64, error) {
			o := &liftrescue.Organization{Code: code, Kind: liftrescue.OrgVolunteer, Name: "救援队", District: "370402"}
			return func() int64 { return o.ID }, db.CreateOrganization(ctx, o)
		})
		plate := fmt.Sprintf("鲁D%05d", round)
		race(t, "vehicle", "plate", plate, func(i int) (func() int64, error) {
			v := &liftrescue.Vehicle{TeamID: team.ID, Plate: plate, DeviceID: fmt.Sprintf("0139%04d%02d", round, i)}
			return func() int64 { return v.ID }, db.CreateVehicle(ctx, v)
		})
		device := fmt.Sprintf("0138%08d", round)
		race(t, "vehicle", "device_id", device, func(i int) (func() int64, error) {
			v := &liftrescue.Vehicle{TeamID: team.ID, Plate: fmt.Sprintf("鲁E%03d%02d", round, i), DeviceID: device}
			return func() int64 { return v.ID }, db.CreateVehicle(ctx, v)
		})
	}
}

// mustMigrations checks that every migration is recorded exactly once.
func mustMigrations(t *testing.T, dbURL string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var rows, versions, highest int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT version), coalesce(max(version), 0) FROM schema_migrations`).
		Scan(&rows, &versions, &highest); err != nil {
		t.Fatal(err)
	}
	latest, err := migrations.Latest("postgres")
	if err != nil {
		t.Fatal(err)
	}
	if rows != latest || versions != latest || highest != latest {
		t.Fatalf("schema_migrations has %d rows, %d versions, up to %d; want each migration once, up to %d", rows, versions, highest, latest)
	}
}

// Opening a database again applies no migration twice and keeps the data; instances starting at
// once on an empty database all succeed.
func TestMigrate(t *testing.T) {
	ctx := context.Background()
	t.Run("Reopen", func(t *testing.T) {
		dbURL := pgtest.MustDatabase(t)
		for range 2 {
			db, err := postgres.Open(ctx, dbURL, postgres.Options{})
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
		mustMigrations(t, dbURL)
	})
	t.Run("Concurrent", func(t *testing.T) {
		dbURL := pgtest.MustDatabase(t)
		const instances = 4
		start := make(chan struct{})
		errs := make([]error, instances)
		var wg sync.WaitGroup
		for i := range instances {
			wg.Go(func() {
				<-start
				db, err := postgres.Open(ctx, dbURL, postgres.Options{MaxConns: 2})
				if err == nil {
					err = db.Ready(ctx)
					db.Close()
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("instance %d: %v", i, err)
			}
		}
		mustMigrations(t, dbURL)
	})
	t.Run("Behind", func(t *testing.T) {
		dbURL := pgtest.MustDatabase(t)
		db, err := postgres.Open(ctx, dbURL, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := pgtest.Exec(ctx, dbURL, `DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`); err != nil {
			t.Fatal(err)
		}
		storetest.MustCode(t, db.Ready(ctx), liftrescue.EUNAVAILABLE)
	})
}

// A server that cannot be reached is EUNAVAILABLE, named by host and port, and the password in the
// URL appears in no error. Needs no server.
func TestOpenUnreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	const password = "s3cret-Pw"
	_, err := postgres.Open(ctx, "postgres://liftrescue:"+password+"@127.0.0.1:1/registry?sslmode=disable&connect_timeout=5", postgres.Options{})
	storetest.MustCode(t, err, liftrescue.EUNAVAILABLE)
	if msg := liftrescue.ErrorMessage(err); !strings.Contains(msg, "127.0.0.1:1") {
		t.Errorf("message %q does not name the server", msg)
	}
	for _, bad := range []string{
		"postgres://liftrescue:" + password + "@127.0.0.1:1/registry?sslmode=disable&connect_timeout=5",
		"postgres://liftrescue:" + password + "@[::1/registry", // malformed
		"postgres://liftrescue:" + password + "@127.0.0.1:1/registry?sslmode=nonsense",
	} {
		_, err := postgres.Open(ctx, bad, postgres.Options{})
		if err == nil {
			t.Fatalf("Open(%q) succeeded", bad)
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("error leaks the password: %v", err)
		}
	}
}

// BenchmarkImportElevators100k imports a city's worth of elevators in one file into a database
// that holds a district and two units.
func BenchmarkImportElevators100k(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	db := MustOpen(b, nil)
	storetest.MustUnits(b, db)
	rows := storetest.ElevatorRows(n)
	for b.Loop() {
		res, err := db.ImportElevators(ctx, rows, liftrescue.ImportOptions{})
		if err != nil {
			b.Fatal(err)
		}
		if res.Created+res.Updated != n {
			b.Fatalf("import = %+v, want %d rows written", res, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
}

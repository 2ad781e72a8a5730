// Package sqlite is the embedded store: one SQLite file through the pure-Go modernc.org/sqlite
// driver, so that `liftrescue demo` runs on a fresh machine with nothing installed. It implements
// the root package's Store and passes store/storetest.
//
// It imports the root package, migrations and the store/internal packages that it shares with
// store/postgres; the SQLite driver is used nowhere else.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/migrations"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

var _ liftrescue.Store = (*DB)(nil)

// Options tune a DB.
type Options struct {
	// Now is the clock for created_at and updated_at; time.Now when nil.
	Now func() time.Time
}

// DB is an open SQLite database.
type DB struct {
	db  *sql.DB
	now func() time.Time
	// inserts are the prepared statements of AppendPositions.
	inserts positionInserts
	// stopCheckpoints ends the background checkpointer; checkpointsDone says it has.
	stopCheckpoints, checkpointsDone chan struct{}
	// beforeImportWrite, when set by a test, runs between the checks of an import and its write
	// transaction, where another writer may change the registry.
	beforeImportWrite func()
}

// Open opens (creating if needed) the database file at path and applies pending migrations.
// WAL lets readers go on while a write commits; the busy timeout makes concurrent writers wait
// rather than fail; "immediate" transactions take the write lock up front so two writers never
// deadlock upgrading a read lock.
func Open(ctx context.Context, path string, opt Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return nil, fmt.Errorf("sqlite: create data directory: %w", err)
		}
	}
	q := url.Values{}
	// No connection checkpoints the WAL as part of its own commit (wal_autocheckpoint(0)): the
	// checkpointer below does it in the background, so that a dispatcher's write never waits for
	// a few megabytes of WAL to be copied into the database.
	for _, p := range []string{"foreign_keys(1)", "journal_mode(WAL)", "busy_timeout(10000)", "synchronous(NORMAL)", "temp_store(MEMORY)", "wal_autocheckpoint(0)"} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	// The driver hands a "file:" name to SQLite as a URI, which ends the path at ? or # and
	// decodes %XX in it; so the path is escaped, and made absolute so that one starting with //
	// is not taken for an authority.
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: database path: %w", err)
	}
	sqldb, err := sql.Open("sqlite", "file:"+(&url.URL{Path: filepath.ToSlash(abs)}).EscapedPath()+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	db := &DB{db: sqldb, now: opt.Now}
	if db.now == nil {
		db.now = time.Now
	}
	if err := db.migrate(ctx); err != nil {
		sqldb.Close()
		return nil, err
	}
	db.stopCheckpoints = make(chan struct{})
	db.checkpointsDone = make(chan struct{})
	go db.checkpoint(checkpointEvery)
	return db, nil
}

// checkpointEvery is how often the WAL is copied into the database. A second of writes is a few
// megabytes of WAL at the ingest's busiest.
const checkpointEvery = time.Second

// checkpoint copies the WAL into the database every interval until Close, without waiting for
// readers or writers (PASSIVE): what it cannot copy now it copies next time.
func (db *DB) checkpoint(every time.Duration) {
	defer close(db.checkpointsDone)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-db.stopCheckpoints:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			db.db.ExecContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`) // a failure is tried again next time
			cancel()
		}
	}
}

// Close closes the database.
func (db *DB) Close() error {
	if db.stopCheckpoints != nil {
		close(db.stopCheckpoints)
		<-db.checkpointsDone
		db.stopCheckpoints = nil
	}
	db.inserts.close()
	return db.db.Close()
}

// migrate applies the migrations not yet recorded, each in its own transaction.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations.Load("sqlite")
	if err != nil {
		return err
	}
	if _, err := db.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: create schema_migrations: %w", err)
	}
	for _, m := range ms {
		err := db.inTx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)`,
				m.Version, m.Name, formatTime(db.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("sqlite: migration %04d_%s: %w", m.Version, m.Name, err)
		}
	}
	return nil
}

// Ready reports whether the database answers and carries every migration of this binary.
func (db *DB) Ready(ctx context.Context) error {
	latest, err := migrations.Latest("sqlite")
	if err != nil {
		return err
	}
	var v int
	if err := db.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return &liftrescue.Error{Code: liftrescue.EUNAVAILABLE, Message: "database unreachable", Err: err}
	}
	if v < latest {
		return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "database schema at version %d, this binary needs %d: run liftrescue migrate", v, latest)
	}
	return nil
}

// inTx runs fn in a transaction and commits when it returns nil.
func (db *DB) inTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := db.db.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		return err
	}
	return translate(tx.Commit())
}

// queryer is what both *sql.DB and *sql.Tx offer.
type queryer interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// translate maps driver errors to domain errors by their result code, never by message text.
func translate(err error) error {
	var se *sqlite.Error
	switch {
	case err == nil:
		return nil
	case errors.Is(err, sql.ErrNoRows):
		return &liftrescue.Error{Code: liftrescue.ENOTFOUND, Message: "not found", Err: err}
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return err
	case errors.As(err, &se):
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return &liftrescue.Error{Code: liftrescue.ECONFLICT, Message: "already exists", Err: err}
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			return &liftrescue.Error{Code: liftrescue.ECONFLICT, Message: "still referred to, or refers to something missing", Err: err}
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CANTOPEN:
			return &liftrescue.Error{Code: liftrescue.EUNAVAILABLE, Message: "database unavailable", Err: err}
		}
	}
	return err
}

// timeLayout is fixed-width so that text order is time order.
const timeLayout = "2006-01-02T15:04:05.000000Z"

func formatTime(t time.Time) string { return t.UTC().Truncate(time.Microsecond).Format(timeLayout) }

// parseTime reads timeLayout. The layout is fixed-width, so a hand parse serves the common case:
// lists read three times a row, and time.Parse was a tenth of a map view's cost.
func parseTime(s string) (time.Time, error) {
	if len(s) == len(timeLayout) && s[4] == '-' && s[7] == '-' && s[10] == 'T' && s[13] == ':' && s[16] == ':' && s[19] == '.' && s[26] == 'Z' {
		var n [7]int
		ok := true
		for i, f := range [7][2]int{{0, 4}, {5, 2}, {8, 2}, {11, 2}, {14, 2}, {17, 2}, {20, 6}} {
			for _, c := range []byte(s[f[0] : f[0]+f[1]]) {
				ok = ok && c >= '0' && c <= '9'
				n[i] = n[i]*10 + int(c-'0')
			}
		}
		if ok && n[1] >= 1 && n[1] <= 12 && n[3] < 24 && n[4] < 60 && n[5] < 60 {
			if t := time.Date(n[0], time.Month(n[1]), n[2], n[3], n[4], n[5], n[6]*1000, time.UTC); t.Day() == n[2] {
				return t, nil
			}
		}
	}
	return time.Parse(timeLayout, s)
}

// nullTime stores a missing time as NULL.
func nullTime(t *time.Time) any {
	if t == nil {
		return nil
	}
	return formatTime(*t)
}

// nullDate stores a zero date as NULL.
func nullDate(d liftrescue.Date) any {
	if d.IsZero() {
		return nil
	}
	return d.String()
}

// dialect is how SQLite spells the conditions of a list.
var dialect = sqlq.Dialect{
	Like: "LIKE",
	BBox: func(w *sqlq.Where, b *liftrescue.BBox) {
		// The R*Tree keeps positions as 32-bit floats, each box rounded outwards, so it may take in
		// elevators just outside b.
		w.Add(`id IN (SELECT id FROM elevators_rtree WHERE max_lon >= ? AND min_lon <= ? AND max_lat >= ? AND min_lat <= ?)`,
			b.MinLon, b.MaxLon, b.MinLat, b.MaxLat)
	},
}

// page runs the count and the page query of a list, after normalising p. cols selects the row, scan
// reads one, from is the FROM clause, and the rows are ordered by id.
func page[T any](ctx context.Context, q queryer, from string, w sqlq.Where, p liftrescue.Paging, cols string, scan func(rowScanner) (T, error), idOf func(T) int64) (*liftrescue.Page[T], error) {
	return pageOrdered(ctx, q, from, w, p, cols, scan, idOf, false)
}

// pageOrdered is page in ascending id order, or in descending order when desc (newest first): the
// cursor then continues below the last id.
func pageOrdered[T any](ctx context.Context, q queryer, from string, w sqlq.Where, p liftrescue.Paging, cols string, scan func(rowScanner) (T, error), idOf func(T) int64, desc bool) (*liftrescue.Page[T], error) {
	after, err := p.Normalize()
	if err != nil {
		return nil, err
	}
	countSQL, countArgs := "SELECT count(*) FROM "+from+w.String(), slices.Clone(w.Args)
	cursor, order := "id > ?", " ORDER BY id"
	if desc {
		cursor, order = "id < ?", " ORDER BY id DESC"
	}
	if after > 0 {
		w.Add(cursor, after)
	}
	rows, err := q.QueryContext(ctx, "SELECT "+cols+" FROM "+from+w.String()+order+" LIMIT ?", append(w.Args, p.Limit+1)...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	out := &liftrescue.Page[T]{Items: []T{}}
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, v)
	}
	if err := rows.Err(); err != nil {
		return nil, translate(err)
	}
	if total, known := liftrescue.TotalOfFirstPage(out.Items, p.Limit, after); known {
		out.Total = total
	} else if err := q.QueryRowContext(ctx, countSQL, countArgs...).Scan(&out.Total); err != nil {
		return nil, translate(err)
	}
	if len(out.Items) > p.Limit {
		out.Items = out.Items[:p.Limit]
		out.NextCursor = liftrescue.EncodeCursor(idOf(out.Items[p.Limit-1]))
	}
	return out, nil
}

type rowScanner interface{ Scan(dest ...any) error }

// stamp is the time written to created_at and updated_at: UTC, to the microsecond, as both stores
// keep it.
func (db *DB) stamp() time.Time { return db.now().UTC().Truncate(time.Microsecond) }

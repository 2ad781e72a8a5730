// Package postgres is the server store: PostgreSQL through pgx and its connection pool, for
// deployments that run several instances behind a load balancer. It implements the root package's
// Store and passes store/storetest, so that it behaves like store/sqlite down to error codes,
// messages and details.
//
// It imports the root package, migrations and the store/internal packages that it shares with
// store/sqlite; pgx is used nowhere else.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/migrations"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

var _ liftrescue.Store = (*DB)(nil)

// Options tune a DB.
type Options struct {
	// Now is the clock for created_at and updated_at; time.Now when nil.
	Now func() time.Time
	// MaxConns caps the pool; pgxpool's default (the larger of 4 and the number of CPUs) when 0.
	MaxConns int32
}

// DB is a pool of connections to one PostgreSQL database.
type DB struct {
	pool *pgxpool.Pool
	now  func() time.Time
	// vehicles are those that AppendPositions need not check again.
	vehicles knownVehicles
	// beforeImportWrite, when set by a test, runs between the checks of an import and its write,
	// where another session may change the registry.
	beforeImportWrite func()
}

// Open connects to the database at url (postgres://user:password@host:port/db?sslmode=...), checks
// that it answers, and applies pending migrations. An unreachable server is EUNAVAILABLE with a
// message naming the host; the password never appears in an error.
func Open(ctx context.Context, url string, opt Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx redacts passwords from parse errors only on a best-effort basis, so the cause stays here.
		return nil, errors.New("postgres: the database URL cannot be parsed")
	}
	if opt.MaxConns > 0 {
		cfg.MaxConns = opt.MaxConns
	}
	// pgx returns timestamptz values in the local zone; the domain keeps UTC, so every connection
	// scans them as UTC instead of each scan converting.
	cfg.AfterConnect = func(_ context.Context, c *pgx.Conn) error {
		c.TypeMap().RegisterType(&pgtype.Type{Name: "timestamptz", OID: pgtype.TimestamptzOID,
			Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC}})
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		addr := net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port)))
		return nil, &liftrescue.Error{Code: liftrescue.EUNAVAILABLE,
			Message: fmt.Sprintf("cannot connect to PostgreSQL at %s (database %q)", addr, cfg.ConnConfig.Database), Err: err}
	}
	db := &DB{pool: pool, now: opt.Now}
	if db.now == nil {
		db.now = time.Now
	}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes every connection of the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// migrationLock is the key of the transaction-level advisory lock that every migration step takes
// first, so that instances starting at once apply each migration exactly once: the second waits,
// then finds the version recorded. The value is arbitrary ("liftresc" in ASCII) but must never change.
const migrationLock int64 = 0x6c69667472657363

// migrate applies the migrations not yet recorded, each in its own transaction.
func (db *DB) migrate(ctx context.Context) error {
	ms, err := migrations.Load("postgres")
	if err != nil {
		return err
	}
	// Even CREATE TABLE IF NOT EXISTS fails with a unique violation when two sessions race, so the
	// table is created under the lock too.
	err = db.locked(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`)
		return err
	})
	if err != nil {
		return fmt.Errorf("postgres: create schema_migrations: %w", translate(err))
	}
	for _, m := range ms {
		err := db.locked(ctx, func(tx pgx.Tx) error {
			var done bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&done); err != nil || done {
				return err
			}
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`, m.Version, m.Name, db.stamp())
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %04d_%s: %w", m.Version, m.Name, translate(err))
		}
	}
	return nil
}

// locked runs fn in a transaction holding the migration lock, which PostgreSQL releases when the
// transaction ends, whichever way it ends.
func (db *DB) locked(ctx context.Context, fn func(pgx.Tx) error) error {
	return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLock); err != nil {
			return err
		}
		return fn(tx)
	})
}

// Ready reports whether the database answers and carries every migration of this binary.
func (db *DB) Ready(ctx context.Context) error {
	latest, err := migrations.Latest("postgres")
	if err != nil {
		return err
	}
	var v int
	if err := db.pool.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return &liftrescue.Error{Code: liftrescue.EUNAVAILABLE, Message: "database unreachable", Err: err}
	}
	if v < latest {
		return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "database schema at version %d, this binary needs %d: run liftrescue migrate", v, latest)
	}
	return nil
}

// inTx runs fn in a transaction and commits when it returns nil. Errors of beginning and committing
// are translated; fn's own errors pass through translate unchanged once classified.
func (db *DB) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return translate(pgx.BeginFunc(ctx, db.pool, fn))
}

// querier is what both the pool and a transaction offer.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// translate maps driver errors to domain errors by their SQLSTATE or type, never by message text.
// An error already classified is returned as it is, so translating twice is harmless.
func translate(err error) error {
	var (
		domain  *liftrescue.Error
		connect *pgconn.ConnectError
		pgErr   *pgconn.PgError
		netErr  net.Error
	)
	switch {
	case err == nil:
		return nil
	case errors.As(err, &domain):
		return err
	case errors.Is(err, pgx.ErrNoRows):
		return &liftrescue.Error{Code: liftrescue.ENOTFOUND, Message: "not found", Err: err}
	case errors.As(err, &connect):
		// Checked before PgError: a refused login is a PgError inside a ConnectError.
		return unavailable(err)
	case errors.As(err, &pgErr):
		switch pgErr.Code {
		case "23505": // unique_violation
			return &liftrescue.Error{Code: liftrescue.ECONFLICT, Message: "already exists", Err: err}
		case "23503": // foreign_key_violation
			return &liftrescue.Error{Code: liftrescue.ECONFLICT, Message: "still referred to, or refers to something missing", Err: err}
		case "23514": // check_violation
			return &liftrescue.Error{Code: liftrescue.EINVALID, Message: "a value breaks a rule of the registry", Err: err}
		case "22021", "22P05": // character_not_in_repertoire (a NUL byte, bytes that are not UTF-8), untranslatable_character
			return &liftrescue.Error{Code: liftrescue.EINVALID, Message: "text contains a NUL character or bytes that are not UTF-8", Err: err}
		case "54000": // program_limit_exceeded, such as a value too large for an index
			return &liftrescue.Error{Code: liftrescue.EINVALID, Message: "a value is too large for the registry", Err: err}
		case "53300", "57P01", "57P02", "57P03": // too many connections, shutting down, crashed, starting up
			return unavailable(err)
		}
		if strings.HasPrefix(pgErr.Code, "08") { // the class of connection exceptions
			return unavailable(err)
		}
	case errors.Is(err, context.Canceled):
		// The caller went away; nothing is wrong with the database.
		return err
	case errors.As(err, &netErr), errors.Is(err, context.DeadlineExceeded), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		// A deadline here means no connection or answer came in time, most often while acquiring
		// one from an exhausted pool or a server that stopped answering.
		return unavailable(err)
	}
	return err
}

// isCode reports whether err is a PostgreSQL error with the SQLSTATE.
func isCode(err error, code string) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == code
}

// uniqueFields maps the unique constraints that a create or an update checks beforehand to the
// field each keeps unique (the migrations name them).
var uniqueFields = map[string]struct{ table, what, field string }{
	"organizations_code_key":       {"organizations", "organization", "code"},
	"elevators_rescue_code_key":    {"elevators", "elevator", "rescue_code"},
	"elevators_equipment_code_key": {"elevators", "elevator", "equipment_code"},
	"vehicles_plate_key":           {"vehicles", "vehicle", "plate"},
	"vehicles_device_id_key":       {"vehicles", "vehicle", "device_id"},
	"users_username_key":           {"users", "user", "username"},
}

// explainTaken turns the unique violation of a write into the ECONFLICT that the check before
// the write gives (liftrescue.Taken), naming the field and the record that holds the value. The
// check misses a value that another session commits between it and the write; the unique index
// catches it. self is the id of the record written (0 for a create), value gives the value
// written to a field. The write's transaction is over, so the holder is looked up anew.
func (db *DB) explainTaken(ctx context.Context, err error, self int64, value func(field string) string) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || pgErr.Code != "23505" {
		return err
	}
	u, ok := uniqueFields[pgErr.ConstraintName]
	if !ok {
		return err
	}
	v := value(u.field)
	var holder int64
	lookup := db.pool.QueryRow(ctx, `SELECT id FROM `+u.table+` WHERE `+u.field+` = $1 AND id <> $2`, v, self).Scan(&holder)
	if lookup != nil {
		// Deleted again since, or the database went away: still say which value collided.
		reason := "already used by another " + u.what
		return &liftrescue.Error{Code: liftrescue.ECONFLICT, Err: err,
			Message: strings.ReplaceAll(u.field, "_", " ") + " " + v + " is " + reason,
			Details: []liftrescue.Detail{{Field: u.field, Value: v, Reason: reason}}}
	}
	taken := liftrescue.Taken(u.what, u.field, v, holder)
	taken.Err = err
	return taken
}

func unavailable(err error) error {
	return &liftrescue.Error{Code: liftrescue.EUNAVAILABLE, Message: "database unavailable", Err: err}
}

// stamp is the time written to created_at and updated_at: UTC, to the microsecond that timestamptz
// keeps, so that what a write returns equals what a read gives back.
func (db *DB) stamp() time.Time { return db.now().UTC().Truncate(time.Microsecond) }

// date carries a liftrescue.Date to and from a date column; the zero Date is NULL both ways.
type date struct{ d *liftrescue.Date }

func (v date) ScanDate(p pgtype.Date) error {
	switch {
	case !p.Valid:
		*v.d = liftrescue.Date{}
	case p.InfinityModifier != pgtype.Finite:
		return fmt.Errorf("date is %s", p.InfinityModifier)
	default:
		*v.d = liftrescue.DateOf(p.Time)
	}
	return nil
}

func (v date) DateValue() (pgtype.Date, error) {
	if v.d.IsZero() {
		return pgtype.Date{}, nil
	}
	return pgtype.Date{Time: v.d.Time(), Valid: true}, nil
}

// nullString stores an empty string as NULL, for unique columns where empty means "none".
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// insertSQL inserts fields plus both timestamps; the arguments are the field values, created_at and
// updated_at. It returns the new id.
func insertSQL(table string, fields []string) string {
	ph := make([]string, len(fields)+2)
	for i := range ph {
		ph[i] = "$" + strconv.Itoa(i+1)
	}
	return "INSERT INTO " + table + " (" + strings.Join(fields, ", ") + ", created_at, updated_at) VALUES (" +
		strings.Join(ph, ", ") + ") RETURNING id"
}

// updateSQL sets fields and updated_at of one row; the arguments are the field values, updated_at
// and the id. created_at is never written after the insert.
func updateSQL(table string, fields []string) string {
	set := make([]string, 0, len(fields)+1)
	for i, f := range fields {
		set = append(set, f+" = $"+strconv.Itoa(i+1))
	}
	n := len(fields)
	set = append(set, "updated_at = $"+strconv.Itoa(n+1))
	return "UPDATE " + table + " SET " + strings.Join(set, ", ") + " WHERE id = $" + strconv.Itoa(n+2)
}

// deleteByID deletes the row with the id; none is ENOTFOUND naming what.
func deleteByID(ctx context.Context, q querier, table, what string, id int64) error {
	tag, err := q.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1`, id)
	if err != nil {
		return translate(err)
	}
	if tag.RowsAffected() == 0 {
		return liftrescue.Errorf(liftrescue.ENOTFOUND, "no %s has the id %d", what, id)
	}
	return nil
}

type rowScanner interface{ Scan(dest ...any) error }

// one reads the single row of a lookup; no row is ENOTFOUND with a message naming what was sought.
func one[T any](row pgx.Row, scan func(rowScanner) (T, error), format string, args ...any) (T, error) {
	v, err := scan(row)
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		var zero T
		return zero, liftrescue.Errorf(liftrescue.ENOTFOUND, format, args...)
	}
	return v, err
}

// all reads every row of a query.
func all[T any](ctx context.Context, q querier, scan func(rowScanner) (T, error), sql string, args ...any) ([]T, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, translate(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) { return scan(r) })
	return out, translate(err)
}

// dialect is how PostgreSQL spells the conditions of a list.
var dialect = sqlq.Dialect{
	Like: "ILIKE",
	BBox: func(w *sqlq.Where, b *liftrescue.BBox) {
		// Written exactly as the expression of the GiST index elevators_position so that the
		// planner uses it. PostgreSQL compares points with a tolerance of 1e-6, so it may take in
		// elevators just outside b.
		w.Add(`point(lon, lat) <@ box(point(?, ?), point(?, ?))`, b.MinLon, b.MinLat, b.MaxLon, b.MaxLat)
	},
}

// page runs the count and the page query of a list, after normalising p. cols selects the row, scan
// reads one, from is the FROM clause (with ? placeholders, as w has), and the rows are ordered by
// id; one row more than the limit says whether a next page exists without a second count.
func page[T any](ctx context.Context, q querier, from string, w sqlq.Where, p liftrescue.Paging, cols string, scan func(rowScanner) (T, error), idOf func(T) int64) (*liftrescue.Page[T], error) {
	return pageOrdered(ctx, q, from, w, p, cols, scan, idOf, false)
}

// pageOrdered is page in ascending id order, or in descending order when desc (newest first): the
// cursor then continues below the last id.
func pageOrdered[T any](ctx context.Context, q querier, from string, w sqlq.Where, p liftrescue.Paging, cols string, scan func(rowScanner) (T, error), idOf func(T) int64, desc bool) (*liftrescue.Page[T], error) {
	after, err := p.Normalize()
	if err != nil {
		return nil, err
	}
	countSQL, countArgs := sqlq.Dollar("SELECT count(*) FROM "+from+w.String()), slices.Clone(w.Args)
	cursor, order := "id > ?", " ORDER BY id"
	if desc {
		cursor, order = "id < ?", " ORDER BY id DESC"
	}
	if after > 0 {
		w.Add(cursor, after)
	}
	items, err := all(ctx, q, scan, sqlq.Dollar("SELECT "+cols+" FROM "+from+w.String()+order+" LIMIT ?"), append(w.Args, p.Limit+1)...)
	if err != nil {
		return nil, err
	}
	out := &liftrescue.Page[T]{Items: items}
	if total, known := liftrescue.TotalOfFirstPage(items, p.Limit, after); known {
		out.Total = total
	} else if err := q.QueryRow(ctx, countSQL, countArgs...).Scan(&out.Total); err != nil {
		return nil, translate(err)
	}
	if len(out.Items) > p.Limit {
		out.Items = out.Items[:p.Limit]
		out.NextCursor = liftrescue.EncodeCursor(idOf(out.Items[p.Limit-1]))
	}
	return out, nil
}

package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// Accounts are written with the statements of sqlq (account.go there), which both stores share,
// numbered for PostgreSQL.

// Statements numbered for PostgreSQL once.
var (
	insertUserSQL            = sqlq.Dollar(sqlq.InsertUser)
	updateUserSQL            = sqlq.Dollar(sqlq.UpdateUser)
	usernameHolderSQL        = sqlq.Dollar(sqlq.UsernameHolder)
	findUserSQL              = sqlq.Dollar(sqlq.FindUser)
	findUserByNameSQL        = sqlq.Dollar(sqlq.FindUserByName)
	recordSignInSQL          = sqlq.Dollar(sqlq.RecordSignIn)
	insertSessionSQL         = sqlq.Dollar(sqlq.InsertSession)
	findSessionSQL           = sqlq.Dollar(sqlq.FindSession)
	touchSessionSQL          = sqlq.Dollar(sqlq.TouchSession)
	deleteSessionSQL         = sqlq.Dollar(sqlq.DeleteSession)
	deleteSessionsSQL        = sqlq.Dollar(sqlq.DeleteSessions)
	deleteExpiredSessionsSQL = sqlq.Dollar(sqlq.DeleteExpiredSessions)
	insertAPIKeySQL          = sqlq.Dollar(sqlq.InsertAPIKey)
	findAPIKeySQL            = sqlq.Dollar(sqlq.FindAPIKey)
	revokeAPIKeySQL          = sqlq.Dollar(sqlq.RevokeAPIKey)
	touchAPIKeySQL           = sqlq.Dollar(sqlq.TouchAPIKey)
	insertAuditSQL           = sqlq.Dollar(sqlq.InsertAudit)
)

func (db *DB) CreateUser(ctx context.Context, u *liftrescue.User) error {
	w, err := sqlq.NewUser(u, db.stamp())
	if err != nil {
		return err
	}
	err = db.inTx(ctx, func(tx pgx.Tx) error {
		var holder int64
		switch err := tx.QueryRow(ctx, usernameHolderSQL, w.Username).Scan(&holder); {
		case errors.Is(err, pgx.ErrNoRows):
		case err == nil:
			return sqlq.UsernameTaken(w.Username, holder)
		default:
			return translate(err)
		}
		return translate(tx.QueryRow(ctx, insertUserSQL, sqlq.UserArgs(w, timestamptz)...).Scan(&w.ID))
	})
	if err != nil {
		return db.explainTaken(ctx, err, 0, func(string) string { return w.Username })
	}
	*u = *w
	return nil
}

func (db *DB) UpdateUser(ctx context.Context, u *liftrescue.User) error {
	args, err := sqlq.UpdateUserArgs(u, db.stamp(), timestamptz)
	if err != nil {
		return err
	}
	// One statement, which gives back what it stored: no row is no user.
	saved, err := one(db.pool.QueryRow(ctx, updateUserSQL, args...), scanUser, "no user has the id %d", u.ID)
	if err != nil {
		return err
	}
	*u = *saved
	return nil
}

func (db *DB) FindUser(ctx context.Context, id int64) (*liftrescue.User, error) {
	return one(db.pool.QueryRow(ctx, findUserSQL, id), scanUser, "no user has the id %d", id)
}

func (db *DB) FindUserByName(ctx context.Context, username string) (*liftrescue.User, error) {
	if !sqlq.IsStorable(username) {
		return nil, sqlq.NoUsername(username)
	}
	return one(db.pool.QueryRow(ctx, findUserByNameSQL, username), scanUser, "no user has the username %q", username)
}

func (db *DB) ListUsers(ctx context.Context) ([]*liftrescue.User, error) {
	return all(ctx, db.pool, scanUser, sqlq.ListUsers)
}

func (db *DB) RecordSignIn(ctx context.Context, userID int64, failed int, lockedUntil, signedInAt *time.Time) error {
	args, err := sqlq.SignInArgs(userID, failed, lockedUntil, signedInAt, timestamptz)
	if err != nil {
		return err
	}
	return db.execOne(ctx, sqlq.NoUser(userID), recordSignInSQL, args...)
}

func (db *DB) CreateSession(ctx context.Context, s *liftrescue.Session) error {
	if err := sqlq.NewSession(s, db.stamp()); err != nil {
		return err
	}
	_, err := db.pool.Exec(ctx, insertSessionSQL, sqlq.SessionArgs(s, timestamptz)...)
	return translate(err)
}

func (db *DB) FindSession(ctx context.Context, tokenHash string, now time.Time) (*liftrescue.Session, *liftrescue.User, error) {
	if !sqlq.IsStorable(tokenHash) {
		return nil, nil, sqlq.NoSession()
	}
	var s liftrescue.Session
	var u liftrescue.User
	dest := append(sessionDest(&s), userDest(&u)...)
	if err := db.pool.QueryRow(ctx, findSessionSQL, tokenHash, now).Scan(dest...); err != nil {
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, nil, sqlq.NoSession()
		}
		return nil, nil, translate(err)
	}
	return &s, &u, nil
}

func (db *DB) TouchSession(ctx context.Context, tokenHash string, seen, expires time.Time) error {
	if !sqlq.IsStorable(tokenHash) {
		return sqlq.NoSession()
	}
	return db.execOne(ctx, sqlq.NoSession(), touchSessionSQL, seen, expires, tokenHash)
}

// DeleteSession ends the session; one that has ended already is no error, as signing out twice is
// none.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	if !sqlq.IsStorable(tokenHash) {
		return nil
	}
	_, err := db.pool.Exec(ctx, deleteSessionSQL, tokenHash)
	return translate(err)
}

func (db *DB) DeleteSessions(ctx context.Context, userID int64, except string) (int64, error) {
	return db.execCount(ctx, deleteSessionsSQL, userID, except)
}

func (db *DB) DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error) {
	return db.execCount(ctx, deleteExpiredSessionsSQL, t)
}

func (db *DB) CreateAPIKey(ctx context.Context, k *liftrescue.APIKey) error {
	w, err := sqlq.NewAPIKey(k, db.stamp())
	if err != nil {
		return err
	}
	if err := db.pool.QueryRow(ctx, insertAPIKeySQL, sqlq.APIKeyArgs(w, timestamptz)...).Scan(&w.ID); err != nil {
		return translate(err)
	}
	*k = *w
	return nil
}

func (db *DB) FindAPIKey(ctx context.Context, hash string) (*liftrescue.APIKey, error) {
	if !sqlq.IsStorable(hash) {
		return nil, sqlq.NoAPIKeyHash()
	}
	return one(db.pool.QueryRow(ctx, findAPIKeySQL, hash), scanAPIKey, "no API key has this hash")
}

func (db *DB) ListAPIKeys(ctx context.Context) ([]*liftrescue.APIKey, error) {
	return all(ctx, db.pool, scanAPIKey, sqlq.ListAPIKeys)
}

func (db *DB) RevokeAPIKey(ctx context.Context, id int64, t time.Time) error {
	return db.execOne(ctx, sqlq.NoAPIKey(id), revokeAPIKeySQL, t, id)
}

// TouchAPIKeys sends every update in one batch, one round trip.
func (db *DB) TouchAPIKeys(ctx context.Context, used map[int64]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	batch := &pgx.Batch{}
	for _, args := range sqlq.TouchAPIKeyArgs(used, timestamptz) {
		batch.Queue(touchAPIKeySQL, args...)
	}
	return db.inTx(ctx, func(tx pgx.Tx) error { return tx.SendBatch(ctx, batch).Close() })
}

// AppendAudit sends every insert in one batch, one round trip.
func (db *DB) AppendAudit(ctx context.Context, entries []liftrescue.AuditEntry) error {
	return sqlq.AppendAudit(entries, db.stamp(), func(w []liftrescue.AuditEntry) error {
		batch := &pgx.Batch{}
		for i := range w {
			batch.Queue(insertAuditSQL, sqlq.AuditArgs(&w[i], timestamptz)...).QueryRow(func(row pgx.Row) error {
				return row.Scan(&w[i].ID)
			})
		}
		return db.inTx(ctx, func(tx pgx.Tx) error { return tx.SendBatch(ctx, batch).Close() })
	})
}

func (db *DB) ListAudit(ctx context.Context, f liftrescue.AuditFilter) (*liftrescue.Page[liftrescue.AuditEntry], error) {
	w, p := sqlq.Audit(f, timestamptz)
	return pageOrdered(ctx, db.pool, "audit_log", w, p, sqlq.AuditColumns, scanAudit,
		func(e liftrescue.AuditEntry) int64 { return e.ID }, true)
}

// execOne runs a statement that changes one row, and returns notFound when it changed none.
func (db *DB) execOne(ctx context.Context, notFound error, sql string, args ...any) error {
	n, err := db.execCount(ctx, sql, args...)
	return sqlq.OneChanged(n, err, notFound)
}

// execCount runs a statement and says how many rows it changed.
func (db *DB) execCount(ctx context.Context, sql string, args ...any) (int64, error) {
	tag, err := db.pool.Exec(ctx, sql, args...)
	if err != nil {
		return 0, translate(err)
	}
	return tag.RowsAffected(), nil
}

func userDest(u *liftrescue.User) []any {
	return sqlq.UserDest(u, &u.LockedUntil, &u.LastSignInAt, &u.CreatedAt, &u.UpdatedAt)
}

func sessionDest(s *liftrescue.Session) []any {
	return sqlq.SessionDest(s, &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt)
}

func scanUser(r rowScanner) (*liftrescue.User, error) {
	var u liftrescue.User
	if err := r.Scan(userDest(&u)...); err != nil {
		return nil, translate(err)
	}
	return &u, nil
}

func scanAPIKey(r rowScanner) (*liftrescue.APIKey, error) {
	var k liftrescue.APIKey
	var scopes string
	if err := r.Scan(sqlq.APIKeyDest(&k, &scopes, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt)...); err != nil {
		return nil, translate(err)
	}
	return &k, sqlq.DecodeScopes(&k, scopes)
}

func scanAudit(r rowScanner) (liftrescue.AuditEntry, error) {
	var e liftrescue.AuditEntry
	if err := r.Scan(sqlq.AuditDest(&e, &e.At)...); err != nil {
		return e, translate(err)
	}
	return e, nil
}

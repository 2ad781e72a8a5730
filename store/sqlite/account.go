package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/internal/sqlq"
)

// Accounts are written with the statements of sqlq (account.go there), which both stores share.
// Every write is one immediate transaction, so a username checked free stays free until the insert.

func (db *DB) CreateUser(ctx context.Context, u *liftrescue.User) error {
	w, err := sqlq.NewUser(u, db.stamp())
	if err != nil {
		return err
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		var holder int64
		switch err := tx.QueryRowContext(ctx, sqlq.UsernameHolder, w.Username).Scan(&holder); err {
		case sql.ErrNoRows:
		case nil:
			return sqlq.UsernameTaken(w.Username, holder)
		default:
			return translate(err)
		}
		if err := tx.QueryRowContext(ctx, sqlq.InsertUser, sqlq.UserArgs(w, textTime)...).Scan(&w.ID); err != nil {
			return translate(err)
		}
		*u = *w
		return nil
	})
}

func (db *DB) UpdateUser(ctx context.Context, u *liftrescue.User) error {
	args, err := sqlq.UpdateUserArgs(u, db.stamp(), textTime)
	if err != nil {
		return err
	}
	// One statement, which gives back what it stored: no row is no user.
	saved, err := scanUser(db.db.QueryRowContext(ctx, sqlq.UpdateUser, args...))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return sqlq.NoUser(u.ID)
	} else if err != nil {
		return err
	}
	*u = *saved
	return nil
}

func (db *DB) FindUser(ctx context.Context, id int64) (*liftrescue.User, error) {
	u, err := scanUser(db.db.QueryRowContext(ctx, sqlq.FindUser, id))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, sqlq.NoUser(id)
	}
	return u, err
}

func (db *DB) FindUserByName(ctx context.Context, username string) (*liftrescue.User, error) {
	u, err := scanUser(db.db.QueryRowContext(ctx, sqlq.FindUserByName, username))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, sqlq.NoUsername(username)
	}
	return u, err
}

func (db *DB) ListUsers(ctx context.Context) ([]*liftrescue.User, error) {
	return all(ctx, db.db, scanUser, sqlq.ListUsers)
}

func (db *DB) RecordSignIn(ctx context.Context, userID int64, failed int, lockedUntil, signedInAt *time.Time) error {
	args, err := sqlq.SignInArgs(userID, failed, lockedUntil, signedInAt, textTime)
	if err != nil {
		return err
	}
	return db.execOne(ctx, sqlq.NoUser(userID), sqlq.RecordSignIn, args...)
}

func (db *DB) CreateSession(ctx context.Context, s *liftrescue.Session) error {
	if err := sqlq.NewSession(s, db.stamp()); err != nil {
		return err
	}
	_, err := db.db.ExecContext(ctx, sqlq.InsertSession, sqlq.SessionArgs(s, textTime)...)
	return translate(err)
}

func (db *DB) FindSession(ctx context.Context, tokenHash string, now time.Time) (*liftrescue.Session, *liftrescue.User, error) {
	var s liftrescue.Session
	var u liftrescue.User
	dest := append(sessionDest(&s), userDest(&u)...)
	if err := db.db.QueryRowContext(ctx, sqlq.FindSession, tokenHash, formatTime(now)).Scan(dest...); err != nil {
		if err == sql.ErrNoRows {
			return nil, nil, sqlq.NoSession()
		}
		return nil, nil, translate(err)
	}
	return &s, &u, nil
}

func (db *DB) TouchSession(ctx context.Context, tokenHash string, seen, expires time.Time) error {
	return db.execOne(ctx, sqlq.NoSession(), sqlq.TouchSession, formatTime(seen), formatTime(expires), tokenHash)
}

// DeleteSession ends the session; one that has ended already is no error, as signing out twice is
// none.
func (db *DB) DeleteSession(ctx context.Context, tokenHash string) error {
	_, err := db.db.ExecContext(ctx, sqlq.DeleteSession, tokenHash)
	return translate(err)
}

func (db *DB) DeleteSessions(ctx context.Context, userID int64, except string) (int64, error) {
	return db.execCount(ctx, sqlq.DeleteSessions, userID, except)
}

func (db *DB) DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error) {
	return db.execCount(ctx, sqlq.DeleteExpiredSessions, formatTime(t))
}

func (db *DB) CreateAPIKey(ctx context.Context, k *liftrescue.APIKey) error {
	w, err := sqlq.NewAPIKey(k, db.stamp())
	if err != nil {
		return err
	}
	if err := db.db.QueryRowContext(ctx, sqlq.InsertAPIKey, sqlq.APIKeyArgs(w, textTime)...).Scan(&w.ID); err != nil {
		return translate(err)
	}
	*k = *w
	return nil
}

func (db *DB) FindAPIKey(ctx context.Context, hash string) (*liftrescue.APIKey, error) {
	k, err := scanAPIKey(db.db.QueryRowContext(ctx, sqlq.FindAPIKey, hash))
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return nil, sqlq.NoAPIKeyHash()
	}
	return k, err
}

func (db *DB) ListAPIKeys(ctx context.Context) ([]*liftrescue.APIKey, error) {
	return all(ctx, db.db, scanAPIKey, sqlq.ListAPIKeys)
}

func (db *DB) RevokeAPIKey(ctx context.Context, id int64, t time.Time) error {
	return db.execOne(ctx, sqlq.NoAPIKey(id), sqlq.RevokeAPIKey, formatTime(t), id)
}

func (db *DB) TouchAPIKeys(ctx context.Context, used map[int64]time.Time) error {
	if len(used) == 0 {
		return nil
	}
	return db.inTx(ctx, func(tx *sql.Tx) error {
		for _, args := range sqlq.TouchAPIKeyArgs(used, textTime) {
			if _, err := tx.ExecContext(ctx, sqlq.TouchAPIKey, args...); err != nil {
				return translate(err)
			}
		}
		return nil
	})
}

func (db *DB) AppendAudit(ctx context.Context, entries []liftrescue.AuditEntry) error {
	return sqlq.AppendAudit(entries, db.stamp(), func(w []liftrescue.AuditEntry) error {
		return db.inTx(ctx, func(tx *sql.Tx) error {
			for i := range w {
				if err := tx.QueryRowContext(ctx, sqlq.InsertAudit, sqlq.AuditArgs(&w[i], textTime)...).Scan(&w[i].ID); err != nil {
					return translate(err)
				}
			}
			return nil
		})
	})
}

func (db *DB) ListAudit(ctx context.Context, f liftrescue.AuditFilter) (*liftrescue.Page[liftrescue.AuditEntry], error) {
	w, p := sqlq.Audit(f, textTime)
	return pageOrdered(ctx, db.db, "audit_log", w, p, sqlq.AuditColumns, scanAudit,
		func(e liftrescue.AuditEntry) int64 { return e.ID }, true)
}

// execOne runs a statement that changes one row, and returns notFound when it changed none.
func (db *DB) execOne(ctx context.Context, notFound error, query string, args ...any) error {
	n, err := db.execCount(ctx, query, args...)
	return sqlq.OneChanged(n, err, notFound)
}

// execCount runs a statement and says how many rows it changed.
func (db *DB) execCount(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := db.db.ExecContext(ctx, query, args...)
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	return n, translate(err)
}

// timeText reads a column of timeLayout text into the time it points at.
type timeText struct{ t *time.Time }

func (d timeText) Scan(src any) error {
	var s string
	switch v := src.(type) {
	case string:
		s = v
	case []byte:
		s = string(v)
	default:
		return fmt.Errorf("time column holds %T, want text", src)
	}
	t, err := parseTime(s)
	*d.t = t
	return err
}

// nullTimeText reads a column of timeLayout text or NULL, which is nil.
type nullTimeText struct{ t **time.Time }

func (d nullTimeText) Scan(src any) error {
	if src == nil {
		*d.t = nil
		return nil
	}
	var t time.Time
	if err := (timeText{&t}).Scan(src); err != nil {
		return err
	}
	*d.t = &t
	return nil
}

func userDest(u *liftrescue.User) []any {
	return sqlq.UserDest(u, nullTimeText{&u.LockedUntil}, nullTimeText{&u.LastSignInAt}, timeText{&u.CreatedAt}, timeText{&u.UpdatedAt})
}

func sessionDest(s *liftrescue.Session) []any {
	return sqlq.SessionDest(s, timeText{&s.CreatedAt}, timeText{&s.LastSeenAt}, timeText{&s.ExpiresAt})
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
	if err := r.Scan(sqlq.APIKeyDest(&k, &scopes, timeText{&k.CreatedAt}, nullTimeText{&k.LastUsedAt}, nullTimeText{&k.RevokedAt})...); err != nil {
		return nil, translate(err)
	}
	return &k, sqlq.DecodeScopes(&k, scopes)
}

func scanAudit(r rowScanner) (liftrescue.AuditEntry, error) {
	var e liftrescue.AuditEntry
	if err := r.Scan(sqlq.AuditDest(&e, timeText{&e.At})...); err != nil {
		return e, translate(err)
	}
	return e, nil
}

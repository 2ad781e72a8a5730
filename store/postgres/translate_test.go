package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/liftrescue/liftrescue"
)

// Driver errors are classified by SQLSTATE and type, whatever their text says.
func TestTranslate(t *testing.T) {
	pg := func(code string) error {
		return fmt.Errorf("insert: %w", &pgconn.PgError{Code: code, Message: "duplicate key value violates unique constraint"})
	}
	classified := liftrescue.Errorf(liftrescue.EINVALID, "name: is required")
	for _, tt := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{pg("23505"), liftrescue.ECONFLICT},
		{pg("23503"), liftrescue.ECONFLICT},
		{pg("23514"), liftrescue.EINVALID},
		{pg("22021"), liftrescue.EINVALID}, // a NUL byte or bytes that are not UTF-8 in a parameter
		{pg("22P05"), liftrescue.EINVALID},
		{pg("54000"), liftrescue.EINVALID},
		{pg("08006"), liftrescue.EUNAVAILABLE},
		{pg("57P01"), liftrescue.EUNAVAILABLE},
		{pg("42P01"), liftrescue.EINTERNAL}, // undefined_table despite the message text: a bug, not a conflict
		{fmt.Errorf("find: %w", pgx.ErrNoRows), liftrescue.ENOTFOUND},
		{context.DeadlineExceeded, liftrescue.EUNAVAILABLE},
		{context.Canceled, liftrescue.EINTERNAL},
		{classified, liftrescue.EINVALID},
	} {
		got := translate(tt.err)
		if code := liftrescue.ErrorCode(got); code != tt.want {
			t.Errorf("translate(%v) code = %q, want %q", tt.err, code, tt.want)
		}
		if tt.err != nil && !errors.Is(got, tt.err) {
			t.Errorf("translate(%v) lost the cause", tt.err)
		}
	}
	if got := translate(classified); got != error(classified) {
		t.Errorf("translate changed an error already classified: %v", got)
	}
}

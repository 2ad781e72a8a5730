// Package pgtest gives tests a fresh PostgreSQL database of their own on the server named by
// LIFTRESCUE_TEST_POSTGRES, and drops it when the test ends.
//
// Without the variable the tests skip, unless LIFTRESCUE_REQUIRE_POSTGRES=1 (as CI sets it), in
// which case they fail: a suite that silently skipped in CI would prove nothing.
package pgtest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ServerURL returns the URL of the test server, or skips (or fails, when required).
func ServerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("LIFTRESCUE_TEST_POSTGRES")
	if u == "" {
		if os.Getenv("LIFTRESCUE_REQUIRE_POSTGRES") == "1" {
			tb.Fatal("LIFTRESCUE_REQUIRE_POSTGRES=1 but LIFTRESCUE_TEST_POSTGRES not set")
		}
		tb.Skip("LIFTRESCUE_TEST_POSTGRES not set")
	}
	return u
}

// Exec runs one statement on the database at dbURL over a connection of its own.
func Exec(ctx context.Context, dbURL, sql string, args ...any) error {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql, args...)
	return err
}

// MustDatabase creates an empty database on the test server, drops it when the test ends, and
// returns its URL.
func MustDatabase(tb testing.TB) string {
	tb.Helper()
	server := ServerURL(tb)
	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		tb.Fatal("LIFTRESCUE_TEST_POSTGRES must be a postgres:// URL")
	}
	ctx := context.Background()
	name := fmt.Sprintf("liftrescue_test_%016x", rand.Uint64())
	if err := Exec(ctx, server, `CREATE DATABASE `+name); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := Exec(ctx, server, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
	})
	u.Path = "/" + name
	return u.String()
}

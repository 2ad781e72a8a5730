package auth_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/auth"
	"github.com/liftrescue/liftrescue/store/sqlite"
)

type clock struct{ now time.Time }

func (c *clock) Now() time.Time { return c.now }

func newService(t testing.TB) (*auth.Service, liftrescue.Store, *clock) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "auth.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	c := &clock{now: time.Date(2026, 11, 21, 8, 0, 0, 0, time.UTC)}
	return auth.New(db, c.Now, nil), db, c
}

func TestPasswordHash(t *testing.T) {
	h := auth.HashPassword("correct horse battery")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Errorf("hash %q is not an argon2id PHC string with the chosen parameters", h)
	}
	if h == auth.HashPassword("correct horse battery") {
		t.Error("two hashes of one password are equal: no salt")
	}
	if !auth.VerifyPassword(h, "correct horse battery") || auth.VerifyPassword(h, "correct horse batterY") {
		t.Error("verify does not tell the right password from a wrong one")
	}
	parts := strings.Split(h, "$")
	for _, bad := range []string{
		"", "plain text", "$argon2i$v=19$m=19456,t=2,p=1$" + parts[4] + "$" + parts[5],
		"$argon2id$v=19$m=4000000,t=2,p=1$" + parts[4] + "$" + parts[5],  // would take gigabytes
		"$argon2id$v=19$m=19456,t=1000,p=1$" + parts[4] + "$" + parts[5], // would take minutes
		"$argon2id$v=19$m=19456,t=2,p=1$" + parts[4] + "$",
	} {
		if auth.VerifyPassword(bad, "correct horse battery") {
			t.Errorf("verify accepted the hash %q", bad)
		}
	}
	for pw, ok := range map[string]bool{"short": false, "ten chars!": true, strings.Repeat("x", 257): false, "\xff\xfe invalid utf8": false} {
		if err := auth.CheckPassword(pw); (err == nil) != ok {
			t.Errorf("CheckPassword(%.20q) = %v, want ok %t", pw, err, ok)
		}
	}
}

func TestLockout(t *testing.T) {
	svc, db, c := newService(t)
	ctx := context.Background()
	u := &liftrescue.User{Username: "zhangmin", Role: liftrescue.RoleDispatcher}
	if err := svc.CreateUser(ctx, u, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < auth.LockAfter; i++ {
		if _, err := svc.SignIn(ctx, "zhangmin", "wrong", "", ""); err != auth.ErrBadCredentials {
			t.Fatalf("wrong password %d: %v", i, err)
		}
	}
	// A good password before the lock resets the count.
	if _, err := svc.SignIn(ctx, "zhangmin", "correct horse battery", "", ""); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.FindUser(ctx, u.ID); got.FailedSignIns != 0 || got.LastSignInAt == nil {
		t.Errorf("after a good sign-in: %+v", got)
	}
	// Five wrong ones lock for a minute, a sixth for two: doubling.
	want := []time.Duration{0, 0, 0, 0, time.Minute, 2 * time.Minute}
	for i, lock := range want {
		svc.SignIn(ctx, "zhangmin", "wrong", "", "")
		got, _ := db.FindUser(ctx, u.ID)
		switch {
		case lock == 0 && got.LockedUntil != nil:
			t.Errorf("failure %d locked until %s", i+1, got.LockedUntil)
		case lock > 0 && (got.LockedUntil == nil || !got.LockedUntil.Equal(c.now.Add(lock))):
			t.Errorf("failure %d locked until %v, want %s", i+1, got.LockedUntil, c.now.Add(lock))
		}
		if lock > 0 {
			c.now = c.now.Add(lock) // wait it out to try again
		}
	}
	c.now = c.now.Add(-time.Second)
	if _, err := svc.SignIn(ctx, "zhangmin", "correct horse battery", "", ""); liftrescue.ErrorCode(err) != liftrescue.EFORBIDDEN {
		t.Errorf("right password while locked: %v, want EFORBIDDEN", err)
	}
	c.now = c.now.Add(time.Second)
	if _, err := svc.SignIn(ctx, "zhangmin", "correct horse battery", "", ""); err != nil {
		t.Errorf("right password after the lock: %v", err)
	}
	// The longest lock is capped.
	for i := 0; i < 20; i++ {
		svc.SignIn(ctx, "zhangmin", "wrong", "", "")
		if got, _ := db.FindUser(ctx, u.ID); got.LockedUntil != nil {
			if d := got.LockedUntil.Sub(c.now); d > auth.MaxLock {
				t.Fatalf("locked for %s, more than %s", d, auth.MaxLock)
			}
			c.now = *got.LockedUntil
		}
	}
}

func TestSessionLifetime(t *testing.T) {
	svc, _, c := newService(t)
	ctx := context.Background()
	u := &liftrescue.User{Username: "wanglei", Role: liftrescue.RoleDispatcher}
	if err := svc.CreateUser(ctx, u, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	in, err := svc.SignIn(ctx, "wanglei", "correct horse battery", "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	// Used every few hours, the session lives on up to its maximum age.
	for c.now.Before(in.Session.CreatedAt.Add(liftrescue.MaxSessionAge - time.Hour)) {
		c.now = c.now.Add(4 * time.Hour)
		if _, _, err := svc.Session(ctx, in.Token); err != nil && c.now.Before(in.Session.CreatedAt.Add(liftrescue.MaxSessionAge)) {
			t.Fatalf("at %s: %v", c.now.Sub(in.Session.CreatedAt), err)
		}
	}
	c.now = in.Session.CreatedAt.Add(liftrescue.MaxSessionAge + time.Second)
	if _, _, err := svc.Session(ctx, in.Token); liftrescue.ErrorCode(err) != liftrescue.EUNAUTHORIZED {
		t.Errorf("past the maximum age: %v, want EUNAUTHORIZED", err)
	}
	// Idle longer than SessionIdle: over.
	in, _ = svc.SignIn(ctx, "wanglei", "correct horse battery", "", "")
	c.now = c.now.Add(liftrescue.SessionIdle + time.Second)
	if _, _, err := svc.Session(ctx, in.Token); liftrescue.ErrorCode(err) != liftrescue.EUNAUTHORIZED {
		t.Errorf("idle past %s: %v", liftrescue.SessionIdle, err)
	}
	// Disabling the user ends their sessions at once, also those cached.
	in, _ = svc.SignIn(ctx, "wanglei", "correct horse battery", "", "")
	if _, _, err := svc.Session(ctx, in.Token); err != nil {
		t.Fatal(err)
	}
	u.Disabled = true
	if err := svc.UpdateUser(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Session(ctx, in.Token); liftrescue.ErrorCode(err) != liftrescue.EUNAUTHORIZED {
		t.Errorf("disabled user's session: %v", err)
	}
	if _, err := svc.SignIn(ctx, "wanglei", "correct horse battery", "", ""); liftrescue.ErrorCode(err) != liftrescue.EFORBIDDEN {
		t.Errorf("disabled user signs in: %v", err)
	}
}

func TestAPIKeyRevokedAtOnce(t *testing.T) {
	svc, db, _ := newService(t)
	ctx := context.Background()
	k := &liftrescue.APIKey{Name: "iot", Scopes: []liftrescue.Permission{liftrescue.PermAlarms}}
	key, err := svc.NewAPIKey(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	p, err := svc.APIKey(ctx, key)
	if err != nil || !p.Can(liftrescue.PermAlarms) || p.Can(liftrescue.PermRead) {
		t.Fatalf("key principal = %+v, %v", p, err)
	}
	if stored, _ := db.FindAPIKey(ctx, auth.Hash(key)); stored.LastUsedAt == nil {
		t.Error("the key's use was not recorded")
	}
	if err := svc.RevokeAPIKey(ctx, k.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.APIKey(ctx, key); liftrescue.ErrorCode(err) != liftrescue.EUNAUTHORIZED {
		t.Errorf("revoked key (cached a moment ago): %v", err)
	}
	if _, err := svc.AddAPIKey(ctx, &liftrescue.APIKey{Name: "short", Scopes: []liftrescue.Permission{liftrescue.PermRead}}, "too-short"); liftrescue.ErrorCode(err) != liftrescue.EINVALID {
		t.Errorf("a short chosen key: %v", err)
	}
}

// TestChangePassword: the current password is required; the session that changed it stays, the
// others end, and only the new password signs in.
func TestChangePassword(t *testing.T) {
	svc, _, _ := newService(t)
	ctx := context.Background()
	u := &liftrescue.User{Username: "wanglei", Role: liftrescue.RoleDispatcher}
	if err := svc.CreateUser(ctx, u, "correct horse battery"); err != nil {
		t.Fatal(err)
	}
	here, _ := svc.SignIn(ctx, "wanglei", "correct horse battery", "", "")
	there, _ := svc.SignIn(ctx, "wanglei", "correct horse battery", "", "")
	for _, s := range []*auth.SignedIn{here, there} { // both cached
		if _, _, err := svc.Session(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.ChangePassword(ctx, u.ID, "not it", "a new long password", here.Token); liftrescue.ErrorCode(err) != liftrescue.EINVALID {
		t.Errorf("wrong current password: %v", err)
	}
	if err := svc.ChangePassword(ctx, u.ID, "correct horse battery", "a new long password", here.Token); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.Session(ctx, here.Token); err != nil {
		t.Errorf("the session that changed the password ended: %v", err)
	}
	if _, _, err := svc.Session(ctx, there.Token); liftrescue.ErrorCode(err) != liftrescue.EUNAUTHORIZED {
		t.Errorf("the other session: %v, want ended", err)
	}
	if _, err := svc.SignIn(ctx, "wanglei", "correct horse battery", "", ""); err != auth.ErrBadCredentials {
		t.Errorf("old password: %v", err)
	}
	if _, err := svc.SignIn(ctx, "wanglei", "a new long password", "", ""); err != nil {
		t.Errorf("new password: %v", err)
	}
}

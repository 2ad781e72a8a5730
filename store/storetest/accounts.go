package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// cst is a zone other than UTC: the stores keep every time in UTC to the microsecond, whatever zone
// and precision it came in.
var cst = time.FixedZone("CST", 8*3600)

// user makes the user with the username and role, city-wide.
func (f *fixture) user(tb testing.TB, username string, role liftrescue.Role) *liftrescue.User {
	tb.Helper()
	u := &liftrescue.User{Username: username, Name: "用户 " + username, Role: role, PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$" + username}
	MustOK(tb, f.s.CreateUser(f.ctx, u))
	return u
}

// mustSameUser compares what the console shows of a user, and the password hash, which it does not.
func mustSameUser(tb testing.TB, what string, got, want *liftrescue.User) {
	tb.Helper()
	mustJSON(tb, what, got, want)
	if got.PasswordHash != want.PasswordHash {
		tb.Fatalf("%s: password hash %q, want %q", what, got.PasswordHash, want.PasswordHash)
	}
}

func (f *fixture) userCount(tb testing.TB) int {
	tb.Helper()
	users, err := f.s.ListUsers(f.ctx)
	MustOK(tb, err)
	return len(users)
}

func testUsers(t *testing.T, f *fixture) {
	u := f.user(t, "zhang.san", liftrescue.RoleDispatcher)
	if u.ID == 0 || !u.CreatedAt.Equal(f.clock.T.Truncate(time.Microsecond)) || !u.UpdatedAt.Equal(u.CreatedAt) {
		t.Fatalf("created user: id %d, created_at %v, updated_at %v; want an id and the clock's time", u.ID, u.CreatedAt, u.UpdatedAt)
	}
	got, err := f.s.FindUser(f.ctx, u.ID)
	MustOK(t, err)
	mustSameUser(t, "FindUser", got, u)
	byName, err := f.s.FindUserByName(f.ctx, "zhang.san")
	MustOK(t, err)
	mustSameUser(t, "FindUserByName", byName, u)
	_, err = f.s.FindUser(f.ctx, u.ID+100)
	MustCode(t, err, liftrescue.ENOTFOUND)
	for _, name := range []string{"li.si", "ZHANG.SAN", "zhang.san ", "zhang\x00san", "\xff\xfe"} {
		_, err = f.s.FindUserByName(f.ctx, name)
		MustCode(t, err, liftrescue.ENOTFOUND)
	}

	// A taken username is a conflict naming the holder; a bad user is refused whole.
	dup := &liftrescue.User{Username: "zhang.san", Name: "另一个张三", Role: liftrescue.RolePlanner, PasswordHash: "$argon2id$x"}
	err = f.s.CreateUser(f.ctx, dup)
	MustCode(t, err, liftrescue.ECONFLICT)
	if d := liftrescue.ErrorDetails(err); len(d) != 1 || d[0].Field != "username" || d[0].Value != "zhang.san" {
		t.Fatalf("taken username: details %+v, want the username", d)
	}
	if want := fmt.Sprintf("username zhang.san is already used by user %d", u.ID); liftrescue.ErrorMessage(err) != want {
		t.Fatalf("taken username: message %q, want %q", liftrescue.ErrorMessage(err), want)
	}
	if dup.ID != 0 || !dup.CreatedAt.IsZero() {
		t.Fatalf("a refused create set id %d, created_at %v", dup.ID, dup.CreatedAt)
	}
	for _, tt := range []struct {
		name  string
		edit  func(u *liftrescue.User)
		field string
	}{
		{"capitals", func(u *liftrescue.User) { u.Username = "Wang.Wu" }, "username"},
		{"starts with a dot", func(u *liftrescue.User) { u.Username = ".wang" }, "username"},
		{"unknown role", func(u *liftrescue.User) { u.Role = "janitor" }, "role"},
		{"no password", func(u *liftrescue.User) { u.PasswordHash = "" }, "password"},
		{"a password hash no database keeps", func(u *liftrescue.User) { u.PasswordHash = "$argon2id\x00" }, "password"},
		{"short district", func(u *liftrescue.User) { u.District = "3704" }, "district"},
		{"control characters in the name", func(u *liftrescue.User) { u.Name = "王\x00五" }, "name"},
	} {
		bad := &liftrescue.User{Username: "wang.wu", Name: "王五", Role: liftrescue.RoleDispatcher, PasswordHash: "$argon2id$x"}
		tt.edit(bad)
		err := f.s.CreateUser(f.ctx, bad)
		MustCode(t, err, liftrescue.EINVALID)
		if d := liftrescue.ErrorDetails(err); len(d) == 0 || d[0].Field != tt.field {
			t.Errorf("%s: details %+v, want field %s", tt.name, d, tt.field)
		}
	}
	if n := f.userCount(t); n != 1 {
		t.Fatalf("%d users after refused creates, want 1", n)
	}

	// Users are listed by username, byte by byte.
	for _, name := range []string{"zoe", "adam", "ab", "a.b", "a-b", "a9"} {
		f.user(t, name, liftrescue.RolePlanner)
	}
	users, err := f.s.ListUsers(f.ctx)
	MustOK(t, err)
	var names []string
	for _, u := range users {
		names = append(names, u.Username)
	}
	if got, want := fmt.Sprint(names), "[a-b a.b a9 ab adam zhang.san zoe]"; got != want {
		t.Fatalf("ListUsers = %s, want %s", got, want)
	}
}

func testUserUpdate(t *testing.T, f *fixture) {
	u := f.user(t, "zhang.san", liftrescue.RoleDispatcher)
	created := u.CreatedAt
	f.clock.T = f.clock.T.Add(time.Hour)
	edit := *u
	edit.Name, edit.Role, edit.District, edit.Disabled, edit.PasswordHash = "张三丰", liftrescue.RoleSupervisor, "370402", true, "$argon2id$new"
	// The username and the sign-in record are not the update's to change.
	edit.Username, edit.FailedSignIns = "zhang.sanfeng", 7
	MustOK(t, f.s.UpdateUser(f.ctx, &edit))
	if edit.Username != "zhang.san" || edit.FailedSignIns != 0 || !edit.CreatedAt.Equal(created) ||
		!edit.UpdatedAt.Equal(f.clock.T.Truncate(time.Microsecond)) {
		t.Fatalf("UpdateUser left %+v, want the stored username, sign-ins and created_at, updated now", edit)
	}
	got, err := f.s.FindUser(f.ctx, u.ID)
	MustOK(t, err)
	mustSameUser(t, "after update", got, &edit)
	if got.Name != "张三丰" || got.Role != liftrescue.RoleSupervisor || got.District != "370402" || !got.Disabled || got.PasswordHash != "$argon2id$new" {
		t.Fatalf("after update = %+v", got)
	}
	_, err = f.s.FindUserByName(f.ctx, "zhang.sanfeng")
	MustCode(t, err, liftrescue.ENOTFOUND)

	// Back to city-wide and enabled.
	got.District, got.Disabled = "", false
	MustOK(t, f.s.UpdateUser(f.ctx, got))
	again, err := f.s.FindUserByName(f.ctx, "zhang.san")
	MustOK(t, err)
	if again.District != "" || again.Disabled {
		t.Fatalf("after second update = %+v, want city-wide and enabled", again)
	}

	// A bad update changes nothing; a missing user is not found.
	bad := *again
	bad.Role, bad.Name = "janitor", "坏"
	MustCode(t, f.s.UpdateUser(f.ctx, &bad), liftrescue.EINVALID)
	stored, err := f.s.FindUser(f.ctx, u.ID)
	MustOK(t, err)
	mustSameUser(t, "after a refused update", stored, again)
	missing := *again
	missing.ID = u.ID + 100
	MustCode(t, f.s.UpdateUser(f.ctx, &missing), liftrescue.ENOTFOUND)
}

func testSignIns(t *testing.T, f *fixture) {
	u := f.user(t, "zhang.san", liftrescue.RoleDispatcher)
	find := func() *liftrescue.User {
		t.Helper()
		got, err := f.s.FindUser(f.ctx, u.ID)
		MustOK(t, err)
		return got
	}
	if got := find(); got.FailedSignIns != 0 || got.LockedUntil != nil || got.LastSignInAt != nil {
		t.Fatalf("a new user = %+v, want no sign-ins and no lock", got)
	}

	// Five wrong passwords lock the account.
	locked := f.clock.T.In(cst).Add(15 * time.Minute)
	MustOK(t, f.s.RecordSignIn(f.ctx, u.ID, 5, &locked, nil))
	got := find()
	if got.FailedSignIns != 5 || got.LockedUntil == nil || !got.LockedUntil.Equal(locked.Truncate(time.Microsecond)) ||
		got.LockedUntil.Location() != time.UTC || got.LastSignInAt != nil {
		t.Fatalf("after failures = %+v, want 5 failures, locked until %v", got, locked)
	}
	if !got.UpdatedAt.Equal(u.UpdatedAt) {
		t.Fatalf("a sign-in moved updated_at to %v, want %v: it says when the account was last edited", got.UpdatedAt, u.UpdatedAt)
	}

	// A good one clears both and is remembered.
	at := f.clock.T.Add(20 * time.Minute)
	MustOK(t, f.s.RecordSignIn(f.ctx, u.ID, 0, nil, &at))
	got = find()
	if got.FailedSignIns != 0 || got.LockedUntil != nil || got.LastSignInAt == nil || !got.LastSignInAt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("after a good sign-in = %+v, want no failures, no lock, last at %v", got, at)
	}

	// A failure after it keeps the time of the good one.
	MustOK(t, f.s.RecordSignIn(f.ctx, u.ID, 1, nil, nil))
	got = find()
	if got.FailedSignIns != 1 || got.LastSignInAt == nil || !got.LastSignInAt.Equal(at.Truncate(time.Microsecond)) {
		t.Fatalf("after a failure = %+v, want 1 failure and the last good sign-in kept", got)
	}

	MustCode(t, f.s.RecordSignIn(f.ctx, u.ID+100, 0, nil, &at), liftrescue.ENOTFOUND)
	MustCode(t, f.s.RecordSignIn(f.ctx, u.ID, -1, nil, nil), liftrescue.EINVALID)
}

// session makes a session of the user, started now in another zone to the nanosecond, for the idle
// time.
func (f *fixture) session(tb testing.TB, token string, u *liftrescue.User) *liftrescue.Session {
	tb.Helper()
	now := f.clock.T.In(cst)
	s := &liftrescue.Session{TokenHash: token, UserID: u.ID, CSRF: "csrf-" + token, CreatedAt: now, LastSeenAt: now,
		ExpiresAt: now.Add(liftrescue.SessionIdle), RemoteAddr: "10.0.0.7", UserAgent: "Mozilla/5.0 (调度台)"}
	MustOK(tb, f.s.CreateSession(f.ctx, s))
	return s
}

func testSessions(t *testing.T, f *fixture) {
	u := f.user(t, "zhang.san", liftrescue.RoleDispatcher)
	other := f.user(t, "li.si", liftrescue.RoleDispatcher)
	s := f.session(t, "a1", u)
	if s.ExpiresAt.Location() != time.UTC || s.ExpiresAt.Nanosecond()%1000 != 0 {
		t.Fatalf("CreateSession left expires_at %v, want it in UTC to the microsecond as stored", s.ExpiresAt)
	}
	got, gotUser, err := f.s.FindSession(f.ctx, "a1", f.clock.T)
	MustOK(t, err)
	mustJSON(t, "FindSession", got, s)
	mustSameUser(t, "the session's user", gotUser, u)

	// Expired at the instant of its expiry, not a microsecond before.
	_, _, err = f.s.FindSession(f.ctx, "a1", s.ExpiresAt.Add(-time.Microsecond))
	MustOK(t, err)
	_, _, err = f.s.FindSession(f.ctx, "a1", s.ExpiresAt)
	MustCode(t, err, liftrescue.ENOTFOUND)
	for _, token := range []string{"a2", "", "a1\x00", "\xff"} {
		_, _, err = f.s.FindSession(f.ctx, token, f.clock.T)
		MustCode(t, err, liftrescue.ENOTFOUND)
	}
	MustCode(t, f.s.CreateSession(f.ctx, &liftrescue.Session{UserID: u.ID, ExpiresAt: s.ExpiresAt}), liftrescue.EINVALID)
	MustCode(t, f.s.CreateSession(f.ctx, &liftrescue.Session{TokenHash: "a1", UserID: u.ID, ExpiresAt: s.ExpiresAt}), liftrescue.ECONFLICT)

	// Use moves the expiry on, so the session outlives its first expiry.
	seen := s.ExpiresAt.Add(-time.Hour)
	expires := seen.Add(liftrescue.SessionIdle)
	MustOK(t, f.s.TouchSession(f.ctx, "a1", seen, expires))
	got, _, err = f.s.FindSession(f.ctx, "a1", s.ExpiresAt.Add(time.Hour))
	MustOK(t, err)
	if !got.LastSeenAt.Equal(seen) || !got.ExpiresAt.Equal(expires) || !got.CreatedAt.Equal(s.CreatedAt) {
		t.Fatalf("after touch = %+v, want last seen %v, expiring %v", got, seen, expires)
	}
	MustCode(t, f.s.TouchSession(f.ctx, "a2", seen, expires), liftrescue.ENOTFOUND)

	// Sign out: one session, then twice more is no error.
	MustOK(t, f.s.DeleteSession(f.ctx, "a1"))
	_, _, err = f.s.FindSession(f.ctx, "a1", f.clock.T)
	MustCode(t, err, liftrescue.ENOTFOUND)
	MustOK(t, f.s.DeleteSession(f.ctx, "a1"))
	MustCode(t, f.s.TouchSession(f.ctx, "a1", seen, expires), liftrescue.ENOTFOUND)

	// Every session of a user ends but the one kept (the one that changed the password); another
	// user's stay.
	f.session(t, "b1", u)
	f.session(t, "b2", u)
	f.session(t, "b3", u)
	f.session(t, "c1", other)
	n, err := f.s.DeleteSessions(f.ctx, u.ID, "b3")
	MustOK(t, err)
	if n != 2 {
		t.Fatalf("DeleteSessions = %d, want 2", n)
	}
	for token, want := range map[string]string{"b1": liftrescue.ENOTFOUND, "b2": liftrescue.ENOTFOUND, "b3": "", "c1": ""} {
		_, _, err := f.s.FindSession(f.ctx, token, f.clock.T)
		MustCode(t, err, want)
	}
	if n, err := f.s.DeleteSessions(f.ctx, u.ID, ""); err != nil || n != 1 {
		t.Fatalf("DeleteSessions of all = %d, %v; want the kept one", n, err)
	}
	if n, err := f.s.DeleteSessions(f.ctx, u.ID, ""); err != nil || n != 0 {
		t.Fatalf("DeleteSessions again = %d, %v; want 0", n, err)
	}

	// The sweep takes what has expired by then, the session expiring at that instant included.
	early := f.session(t, "d1", u)
	f.clock.T = f.clock.T.Add(time.Hour)
	late := f.session(t, "d2", u)
	n, err = f.s.DeleteExpiredSessions(f.ctx, early.ExpiresAt)
	MustOK(t, err)
	if n != 2 { // c1 and d1, made at the same time
		t.Fatalf("DeleteExpiredSessions = %d, want 2", n)
	}
	_, _, err = f.s.FindSession(f.ctx, "d2", f.clock.T)
	MustOK(t, err)
	n, err = f.s.DeleteExpiredSessions(f.ctx, late.ExpiresAt.Add(-time.Microsecond))
	MustOK(t, err)
	if n != 0 {
		t.Fatalf("DeleteExpiredSessions before the last expiry = %d, want 0", n)
	}
}

// apiKey makes a key with the name and scopes, its hash and prefix made from the name.
func (f *fixture) apiKey(tb testing.TB, name string, scopes ...liftrescue.Permission) *liftrescue.APIKey {
	tb.Helper()
	k := &liftrescue.APIKey{Name: name, Scopes: scopes, Prefix: "lr_" + name[:2], Hash: "sha256-" + name, CreatedBy: "admin"}
	MustOK(tb, f.s.CreateAPIKey(f.ctx, k))
	return k
}

func testAPIKeys(t *testing.T, f *fixture) {
	hotline := f.apiKey(t, "12345 hotline", liftrescue.PermRead, liftrescue.PermOpenIncident)
	if hotline.ID == 0 || !hotline.CreatedAt.Equal(f.clock.T.Truncate(time.Microsecond)) {
		t.Fatalf("created key: id %d, created_at %v; want an id and the clock's time", hotline.ID, hotline.CreatedAt)
	}
	iot := &liftrescue.APIKey{Name: "IoT platform", Scopes: []liftrescue.Permission{liftrescue.PermAlarms}, District: "370402",
		Prefix: "lr_io", Hash: "sha256-iot", CreatedBy: "zhang.san"}
	MustOK(t, f.s.CreateAPIKey(f.ctx, iot))
	got, err := f.s.FindAPIKey(f.ctx, "sha256-iot")
	MustOK(t, err)
	mustJSON(t, "FindAPIKey", got, iot)
	if got.Hash != "sha256-iot" {
		t.Fatalf("FindAPIKey hash %q", got.Hash)
	}
	for _, hash := range []string{"sha256-none", "", "sha256-iot\x00", "\xff"} {
		_, err = f.s.FindAPIKey(f.ctx, hash)
		MustCode(t, err, liftrescue.ENOTFOUND)
	}

	// A bad key is refused and nothing is stored.
	for _, bad := range []liftrescue.APIKey{
		{Name: "no scopes", Prefix: "lr_no", Hash: "h1"},
		{Name: "unknown scope", Scopes: []liftrescue.Permission{"everything"}, Prefix: "lr_un", Hash: "h2"},
		{Name: "no hash", Scopes: []liftrescue.Permission{liftrescue.PermRead}, Prefix: "lr_nh"},
		{Scopes: []liftrescue.Permission{liftrescue.PermRead}, Prefix: "lr_nn", Hash: "h3"},
		{Name: "bad district", Scopes: []liftrescue.Permission{liftrescue.PermRead}, District: "37", Prefix: "lr_bd", Hash: "h4"},
	} {
		MustCode(t, f.s.CreateAPIKey(f.ctx, &bad), liftrescue.EINVALID)
		if bad.ID != 0 {
			t.Errorf("refused key %q got id %d", bad.Name, bad.ID)
		}
	}

	// Revoked keys stay, found and listed, with the time of the first revoke.
	revoked := f.clock.T.In(cst).Add(time.Hour)
	MustOK(t, f.s.RevokeAPIKey(f.ctx, hotline.ID, revoked))
	MustOK(t, f.s.RevokeAPIKey(f.ctx, hotline.ID, revoked.Add(time.Hour)))
	MustCode(t, f.s.RevokeAPIKey(f.ctx, iot.ID+100, revoked), liftrescue.ENOTFOUND)
	got, err = f.s.FindAPIKey(f.ctx, hotline.Hash)
	MustOK(t, err)
	if got.RevokedAt == nil || !got.RevokedAt.Equal(revoked.Truncate(time.Microsecond)) || got.RevokedAt.Location() != time.UTC {
		t.Fatalf("after two revokes: revoked_at %v, want the first, %v, in UTC", got.RevokedAt, revoked)
	}

	// Uses are recorded in one write; a use older than the one recorded does not set it back.
	used := f.clock.T.Add(2 * time.Hour)
	MustOK(t, f.s.TouchAPIKeys(f.ctx, map[int64]time.Time{hotline.ID: used, iot.ID: used.Add(time.Minute)}))
	MustOK(t, f.s.TouchAPIKeys(f.ctx, map[int64]time.Time{iot.ID: used}))
	MustOK(t, f.s.TouchAPIKeys(f.ctx, nil))
	keys, err := f.s.ListAPIKeys(f.ctx)
	MustOK(t, err)
	if len(keys) != 2 || keys[0].ID != hotline.ID || keys[1].ID != iot.ID {
		t.Fatalf("ListAPIKeys = %+v, want the hotline's then the IoT platform's", keys)
	}
	for i, want := range []time.Time{used, used.Add(time.Minute)} {
		if k := keys[i]; k.LastUsedAt == nil || !k.LastUsedAt.Equal(want.Truncate(time.Microsecond)) {
			t.Errorf("key %d last used %v, want %v", k.ID, k.LastUsedAt, want)
		}
	}
	if keys[0].RevokedAt == nil || keys[1].RevokedAt != nil {
		t.Fatalf("listed revoked_at %v and %v, want the hotline's only", keys[0].RevokedAt, keys[1].RevokedAt)
	}
	if fmt.Sprint(keys[0].Scopes) != "[read incidents:open]" || keys[1].District != "370402" || keys[1].CreatedBy != "zhang.san" {
		t.Fatalf("listed keys %+v and %+v", keys[0], keys[1])
	}
}

// auditEntries are n entries a minute apart from the clock's time on, by three actors in turn.
func (f *fixture) auditEntries(n int) []liftrescue.AuditEntry {
	actors := []string{"zhang.san", "li.si", "12345 hotline"}
	out := make([]liftrescue.AuditEntry, n)
	for i := range out {
		kind := liftrescue.PrincipalUser
		if i%3 == 2 {
			kind = liftrescue.PrincipalAPIKey
		}
		out[i] = liftrescue.AuditEntry{At: f.clock.T.In(cst).Add(time.Duration(i) * time.Minute), ActorKind: kind, ActorID: int64(i%3 + 1),
			ActorName: actors[i%3], Action: "POST /api/v1/incidents/{id}/actions", Target: fmt.Sprintf("/api/v1/incidents/%d/actions", i),
			Status: 200, Detail: "dispatch", RequestID: fmt.Sprintf("req-%d", i), Remote: "10.0.0.7"}
	}
	return out
}

// listAudit walks every page of the filter and returns the entries, checking that each page
// counts them all.
func (f *fixture) listAudit(tb testing.TB, filter liftrescue.AuditFilter) []liftrescue.AuditEntry {
	tb.Helper()
	var out []liftrescue.AuditEntry
	total := -1
	for {
		p, err := f.s.ListAudit(f.ctx, filter)
		MustOK(tb, err)
		if total >= 0 && p.Total != total {
			tb.Fatalf("total %d on a later page, %d on the first", p.Total, total)
		}
		total = p.Total
		out = append(out, p.Items...)
		if filter.Cursor = p.NextCursor; filter.Cursor == "" {
			break
		}
	}
	if len(out) != total {
		tb.Fatalf("paged through %d entries, total %d", len(out), total)
	}
	return out
}

func testAudit(t *testing.T, f *fixture) {
	MustOK(t, f.s.AppendAudit(f.ctx, nil))
	entries := f.auditEntries(25)
	MustOK(t, f.s.AppendAudit(f.ctx, entries))
	for i := range entries {
		if entries[i].ID == 0 || i > 0 && entries[i].ID <= entries[i-1].ID {
			t.Fatalf("entry %d got id %d after %d, want ids in the order appended", i, entries[i].ID, entries[max(i-1, 0)].ID)
		}
	}

	// Newest first, every entry once, as stored.
	first, err := f.s.ListAudit(f.ctx, liftrescue.AuditFilter{})
	MustOK(t, err)
	if first.Total != 25 || len(first.Items) != 25 || first.NextCursor != "" {
		t.Fatalf("default page: total %d, %d items, cursor %q", first.Total, len(first.Items), first.NextCursor)
	}
	for i, e := range first.Items {
		want := entries[len(entries)-1-i]
		want.At = want.At.UTC().Truncate(time.Microsecond)
		mustJSON(t, fmt.Sprintf("entry %d", i), e, want)
	}
	paged := f.listAudit(t, liftrescue.AuditFilter{Limit: 7})
	mustJSON(t, "paged by 7", paged, first.Items)

	// Filters: one actor, a time range, both.
	at := func(i int) time.Time { return entries[i].At }
	for _, tt := range []struct {
		name   string
		filter liftrescue.AuditFilter
		want   []int // indexes into entries, newest first
	}{
		{"actor", liftrescue.AuditFilter{ActorName: "li.si", Limit: 3}, []int{22, 19, 16, 13, 10, 7, 4, 1}},
		{"since", liftrescue.AuditFilter{Since: at(21), Limit: 2}, []int{24, 23, 22, 21}},
		{"until", liftrescue.AuditFilter{Until: at(3)}, []int{2, 1, 0}},
		{"range", liftrescue.AuditFilter{Since: at(5), Until: at(9).Add(time.Microsecond)}, []int{9, 8, 7, 6, 5}},
		{"actor in a range", liftrescue.AuditFilter{ActorName: "12345 hotline", Since: at(5), Until: at(15), Limit: 1}, []int{14, 11, 8, 5}},
		{"nobody", liftrescue.AuditFilter{ActorName: "wang.wu"}, nil},
		{"empty range", liftrescue.AuditFilter{Since: at(9), Until: at(9)}, nil},
	} {
		got := f.listAudit(t, tt.filter)
		var ids, want []int64
		for _, e := range got {
			ids = append(ids, e.ID)
		}
		for _, i := range tt.want {
			want = append(want, entries[i].ID)
		}
		if fmt.Sprint(ids) != fmt.Sprint(want) {
			t.Errorf("%s: ids %v, want %v", tt.name, ids, want)
		}
	}

	_, err = f.s.ListAudit(f.ctx, liftrescue.AuditFilter{Cursor: "garbage!"})
	MustCode(t, err, liftrescue.EINVALID)
	_, err = f.s.ListAudit(f.ctx, liftrescue.AuditFilter{Limit: liftrescue.MaxLimit + 1})
	MustCode(t, err, liftrescue.EINVALID)
	_, err = f.s.ListAudit(f.ctx, liftrescue.AuditFilter{Limit: -1})
	MustCode(t, err, liftrescue.EINVALID)
}

// An entry records what a client sent, whatever it was: it is kept, at the store's time when it
// has none, with U+FFFD for what no database keeps as text.
func testAuditKeepsAnything(t *testing.T, f *fixture) {
	entries := []liftrescue.AuditEntry{
		{ActorName: "", Action: "sign_in", Target: "zhang\x00san", Status: 401, Detail: "no such user \xff"},
		{ActorName: "zhang\x00san", Action: "sign_in", Target: "zhang.san", Status: 200},
	}
	MustOK(t, f.s.AppendAudit(f.ctx, entries))
	list := f.listAudit(t, liftrescue.AuditFilter{})
	if len(list) != 2 {
		t.Fatalf("%d entries, want 2", len(list))
	}
	got := list[1]
	if got.Target != "zhang\uFFFDsan" || got.Detail != "no such user \uFFFD" || got.ActorKind != "" || got.ActorName != "" ||
		!got.At.Equal(f.clock.T.Truncate(time.Microsecond)) {
		t.Fatalf("stored %+v, want the text with U+FFFD and the clock's time", got)
	}
	mustJSON(t, "what AppendAudit left", entries[0], got)
	if byActor := f.listAudit(t, liftrescue.AuditFilter{ActorName: "zhang\x00san"}); len(byActor) != 1 || byActor[0].ID != entries[1].ID {
		t.Fatalf("by the actor's name as sent: %+v, want entry %d", byActor, entries[1].ID)
	}
}

// MustRefuseAuditChanges appends two audit entries, then runs each statement with exec, which
// reaches the store's database past the store, and checks that the database refuses it and the
// log stands as it was: the audit log is append-only.
func MustRefuseAuditChanges(t *testing.T, s liftrescue.Store, exec func(statement string) error, statements ...string) {
	t.Helper()
	ctx := context.Background()
	now := time.Date(2026, 11, 21, 2, 30, 0, 0, time.UTC)
	entries := []liftrescue.AuditEntry{
		{At: now, ActorKind: liftrescue.PrincipalUser, ActorID: 1, ActorName: "zhang.san", Action: "sign_in", Target: "zhang.san", Status: 200},
		{At: now.Add(time.Second), ActorKind: liftrescue.PrincipalUser, ActorID: 1, ActorName: "zhang.san",
			Action: "DELETE /api/v1/elevators/{id}", Target: "/api/v1/elevators/7", Status: 204},
	}
	MustOK(t, s.AppendAudit(ctx, entries))
	for _, statement := range statements {
		if err := exec(statement); err == nil {
			t.Errorf("%s: the database took it", statement)
		}
		page, err := s.ListAudit(ctx, liftrescue.AuditFilter{})
		MustOK(t, err)
		mustJSON(t, "the audit log after "+statement, page.Items, []liftrescue.AuditEntry{entries[1], entries[0]})
	}
}

// Users made at once with one username: one is made, and every other is told the username is
// taken, by whom, however the store finds out (a check before the insert, or the unique index).
func testUsersConcurrentCreate(t *testing.T, f *fixture) {
	const n = 32
	users := make([]*liftrescue.User, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range users {
		users[i] = &liftrescue.User{Username: "zhang.san", Name: fmt.Sprintf("张三 %d", i), Role: liftrescue.RoleDispatcher, PasswordHash: "$argon2id$x"}
		wg.Go(func() {
			<-start
			errs[i] = f.s.CreateUser(f.ctx, users[i])
		})
	}
	close(start)
	wg.Wait()
	var made []int64
	for i, err := range errs {
		if err == nil {
			made = append(made, users[i].ID)
		}
	}
	if len(made) != 1 {
		t.Fatalf("users %v made with one username, want one", made)
	}
	want := fmt.Sprintf("username zhang.san is already used by user %d", made[0])
	for _, err := range errs {
		if err != nil && (liftrescue.ErrorCode(err) != liftrescue.ECONFLICT || liftrescue.ErrorMessage(err) != want) {
			t.Errorf("%v, want %q", err, want)
		}
	}
}

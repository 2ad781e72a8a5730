package auth_test

import (
	"context"
	"testing"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/auth"
)

// BenchmarkCredential is what checking a credential adds to every request: a key or a session
// found in the cache (the common case), and a password checked at sign-in.
func BenchmarkCredential(b *testing.B) {
	svc, _, _ := newService(b)
	ctx := context.Background()
	key, err := svc.NewAPIKey(ctx, &liftrescue.APIKey{Name: "bench", Scopes: liftrescue.Permissions})
	if err != nil {
		b.Fatal(err)
	}
	if err := svc.CreateUser(ctx, &liftrescue.User{Username: "bench", Role: liftrescue.RoleDispatcher}, "correct horse battery"); err != nil {
		b.Fatal(err)
	}
	in, err := svc.SignIn(ctx, "bench", "correct horse battery", "", "")
	if err != nil {
		b.Fatal(err)
	}
	b.Run("api-key", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.APIKey(ctx, key); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("session", func(b *testing.B) {
		for b.Loop() {
			if _, _, err := svc.Session(ctx, in.Token); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("password", func(b *testing.B) {
		h := auth.HashPassword("correct horse battery")
		for b.Loop() {
			if !auth.VerifyPassword(h, "correct horse battery") {
				b.Fatal("no match")
			}
		}
	})
}

package auth

import (
	"strings"
	"testing"
)

// FuzzParsePHC: whatever a password hash column holds, reading it never panics, and what it
// accepts is within the bounds that keep a sign-in quick.
func FuzzParsePHC(f *testing.F) {
	f.Add(HashPassword("correct horse battery"))
	f.Add("$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5")
	f.Add("$argon2id$v=19$m=4000000,t=2,p=1$c2FsdA$a2V5")
	f.Add("$argon2i$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG")
	f.Add("")
	f.Fuzz(func(t *testing.T, hash string) {
		h, ok := parsePHC(hash)
		if !ok {
			return
		}
		if h.memory > 256*1024 || h.time > 10 || h.threads > 16 || len(h.key) > 64 {
			t.Fatalf("accepted %q with %+v", hash, h)
		}
		if !strings.HasPrefix(hash, "$argon2id$v=19$") {
			t.Fatalf("accepted %q", hash)
		}
	})
}

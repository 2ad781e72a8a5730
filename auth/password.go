package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/liftrescue/liftrescue"
	"golang.org/x/crypto/argon2"
)

// argon2id parameters: OWASP's second recommendation (19 MiB, 2 passes, 1 lane), about 30 ms a
// hash on the 2-core machines a centre runs this on: slow for a guesser, quick for a sign-in.
// They are written into every hash, so raising them later leaves old hashes readable.
const (
	argonTime    = 2
	argonMemory  = 19 * 1024 // KiB
	argonThreads = 1
	argonKeyLen  = 32
	argonSaltLen = 16
)

// Passwords are at least MinPassword characters (long phrases are easier to type on a console
// than short symbols) and at most MaxPassword bytes, so that hashing cannot be made to work on
// megabytes.
const (
	MinPassword = 10
	MaxPassword = 256
)

// CheckPassword returns EINVALID when a new password is too short, too long, or not text.
func CheckPassword(pw string) error {
	switch {
	case !utf8.ValidString(pw):
		return liftrescue.Invalid("password", "is not valid UTF-8")
	case utf8.RuneCountInString(pw) < MinPassword:
		return liftrescue.Invalid("password", fmt.Sprintf("must be at least %d characters", MinPassword))
	case len(pw) > MaxPassword:
		return liftrescue.Invalid("password", fmt.Sprintf("must be at most %d bytes", MaxPassword))
	}
	return nil
}

// HashPassword returns the PHC string of pw under argon2id with a fresh salt.
func HashPassword(pw string) string {
	salt := make([]byte, argonSaltLen)
	if _, err := rand.Read(salt); err != nil {
		panic(err) // crypto/rand does not fail on the systems Go supports
	}
	key := argon2.IDKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// VerifyPassword reports whether pw matches the PHC string. A hash it cannot read never matches.
func VerifyPassword(hash, pw string) bool {
	if len(pw) > MaxPassword {
		return false
	}
	h, ok := parsePHC(hash)
	if !ok {
		return false
	}
	got := argon2.IDKey([]byte(pw), h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

// phc is an argon2id hash read from its PHC string.
type phc struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

// parsePHC reads "$argon2id$v=19$m=…,t=…,p=…$salt$key". Its bounds keep a tampered row from
// making a sign-in take minutes or gigabytes.
func parsePHC(hash string) (phc, bool) {
	var h phc
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" || parts[2] != fmt.Sprintf("v=%d", argon2.Version) {
		return h, false
	}
	var rest string
	if n, _ := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d%s", &h.memory, &h.time, &h.threads, &rest); n != 3 ||
		h.memory < 8 || h.memory > 256*1024 || h.time == 0 || h.time > 10 || h.threads == 0 || h.threads > 16 {
		return h, false
	}
	b64 := base64.RawStdEncoding
	var err1, err2 error
	h.salt, err1 = b64.DecodeString(parts[4])
	h.key, err2 = b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(h.salt) < 8 || len(h.key) < 16 || len(h.key) > 64 {
		return h, false
	}
	return h, true
}

// dummyHash is compared against when a username is unknown, so that a sign-in takes as long
// whether or not the user exists.
var dummyHash = HashPassword("not anybody's password")

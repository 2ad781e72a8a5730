package api

import (
	"crypto/rand"
	"encoding/hex"
)

// newRequestID returns 16 random hex digits: enough to tell requests apart in a day's logs.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

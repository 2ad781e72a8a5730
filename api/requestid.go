package api

import (
	"crypto/rand"
	"encoding/hex"

	"github.com/labstack/echo/v4"
)

// requestID gives every request an id, and every answer the headers that keep browsers safe, returned in X-Request-Id and written to the log. A caller's
// own id (the hotline system's) is kept so that one call can be followed across systems, but only
// when it looks like an id: short, and of letters, digits, '-', '_' and '.'.
func requestID(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		id := c.Request().Header.Get(echo.HeaderXRequestID)
		if !plausibleID(id) {
			id = newRequestID()
		}
		h := c.Response().Header()
		h.Set(echo.HeaderXRequestID, id)
		// No answer is to be sniffed into a script, framed by another site, or leak its URL (a
		// responder's link) to the sites its page loads from (map tiles).
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		return next(c)
	}
}

func plausibleID(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			return false
		}
	}
	return true
}

// newRequestID returns 16 random hex digits: enough to tell requests apart in a day's logs.
func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

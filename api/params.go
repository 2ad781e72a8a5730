package api

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
)

// checkParams refuses a path or query that is not clean UTF-8 text before any handler sees it: a NUL
// byte or a broken GBK sequence in a search box must be a clear 400, not a database error.
func checkParams(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !cleanText(c.Request().URL.Path) {
			return liftrescue.Errorf(liftrescue.EBADREQUEST, "the path is not valid UTF-8 text")
		}
		for name, values := range c.QueryParams() {
			for _, v := range values {
				if !cleanText(name) || !cleanText(v) {
					return &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: "query parameter " + shorten(strings.ToValidUTF8(name, "?")) + " is not valid UTF-8 text",
						Details: []liftrescue.Detail{{Field: strings.ToValidUTF8(name, "?"), Reason: "not valid UTF-8 text"}}}
				}
			}
		}
		return next(c)
	}
}

func cleanText(s string) bool {
	return utf8.ValidString(s) && strings.IndexFunc(s, unicode.IsControl) < 0
}

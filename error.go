package liftrescue

import (
	"errors"
	"fmt"
)

// Error codes. They are part of the API: external systems (the city hotline, IoT platforms) match
// on them, so they never change once released. Only package api knows which HTTP status each maps to.
const (
	EBADREQUEST   = "bad_request"  // the request could not be read: malformed JSON, wrong types
	EINVALID      = "invalid"      // the request was read but breaks a rule of the domain
	ENOTFOUND     = "not_found"    // the thing named does not exist
	ECONFLICT     = "conflict"     // the request contradicts what is stored (a taken code, a reference)
	ETOOLARGE     = "too_large"    // the body is larger than the route accepts
	EUNAUTHORIZED = "unauthorized" // no valid credential
	EFORBIDDEN    = "forbidden"    // a valid credential that may not do this
	EGONE         = "gone"         // the thing existed but is no longer usable: an expired or used link
	EUNAVAILABLE  = "unavailable"  // a dependency (the database) cannot be reached now
	EINTERNAL     = "internal"     // a bug or an unexpected failure; the cause is logged, not shown
)

// Error is the one error type of the domain. Message is written for a dispatcher or an integrator
// and is safe to show; Err is the cause, for logs only.
type Error struct {
	Code    string
	Message string
	// Details point at the parts of the input that are wrong: a field, a CSV line and column.
	Details []Detail
	// Extra carries facts a client acts on: the id of the open incident a second report collides
	// with, the actions allowed now, the codes a mistyped one may have meant.
	Extra map[string]any
	Err   error
}

// Detail names one problem in the input.
type Detail struct {
	Line   int    `json:"line,omitempty"`  // 1-based line of a CSV file, header included
	Index  *int   `json:"index,omitempty"` // 0-based position in a JSON batch
	Field  string `json:"field,omitempty"` // JSON field or CSV column
	Value  string `json:"value,omitempty"` // the offending value, shortened
	Reason string `json:"reason"`          // what is wrong, in words
}

func (e *Error) Error() string {
	msg := e.Code + ": " + e.Message
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error that points at one field.
func Invalid(field, reason string) *Error {
	return &Error{Code: EINVALID, Message: field + ": " + reason, Details: []Detail{{Field: field, Reason: reason}}}
}

// ErrorCode returns the code of the first *Error in err's chain, EINTERNAL for any other error and
// "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return EINTERNAL
	}
}

// ErrorMessage returns the safe message of the first *Error in err's chain; any other error gets a
// generic message so that internals never reach a client.
func ErrorMessage(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Message
	default:
		return "internal error"
	}
}

// ErrorExtra returns the extra facts of the first *Error in err's chain.
func ErrorExtra(err error) map[string]any {
	var e *Error
	if errors.As(err, &e) {
		return e.Extra
	}
	return nil
}

// ErrorDetails returns the details of the first *Error in err's chain.
func ErrorDetails(err error) []Detail {
	var e *Error
	if errors.As(err, &e) {
		return e.Details
	}
	return nil
}

// problems gathers field problems during validation so that a client learns of all of them at once.
type problems []Detail

func (p *problems) add(field, format string, args ...any) {
	*p = append(*p, Detail{Field: field, Reason: fmt.Sprintf(format, args...)})
}

// err returns nil when nothing was added, else one EINVALID error whose message names the first
// problem and how many more there are.
func (p problems) err(what string) error {
	if len(p) == 0 {
		return nil
	}
	msg := fmt.Sprintf("invalid %s: %s: %s", what, p[0].Field, p[0].Reason)
	if len(p) > 1 {
		msg += fmt.Sprintf(" (and %d more)", len(p)-1)
	}
	return &Error{Code: EINVALID, Message: msg, Details: p}
}

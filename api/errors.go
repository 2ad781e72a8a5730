package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
)

// statusOf is the one place that knows which HTTP status each error code means.
var statusOf = map[string]int{
	liftrescue.EBADREQUEST:   http.StatusBadRequest,
	liftrescue.EINVALID:      http.StatusUnprocessableEntity,
	liftrescue.ENOTFOUND:     http.StatusNotFound,
	liftrescue.ECONFLICT:     http.StatusConflict,
	liftrescue.ETOOLARGE:     http.StatusRequestEntityTooLarge,
	liftrescue.EUNAUTHORIZED: http.StatusUnauthorized,
	liftrescue.EFORBIDDEN:    http.StatusForbidden,
	liftrescue.EGONE:         http.StatusGone,
	liftrescue.EUNAVAILABLE:  http.StatusServiceUnavailable,
	liftrescue.EINTERNAL:     http.StatusInternalServerError,
	codeMethodNotAllowed:     http.StatusMethodNotAllowed,
	codeUnsupportedMedia:     http.StatusUnsupportedMediaType,
	codeRateLimited:          http.StatusTooManyRequests,
}

// Codes that only HTTP has.
const (
	codeMethodNotAllowed = "method_not_allowed"
	codeUnsupportedMedia = "unsupported_media_type"
	codeRateLimited      = "rate_limited" // with Retry-After and retry_after
)

// ErrorBody is the JSON of every error answer.
type ErrorBody struct {
	Error ErrorPayload `json:"error"`
}

// ErrorPayload says what went wrong: a stable code, a message safe to show, and the parts of the
// input at fault.
type ErrorPayload struct {
	Code    string              `json:"code"`
	Message string              `json:"message"`
	Details []liftrescue.Detail `json:"details,omitempty"`
	// Extra facts the client acts on, flattened into the error object: incident_id, allowed,
	// near_matches.
	Extra map[string]any `json:"-"`
}

// MarshalJSON writes Extra's members beside code, message and details.
func (p ErrorPayload) MarshalJSON() ([]byte, error) {
	type plain ErrorPayload
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Extra) == 0 {
		return b, err
	}
	m := map[string]any{}
	for k, v := range p.Extra {
		m[k] = v
	}
	var base map[string]json.RawMessage
	if err := json.Unmarshal(b, &base); err != nil {
		return nil, err
	}
	for k, v := range base {
		m[k] = v
	}
	return json.Marshal(m)
}

// errorHandler writes every error as ErrorBody. Internal causes go to the log with the request id,
// never to the client.
func (s *Server) errorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	var he *echo.HTTPError
	var maxErr *http.MaxBytesError
	payload := ErrorPayload{Code: liftrescue.ErrorCode(err), Message: liftrescue.ErrorMessage(err), Details: liftrescue.ErrorDetails(err), Extra: liftrescue.ErrorExtra(err)}
	switch {
	case errors.As(err, &maxErr):
		payload = ErrorPayload{Code: liftrescue.ETOOLARGE, Message: fmt.Sprintf("the request body is larger than %d bytes", maxErr.Limit)}
	case errors.As(err, &he):
		payload = httpErrorPayload(he)
	}
	status, ok := statusOf[payload.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	if status >= 500 {
		s.logger.Error("request failed", "request_id", c.Response().Header().Get(echo.HeaderXRequestID),
			"method", c.Request().Method, "path", redactPath(c.Request().URL.Path), "err", err)
	}
	if c.Request().Method == http.MethodHead {
		err = c.NoContent(status)
	} else {
		err = c.JSON(status, ErrorBody{payload})
	}
	if err != nil {
		s.logger.Warn("write error response", "err", err)
	}
}

// httpErrorPayload turns echo's own errors (no route, wrong method, body limit) into our codes.
func httpErrorPayload(he *echo.HTTPError) ErrorPayload {
	switch he.Code {
	case http.StatusNotFound:
		return ErrorPayload{Code: liftrescue.ENOTFOUND, Message: "no such route"}
	case http.StatusMethodNotAllowed:
		return ErrorPayload{Code: codeMethodNotAllowed, Message: "method not allowed on this route"}
	case http.StatusRequestEntityTooLarge:
		return ErrorPayload{Code: liftrescue.ETOOLARGE, Message: "the request body is too large"}
	case http.StatusUnsupportedMediaType:
		return ErrorPayload{Code: codeUnsupportedMedia, Message: fmt.Sprint(he.Message)}
	case http.StatusBadRequest:
		return ErrorPayload{Code: liftrescue.EBADREQUEST, Message: fmt.Sprint(he.Message)}
	case http.StatusServiceUnavailable:
		return ErrorPayload{Code: liftrescue.EUNAVAILABLE, Message: "service unavailable"}
	}
	return ErrorPayload{Code: liftrescue.EINTERNAL, Message: "internal error"}
}

// mimeGeoJSON is GeoJSON's media type (RFC 7946); GeoJSON is JSON, and read as such.
const mimeGeoJSON = "application/geo+json"

// decodeJSON reads exactly one JSON value into v, refusing unknown fields, so that a typo in an
// integration ("rescueCode") fails loudly instead of silently storing nothing.
func decodeJSON(c echo.Context, v any) error {
	req := c.Request()
	if ct := req.Header.Get(echo.HeaderContentType); ct != "" {
		mt, params, err := mime.ParseMediaType(ct)
		if err != nil || (mt != echo.MIMEApplicationJSON && mt != mimeGeoJSON) {
			return liftrescue.Errorf(codeUnsupportedMedia, "send the body as application/json, not %s", shorten(ct))
		}
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			return liftrescue.Errorf(codeUnsupportedMedia, "send JSON in UTF-8, not %s", shorten(cs))
		}
	}
	// Read it all (the route's limit bounds it) so that text in another encoding is refused instead
	// of being stored as replacement characters.
	body, err := io.ReadAll(req.Body)
	if err != nil {
		return jsonError(err)
	}
	if !utf8.Valid(body) {
		return liftrescue.Errorf(liftrescue.EBADREQUEST, "the body is not UTF-8: send JSON in UTF-8 (GBK text must be converted)")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return liftrescue.Errorf(liftrescue.EBADREQUEST, "the body must hold one JSON value and nothing after it")
	}
	return nil
}

// jsonError words a decoding error for the client.
func jsonError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var maxErr *http.MaxBytesError
	var timeErr *time.ParseError
	switch {
	case errors.As(err, &maxErr):
		return err
	case errors.Is(err, io.EOF):
		return liftrescue.Errorf(liftrescue.EBADREQUEST, "the body is empty; send a JSON object")
	case errors.Is(err, io.ErrUnexpectedEOF):
		return liftrescue.Errorf(liftrescue.EBADREQUEST, "the JSON body ends too early")
	case errors.As(err, &syntax):
		return liftrescue.Errorf(liftrescue.EBADREQUEST, "malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.As(err, &timeErr):
		return liftrescue.Errorf(liftrescue.EBADREQUEST, "a time is malformed: want RFC 3339, like 2026-11-21T10:30:00+08:00")
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: fmt.Sprintf("%s: want %s, got JSON %s", field, jsonKind(typ.Type.String()), typ.Value),
			Details: []liftrescue.Detail{{Field: field, Reason: "want " + jsonKind(typ.Type.String())}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		// encoding/json has no typed error for unknown fields; its wording is stable API.
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		return &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: "unknown field " + name,
			Details: []liftrescue.Detail{{Field: strings.Trim(name, `"`), Reason: "unknown field"}}}
	}
	// Errors from our own UnmarshalJSON methods (a malformed date, a bad outline).
	return &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: err.Error()}
}

func jsonKind(goType string) string {
	switch {
	case goType == "liftrescue.Date":
		return "a date like 2021-06-30"
	case strings.HasPrefix(goType, "int"), strings.HasPrefix(goType, "uint"):
		return "an integer"
	case strings.HasPrefix(goType, "float"):
		return "a number"
	case goType == "string", strings.HasSuffix(goType, "Kind"), strings.HasSuffix(goType, "Status"):
		return "a string"
	case goType == "bool":
		return "true or false"
	case strings.HasPrefix(goType, "[]"):
		return "an array"
	}
	return "an object"
}

// logRequest is the access log line of a request.
func logRequest(logger *slog.Logger, c echo.Context, status int, err error) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	attrs := []any{"method", c.Request().Method, "path", redactPath(c.Request().URL.Path), "status", status,
		"request_id", c.Response().Header().Get(echo.HeaderXRequestID)}
	if err != nil && status >= 500 {
		attrs = append(attrs, "err", err)
	}
	logger.Log(c.Request().Context(), level, "http", attrs...)
}

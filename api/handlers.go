package api

import (
	"context"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
)

// The generic handlers below serve every registry resource alike, so that each resource differs
// only in the store methods it names.

// respond writes v as 200 JSON, or returns err. It takes a store call's two results at once:
// respond(c)(s.store.ListTeams(ctx, f)).
func respond(c echo.Context) func(any, error) error {
	return func(v any, err error) error {
		if err != nil {
			return err
		}
		return c.JSON(http.StatusOK, v)
	}
}

func findByID[T any](c echo.Context, find func(context.Context, int64) (T, error)) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	v, err := find(c.Request().Context(), id)
	return respond(c)(v, err)
}

func deleteByID(c echo.Context, del func(context.Context, int64) error) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	if err := del(c.Request().Context(), id); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// create decodes a T, stores it and answers 201 with its location.
func create[T any](c echo.Context, store func(context.Context, *T) error, location func(*T) string) error {
	var v T
	if err := decodeJSON(c, &v); err != nil {
		return err
	}
	if err := store(c.Request().Context(), &v); err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, location(&v))
	return c.JSON(http.StatusCreated, &v)
}

func replaceByPath[T any](c echo.Context, update func(context.Context, *T) error, setID func(*T, int64)) error {
	id, err := pathID(c)
	if err != nil {
		return err
	}
	return replace(c, id, update, setID)
}

// replace decodes a T and stores it over the record with the id; the id in the body, if any, is
// the path's.
func replace[T any](c echo.Context, id int64, update func(context.Context, *T) error, setID func(*T, int64)) error {
	var v T
	if err := decodeJSON(c, &v); err != nil {
		return err
	}
	setID(&v, id)
	if err := update(c.Request().Context(), &v); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, &v)
}

func pathID(c echo.Context) (int64, error) {
	id, err := strconv.ParseInt(c.Param("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, liftrescue.Errorf(liftrescue.EBADREQUEST, "id must be a positive integer, not %q", shorten(c.Param("id")))
	}
	return id, nil
}

// queryID reads an optional id from the query; 0 when absent.
func queryID(c echo.Context, name string) (int64, error) {
	s := c.QueryParam(name)
	if s == "" {
		return 0, nil
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id <= 0 {
		return 0, badParam(name, "must be a positive integer")
	}
	return id, nil
}

func queryBool(c echo.Context, name string) (bool, error) {
	s := c.QueryParam(name)
	if s == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(s)
	if err != nil {
		return false, badParam(name, "must be true or false")
	}
	return b, nil
}

func paging(c echo.Context) (liftrescue.Paging, error) {
	p := liftrescue.Paging{Cursor: c.QueryParam("cursor")}
	if s := c.QueryParam("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			return p, badParam("limit", "must be an integer")
		}
		if n == 0 {
			return p, liftrescue.Invalid("limit", "must be between 1 and "+strconv.Itoa(liftrescue.MaxLimit))
		}
		p.Limit = n
	}
	return p, nil
}

// badParam is the EBADREQUEST error of a query parameter that does not parse.
func badParam(name, reason string) error {
	return &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: name + ": " + reason, Details: []liftrescue.Detail{{Field: name, Reason: reason}}}
}

// shorten keeps echoed input short in messages.
func shorten(s string) string {
	if utf8.RuneCountInString(s) <= 40 {
		return s
	}
	return string([]rune(s)[:40]) + "…"
}

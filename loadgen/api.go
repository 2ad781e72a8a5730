package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
)

// apiClient calls the server's REST API.
type apiClient struct {
	base string // http://host:port, without a trailing slash
	hc   *http.Client
	key  string // an API key sent as Authorization: Bearer, unless a request carries its own
}

func newAPIClient(base string, conns int, key string) *apiClient {
	tr := &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		IdleConnTimeout:     30 * time.Second,
		DisableCompression:  true,
	}
	return &apiClient{base: strings.TrimRight(base, "/"), hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}, key: key}
}

func (c *apiClient) close() { c.hc.CloseIdleConnections() }

// APIError is an answer of the REST API other than a success.
type APIError struct {
	Method, Path string
	Status       int
	Code         string // the error code of the body: conflict, invalid, …
	Message      string
}

func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.Path, e.Status, e.Code, msg)
}

// Client calls a running server's REST API: loadgen's own client, for other drivers of a server
// (liftrescue scenario).
type Client struct{ c *apiClient }

// NewClient returns a client of the server at base (http://host:port).
func NewClient(base string) *Client { return &Client{newAPIClient(base, 4, "")} }

// Do sends in as JSON (none when nil) with the extra header, and decodes a 2xx answer into out
// (when not nil); any other answer is an *APIError. A request refused for its rate (429) is sent
// again after the wait the answer asks for, a few times.
func (c *Client) Do(ctx context.Context, method, path string, header http.Header, in, out any) error {
	return c.c.doWith(ctx, method, path, header, in, out)
}

// Close lets go of the client's connections.
func (c *Client) Close() { c.c.close() }

// do sends in as JSON (none when nil) and decodes a 2xx answer into out (when not nil).
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	return c.doWith(ctx, method, path, nil, in, out)
}

func (c *apiClient) doWith(ctx context.Context, method, path string, header http.Header, in, out any) error {
	_, err := c.doStatus(ctx, method, path, header, in, out)
	return err
}

// Requests refused for their rate (429) are sent again after the wait the answer asks for
// (Retry-After, within [minRetryWait, maxRetryWait]), up to maxRetries times: provisioning
// thousands of devices or terminals runs into the server's limit per API key.
const (
	maxRetries   = 10
	minRetryWait = 100 * time.Millisecond
	maxRetryWait = 5 * time.Second
)

// doStatus is doWith that also returns the status of a 2xx answer (201 created, 200 replaced).
func (c *apiClient) doStatus(ctx context.Context, method, path string, header http.Header, in, out any) (int, error) {
	var b []byte
	if in != nil {
		var err error
		if b, err = json.Marshal(in); err != nil {
			return 0, err
		}
	}
	for attempt := 0; ; attempt++ {
		status, wait, err := c.send(ctx, method, path, header, b, in != nil, out)
		if status != http.StatusTooManyRequests || attempt == maxRetries {
			return status, err
		}
		if !sleep(wait, ctx.Done()) {
			return status, err
		}
	}
}

// send sends one request; for a 429 answer it returns the wait the answer asks for.
func (c *apiClient) send(ctx context.Context, method, path string, header http.Header, b []byte, hasBody bool, out any) (int, time.Duration, error) {
	var body io.Reader
	if hasBody {
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return 0, 0, err
	}
	if hasBody {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return 0, 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{Method: method, Path: path, Status: resp.StatusCode}
		var eb struct {
			Error struct {
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal(rb, &eb) == nil {
			e.Code, e.Message = eb.Error.Code, eb.Error.Message
		}
		wait := minRetryWait
		if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil {
			wait = time.Duration(s) * time.Second
		}
		return resp.StatusCode, min(max(wait, minRetryWait), maxRetryWait), e
	}
	if out != nil {
		if err := json.Unmarshal(rb, out); err != nil {
			return resp.StatusCode, 0, fmt.Errorf("%s %s: the answer is not the JSON expected: %w", method, path, err)
		}
	}
	return resp.StatusCode, 0, nil
}

// page is one page of a list; Items are decoded by the caller.
type page struct {
	Items      []json.RawMessage `json:"items"`
	NextCursor string            `json:"next_cursor"`
}

// list calls every page of a list with fn.
func (c *apiClient) list(ctx context.Context, path string, q url.Values, fn func(item json.RawMessage) error) error {
	if q == nil {
		q = url.Values{}
	}
	q.Set("limit", strconv.Itoa(liftrescue.MaxLimit))
	for {
		var p page
		if err := c.do(ctx, http.MethodGet, path+"?"+q.Encode(), nil, &p); err != nil {
			return err
		}
		for _, it := range p.Items {
			if err := fn(it); err != nil {
				return err
			}
		}
		if p.NextCursor == "" {
			return nil
		}
		q.Set("cursor", p.NextCursor)
	}
}

// districts lists the districts with their outlines.
func (c *apiClient) districts(ctx context.Context) ([]liftrescue.District, error) {
	var ds []liftrescue.District
	err := c.list(ctx, "/api/v1/districts", nil, func(item json.RawMessage) error {
		// Read only what is needed, so that fields the server adds do not break the run.
		var d struct {
			Code    string          `json:"code"`
			Name    string          `json:"name"`
			Outline json.RawMessage `json:"outline"`
		}
		if err := json.Unmarshal(item, &d); err != nil {
			return fmt.Errorf("districts: %w", err)
		}
		outline, err := liftrescue.ParseOutline(d.Outline)
		if err != nil {
			outline = nil // an unreadable outline only means no area from it
		}
		ds = append(ds, liftrescue.District{Code: d.Code, Name: d.Name, Outline: outline})
		return nil
	})
	return ds, err
}

// pickDistrict returns the district of the given code, or else the first with an outline, or
// else the first.
func pickDistrict(ds []liftrescue.District, code string) (*liftrescue.District, error) {
	if code != "" {
		for i := range ds {
			if ds[i].Code == code {
				return &ds[i], nil
			}
		}
		return nil, fmt.Errorf("no district %s on the server", code)
	}
	for i := range ds {
		if len(ds[i].Outline) > 0 {
			return &ds[i], nil
		}
	}
	if len(ds) > 0 {
		return &ds[0], nil
	}
	return nil, fmt.Errorf("the server has no district: import districts first")
}

// Counters are the server's ingest counters, from GET /api/v1/ingest.
type Counters struct {
	Accepted int64 `json:"accepted"`
	Flushed  int64 `json:"flushed"`
	Backlog  int64 `json:"backlog"`
	// Raw is the whole answer.
	Raw map[string]any `json:"-"`
}

// ReadCounters reads the server's ingest counters. The answer is read leniently: the keys are
// matched without regard to case and underscores, at the top level or one object down, so that
// {"accepted":…} and a Go struct's {"Accepted":…} both do. flushed and backlog are required.
func ReadCounters(ctx context.Context, baseURL, apiKey string) (Counters, error) {
	c := newAPIClient(baseURL, 1, apiKey)
	defer c.close()
	return c.counters(ctx)
}

func (c *apiClient) counters(ctx context.Context) (Counters, error) {
	var raw map[string]any
	if err := c.do(ctx, http.MethodGet, "/api/v1/ingest", nil, &raw); err != nil {
		return Counters{}, err
	}
	cs := Counters{Raw: raw}
	var missing []string
	for _, f := range []struct {
		name string
		dst  *int64
	}{{"accepted", &cs.Accepted}, {"flushed", &cs.Flushed}, {"backlog", &cs.Backlog}} {
		v, ok := lookupCount(raw, f.name, 1)
		if !ok && f.name != "accepted" {
			missing = append(missing, f.name)
		}
		*f.dst = v
	}
	if missing != nil {
		keys := make([]string, 0, len(raw))
		for k := range raw {
			keys = append(keys, k)
		}
		return cs, fmt.Errorf("GET /api/v1/ingest: no %s among the counters %v", strings.Join(missing, " or "), keys)
	}
	return cs, nil
}

func normalKey(k string) string { return strings.ToLower(strings.ReplaceAll(k, "_", "")) }

func lookupCount(m map[string]any, name string, depth int) (int64, bool) {
	for k, v := range m {
		if normalKey(k) != name {
			continue
		}
		switch n := v.(type) {
		case float64:
			return int64(n), true
		case string:
			if i, err := strconv.ParseInt(n, 10, 64); err == nil {
				return i, true
			}
		}
	}
	if depth > 0 {
		for _, v := range m {
			if sub, ok := v.(map[string]any); ok {
				if n, ok := lookupCount(sub, name, depth-1); ok {
					return n, true
				}
			}
		}
	}
	return 0, false
}

package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// incidentWatch follows the live stream's incident events (GET /api/v1/stream?types=incident)
// during an MQTT run: an MQTT report has no answer, so the stream is where its incident shows.
// It notes the new incidents (ids above since) on each elevator, and the time from each trapped
// terminal's first alarm's publication to its incident's first event.
type incidentWatch struct {
	since int64

	mu         sync.Mutex
	published  map[int64]time.Time      // trapped elevators: when the first alarm was published
	opened     map[int64]map[int64]bool // elevator → new incidents seen
	latency    histogram
	events     int64
	reconnects int64
	changed    chan struct{} // signalled (without blocking) on each new incident
}

func newIncidentWatch(since int64) *incidentWatch {
	return &incidentWatch{since: since, published: map[int64]time.Time{}, opened: map[int64]map[int64]bool{},
		changed: make(chan struct{}, 1)}
}

// publishing notes that the first alarm of the trapped terminal on the elevator goes out now;
// call it before publishing, so that the incident's event cannot come first.
func (w *incidentWatch) publishing(elevator int64, at time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.published[elevator]; !ok {
		w.published[elevator] = at
	}
}

// incident takes one incident event received at.
func (w *incidentWatch) incident(id, elevator int64, at time.Time) {
	if id <= w.since {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events++
	seen := w.opened[elevator]
	if seen == nil {
		seen = map[int64]bool{}
		w.opened[elevator] = seen
	}
	if seen[id] {
		return
	}
	seen[id] = true
	if len(seen) == 1 {
		if p, ok := w.published[elevator]; ok {
			w.latency.record(at.Sub(p))
		}
	}
	select {
	case w.changed <- struct{}{}:
	default:
	}
}

// openedCounts returns how many new incidents were seen on each elevator.
func (w *incidentWatch) openedCounts() map[int64]int {
	w.mu.Lock()
	defer w.mu.Unlock()
	m := make(map[int64]int, len(w.opened))
	for el, ids := range w.opened {
		m[el] = len(ids)
	}
	return m
}

// waitFor waits until each of the elevators has had an incident, or until timeout or ctx ends.
func (w *incidentWatch) waitFor(ctx context.Context, elevators []int64, timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	for {
		w.mu.Lock()
		all := true
		for _, el := range elevators {
			if len(w.opened[el]) == 0 {
				all = false
				break
			}
		}
		w.mu.Unlock()
		if all {
			return
		}
		select {
		case <-w.changed:
		case <-t.C:
			return
		case <-ctx.Done():
			return
		}
	}
}

// streamRetry is the wait before the stream is opened again after it dropped.
const streamRetry = 200 * time.Millisecond

// watchIncidents opens the live stream and passes its incident events to w until ctx ends,
// opening it again (from the last event id) when it drops. ready gets nil once the stream is
// open, or the error that kept it from opening the first time (then it returns).
func (c *apiClient) watchIncidents(ctx context.Context, w *incidentWatch, ready chan<- error) {
	// The stream lasts the run: no client timeout.
	hc := &http.Client{Transport: c.hc.Transport}
	lastID := ""
	first := true
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/stream?types=incident", nil)
		if err != nil {
			ready <- err
			return
		}
		req.Header.Set("Accept", "text/event-stream")
		if c.key != "" {
			req.Header.Set("Authorization", "Bearer "+c.key)
		}
		if lastID != "" {
			req.Header.Set("Last-Event-ID", lastID)
		}
		resp, err := hc.Do(req)
		if err == nil && resp.StatusCode != http.StatusOK {
			b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			resp.Body.Close()
			err = fmt.Errorf("GET /api/v1/stream: %s: %s", resp.Status, bytes.TrimSpace(b))
		}
		if first {
			ready <- err
			if err != nil {
				return
			}
			first = false
		}
		if err == nil {
			lastID = readEvents(resp.Body, lastID, func(kind string, data []byte, at time.Time) {
				if kind != "incident" {
					return
				}
				var ev struct {
					ID         int64 `json:"id"`
					ElevatorID int64 `json:"elevator_id"`
				}
				if json.Unmarshal(data, &ev) == nil {
					w.incident(ev.ID, ev.ElevatorID, at)
				}
			})
			resp.Body.Close()
		}
		if ctx.Err() != nil || !sleep(streamRetry, ctx.Done()) {
			return
		}
		w.mu.Lock()
		w.reconnects++
		w.mu.Unlock()
	}
}

// readEvents reads Server-Sent Events from r until it ends, calling fn with each event's type
// ("message" when it has none), data and arrival time, and returns the last event id seen.
func readEvents(r io.Reader, lastID string, fn func(kind string, data []byte, at time.Time)) string {
	br := bufio.NewReaderSize(r, 64<<10)
	var kind string
	var data []byte
	hasData := false
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			return lastID // an event cut short is not dispatched
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			if hasData {
				if kind == "" {
					kind = "message"
				}
				fn(kind, data, time.Now())
			}
			kind, data, hasData = "", data[:0], false
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			kind = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		case "id":
			lastID = string(value)
		}
	}
}

package loadgen

import (
	"context"
	"errors"
	"io"
	"math/bits"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// Report is what a run did and what the server made of it. Every fix sent is accepted, rejected
// or unanswered: FixesSent = FixesAccepted + FixesRejected + FixesUnanswered.
type Report struct {
	Protocol    Protocol `json:"protocol"`
	Devices     int      `json:"devices"`
	Connections int      `json:"connections"`
	Rate        float64  `json:"rate"`       // fixes per second asked for; 0 is as fast as possible
	Duration    float64  `json:"duration_s"` // asked for
	// Elapsed runs from the first fix sent to the last answer received.
	Elapsed float64 `json:"elapsed_s"`

	Provision *ProvisionReport `json:"provision,omitempty"`
	Login     *LoginReport     `json:"login,omitempty"` // JT/T 808 register and auth
	Area      Area             `json:"area"`

	FixesSent       int64 `json:"fixes_sent"`
	FixesAccepted   int64 `json:"fixes_accepted"`
	FixesRejected   int64 `json:"fixes_rejected"`
	FixesUnanswered int64 `json:"fixes_unanswered"` // lost with a failed request or connection, or never answered
	// RejectedBy counts rejected fixes by the server's reason (JSON), HTTP status (OsmAnd, and a
	// JSON batch refused whole) or JT/T 808 result.
	RejectedBy map[string]int64 `json:"rejected_by"`
	// Requests counts HTTP requests, or JT/T 808 location frames.
	Requests int64 `json:"requests"`
	// Errors counts requests and connections that failed without an answer, by kind.
	Errors   int64            `json:"errors"`
	ErrorsBy map[string]int64 `json:"errors_by"`

	FixesPerSec    float64 `json:"fixes_per_s"`
	AcceptedPerSec float64 `json:"accepted_per_s"`
	RequestsPerSec float64 `json:"requests_per_s"`
	// Latency is per HTTP request, or per JT/T 808 frame from its write to its answer.
	Latency Latency `json:"latency_ms"`

	Verify *VerifyReport `json:"verify,omitempty"`
}

// Latency summarises answer times, in milliseconds.
type Latency struct {
	Count int64   `json:"count"`
	P50   float64 `json:"p50"`
	P90   float64 `json:"p90"`
	P99   float64 `json:"p99"`
	Max   float64 `json:"max"`
}

// LoginReport tells how the JT/T 808 connections registered and authenticated.
type LoginReport struct {
	Connected int              `json:"connected"`
	Failed    int              `json:"failed"`
	Seconds   float64          `json:"seconds"`
	FailedBy  map[string]int64 `json:"failed_by,omitempty"`
}

// Progress is a snapshot during a run.
type Progress struct {
	Elapsed  time.Duration
	Sent     int64
	Accepted int64
	Rejected int64
	Errors   int64
	// FixesPerSec is the rate since the previous snapshot.
	FixesPerSec float64
}

// ErrLost is returned with the report when Verify finds that the server did not write every fix it
// accepted, or its backlog did not drain in time.
var ErrLost = errors.New("loadgen: fixes accepted but not written to the history")

// ErrNothingAccepted is returned with the report when fixes were sent and the server accepted
// none: the devices are not provisioned, the secret seed differs, or the server is not ingesting.
var ErrNothingAccepted = errors.New("loadgen: the server accepted no fix")

// maxKeys bounds the distinct reasons and error kinds a worker counts; the rest go to "other".
const maxKeys = 32

// counter is a map of counts by key with a bound on its size.
type counter map[string]int64

func (c counter) add(key string, n int64) {
	if _, ok := c[key]; !ok && len(c) >= maxKeys {
		key = "other"
	}
	c[key] += n
}

func (c counter) merge(into map[string]int64) {
	for k, v := range c {
		into[k] += v
	}
}

// workerStats are one worker's counts. The atomics are read by the progress reporter while the
// worker runs; the maps and the histogram only once the worker is done.
type workerStats struct {
	sent, accepted, rejected, unanswered, requests, errors atomic.Int64

	rejectedBy counter
	latency    histogram
	last       time.Time // of the latest answer

	mu       sync.Mutex // errorsBy: a JT/T 808 connection's reader and writer both fail
	errorsBy counter
}

func newWorkerStats() *workerStats {
	return &workerStats{rejectedBy: counter{}, errorsBy: counter{}}
}

func (s *workerStats) reject(key string, n int64) {
	s.rejected.Add(n)
	s.rejectedBy.add(key, n)
}

func (s *workerStats) fail(err error, lost int64) {
	s.errors.Add(1)
	s.unanswered.Add(lost)
	s.mu.Lock()
	s.errorsBy.add(errKind(err), 1)
	s.mu.Unlock()
}

// notSent records a request that failed before it left (its connection could not be opened):
// its fixes were not sent.
func (s *workerStats) notSent(err error, fixes int64) {
	s.sent.Add(-fixes)
	s.requests.Add(-1)
	s.fail(err, 0)
}

// isDialError reports whether err is a failure to open a connection.
func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// answered records an answer received at now to a request sent at sent.
func (s *workerStats) answered(sent, now time.Time) {
	s.latency.record(now.Sub(sent))
	s.last = now
}

// errKind names a transport error without the addresses and numbers its text carries.
func errKind(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled):
		return "cancelled"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no local port free"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too many open files"
	}
	var ke kindError
	if errors.As(err, &ke) {
		return string(ke)
	}
	return "other"
}

// kindError is an error that is its own kind.
type kindError string

func (e kindError) Error() string { return string(e) }

// histogram counts durations in log-linear buckets: 32 per power of two, about 3 % wide.
type histogram struct {
	counts [histBuckets]uint32
	n      int64
	max    time.Duration
}

const (
	histSubBits = 5
	histSub     = 1 << histSubBits
	histBuckets = (64 - histSubBits + 1) * histSub
)

func histBucket(v uint64) int {
	if v < histSub {
		return int(v)
	}
	e := bits.Len64(v) - histSubBits
	return e*histSub + int(v>>(e-1)) - histSub
}

// histValue returns the middle of bucket i.
func histValue(i int) float64 {
	if i < 2*histSub {
		return float64(i)
	}
	e := i / histSub
	lo := uint64(i%histSub+histSub) << (e - 1)
	return float64(lo) + float64(uint64(1)<<(e-1))/2
}

func (h *histogram) record(d time.Duration) {
	d = max(d, 0)
	h.counts[histBucket(uint64(d))]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the q-quantile (0 < q ≤ 1).
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := int64(q*float64(h.n) + 0.5)
	rank = max(1, min(rank, h.n))
	var seen int64
	for i, c := range h.counts {
		if seen += int64(c); seen >= rank {
			return min(time.Duration(histValue(i)), h.max)
		}
	}
	return h.max
}

func (h *histogram) summary() Latency {
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	return Latency{Count: h.n, P50: ms(h.quantile(0.5)), P90: ms(h.quantile(0.9)), P99: ms(h.quantile(0.99)), Max: ms(h.max)}
}

// collect adds the workers' counts to the report.
func (r *Report) collect(ws []*workerStats) {
	var h histogram
	r.RejectedBy, r.ErrorsBy = map[string]int64{}, map[string]int64{}
	for _, w := range ws {
		r.FixesSent += w.sent.Load()
		r.FixesAccepted += w.accepted.Load()
		r.FixesRejected += w.rejected.Load()
		r.FixesUnanswered += w.unanswered.Load()
		r.Requests += w.requests.Load()
		r.Errors += w.errors.Load()
		w.rejectedBy.merge(r.RejectedBy)
		w.errorsBy.merge(r.ErrorsBy)
		h.merge(&w.latency)
	}
	r.Latency = h.summary()
	if r.Elapsed > 0 {
		r.FixesPerSec = float64(r.FixesSent) / r.Elapsed
		r.AcceptedPerSec = float64(r.FixesAccepted) / r.Elapsed
		r.RequestsPerSec = float64(r.Requests) / r.Elapsed
	}
}

// SortedKeys returns the keys of counts, the largest count first.
func SortedKeys(counts map[string]int64) []string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if counts[keys[i]] != counts[keys[j]] {
			return counts[keys[i]] > counts[keys[j]]
		}
		return keys[i] < keys[j]
	})
	return keys
}

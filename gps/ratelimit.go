package gps

import (
	"math"
	"sync/atomic"
	"time"
)

// rateLimit is the pipeline's limit on each device's fixes (PipelineConfig.DeviceRate and
// DeviceBurst): a token bucket of burst fixes that fills at rate a second. The zero rateLimit is
// off.
type rateLimit struct {
	rate  float64
	burst int
	every int64 // nanoseconds to earn one fix; 0 when off
	depth int64 // every × burst: how far past now a bucket's full time may be
}

// maxSpan bounds every and depth, so that sums of them and a time never overflow: a rate of a
// fix a decade is no limit anyone means.
const maxSpan = 1 << 60

func newRateLimit(rate float64, burst int) rateLimit {
	if !(rate > 0) { // NaN too
		return rateLimit{}
	}
	every := min(max(math.Ceil(float64(time.Second)/rate), 1), maxSpan)
	return rateLimit{rate: rate, burst: burst, every: int64(every), depth: int64(min(every*float64(burst), maxSpan))}
}

func (l *rateLimit) on() bool { return l.every > 0 }

// retryAfter is how long a device that was refused waits for its next fix to be taken: its
// bucket had less than one fix left.
func (l *rateLimit) retryAfter() time.Duration { return time.Duration(l.every) }

// take takes one fix from the bucket at now (nanoseconds on the pipeline's clock) and reports
// whether there was one to take.
func (l *rateLimit) take(b *bucket, now int64) bool {
	for {
		full := b.full.Load()
		next := max(full, now) + l.every
		if next-now > l.depth {
			return false
		}
		if b.full.CompareAndSwap(full, next) {
			return true
		}
	}
}

// bucket is one device's token bucket, kept as the time at which it is full again (the generic
// cell rate algorithm), so that taking a fix is a compare-and-swap with neither a lock nor a
// timer. Its zero value is a full bucket.
type bucket struct {
	full   atomic.Int64 // nanoseconds on the pipeline's clock; at or before now, the bucket is full
	warnAt atomic.Int64 // when the device's refusals may be logged again
}

// shouldWarn reports whether to log that the device is over its limit: at most once a minute.
func (b *bucket) shouldWarn(now int64) bool {
	next := b.warnAt.Load()
	return now >= next && b.warnAt.CompareAndSwap(next, now+int64(time.Minute))
}

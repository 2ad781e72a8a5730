package gps

import (
	"math"
	"slices"
	"testing"
	"time"
)

// TestRateLimit: the bucket at the edges of its settings, on nanoseconds of the pipeline's clock.
func TestRateLimit(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rate  float64
		burst int
		takes []int64 // the times of the takes
		want  string  // which are allowed
		retry time.Duration
	}{
		{"off", 0, 5, nil, "", 0},
		{"negative: off", -1, 5, nil, "", 0},
		{"NaN: off", math.NaN(), 5, nil, "", 0},
		{"burst, then a fix every half second", 2, 3, []int64{0, 0, 0, 0, 4e8, 5e8, 5e8, 1e9}, "yyynnyny", 5e8},
		{"a silence fills up to the burst only", 2, 2, []int64{0, 0, 1e12, 1e12, 1e12}, "yyyyn", 5e8},
		{"burst of one", 1, 1, []int64{0, 0, 1e9 - 1, 1e9}, "ynny", time.Second},
		{"faster than the clock ticks", 1e12, 2, []int64{0, 0, 0, 1}, "yyny", 1},
		{"slower than anyone means", 1e-30, 1, []int64{0, 0, 1e18}, "ynn", maxSpan},
		{"a clock set back earns nothing", 1, 2, []int64{1e9, 1e9, 0, 2e9}, "yyny", time.Second},
	} {
		l := newRateLimit(tc.rate, tc.burst)
		if l.on() != (tc.takes != nil) || l.retryAfter() != tc.retry {
			t.Errorf("%s: on %v, retry after %v; want %v, %v", tc.name, l.on(), l.retryAfter(), tc.takes != nil, tc.retry)
			continue
		}
		var b bucket
		got := ""
		for _, now := range tc.takes {
			if l.take(&b, now) {
				got += "y"
			} else {
				got += "n"
			}
		}
		if got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestBucketWarnsOnceAMinute(t *testing.T) {
	var b bucket
	var got []bool
	for _, now := range []time.Duration{0, time.Second, time.Minute - 1, time.Minute, time.Minute + 1, 3 * time.Minute} {
		got = append(got, b.shouldWarn(int64(now)))
	}
	if want := []bool{true, false, false, true, false, true}; !slices.Equal(got, want) {
		t.Errorf("warned %v, want %v", got, want)
	}
}

// BenchmarkRateLimit takes fixes from a bucket that always has one: what the limit costs a fix.
func BenchmarkRateLimit(b *testing.B) {
	l := newRateLimit(1e9, DefaultDeviceBurst) // a fix a nanosecond: never refused
	var bk bucket
	now := int64(0)
	for b.Loop() {
		now++
		if !l.take(&bk, now) {
			b.Fatal("refused")
		}
	}
}

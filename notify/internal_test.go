package notify

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	const base, limit = 5 * time.Second, 10 * time.Minute
	for _, tc := range []struct {
		attempt int
		want    time.Duration
	}{
		{1, 5 * time.Second},
		{2, 10 * time.Second},
		{3, 20 * time.Second},
		{7, 320 * time.Second},
		{8, limit},
		{62, limit},
		{63, limit},
		{1000, limit},
	} {
		if got := backoff(base, limit, tc.attempt); got != tc.want {
			t.Errorf("backoff after attempt %d = %v, want %v", tc.attempt, got, tc.want)
		}
	}
	for range 1000 {
		if d := jitter(time.Second); d < 800*time.Millisecond || d > 1200*time.Millisecond {
			t.Fatalf("jitter(1s) = %v", d)
		}
	}
}

func TestTidy(t *testing.T) {
	for _, tc := range []struct {
		in   string
		n    int
		want string
	}{
		{"  ok\n", 10, "ok"},
		{"line 1\r\nline\t2\x00end", 100, "line 1  line 2 end"},
		{"bad \xff\xfe byte", 100, "bad \uFFFD byte"},
		{"电梯困人", 7, "电梯"}, // 12 bytes; 7 would cut the third character
		{"电梯困人", 2, ""},
	} {
		if got := tidy(tc.in, tc.n); got != tc.want {
			t.Errorf("tidy(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
		}
	}
}

package liftrescue_test

import (
	"strings"
	"testing"

	"github.com/liftrescue/liftrescue"
)

// The secrets the stores make up are 16 lowercase hex digits, never the same twice in practice, and
// pass a vehicle's validation as they are.
func TestNewDeviceSecret(t *testing.T) {
	seen := map[string]bool{}
	for range 1000 {
		s := liftrescue.NewDeviceSecret()
		if len(s) != 16 || strings.Trim(s, "0123456789abcdef") != "" {
			t.Fatalf("NewDeviceSecret() = %q, want 16 lowercase hex digits", s)
		}
		if seen[s] {
			t.Fatalf("NewDeviceSecret() gave %q twice", s)
		}
		seen[s] = true
		v := liftrescue.Vehicle{TeamID: 1, Plate: "鲁D12345", DeviceID: "013912345678", DeviceSecret: s}
		if err := v.Validate(); err != nil || v.DeviceSecret != s {
			t.Fatalf("vehicle with the secret %q: %v, secret now %q", s, err, v.DeviceSecret)
		}
	}
}

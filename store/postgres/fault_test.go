package postgres_test

import (
	"testing"

	"github.com/liftrescue/liftrescue/store/storetest"
)

// BenchmarkAppendFaults1000 writes batches of 1,000 faults of 100 elevators.
func BenchmarkAppendFaults1000(b *testing.B) {
	storetest.BenchmarkAppendFaults(b, MustOpen(b, nil))
}

package sqlite_test

import (
	"fmt"
	"testing"

	"github.com/liftrescue/liftrescue/store/storetest"
)

// BenchmarkAppendPositions1000 writes batches of 1,000 fixes from 1,000 vehicles, from one writer
// and from four at once, into a fresh database each.
func BenchmarkAppendPositions1000(b *testing.B) {
	for _, writers := range []int{1, 4} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			storetest.BenchmarkAppendPositions(b, MustOpen(b, nil), writers)
		})
	}
}

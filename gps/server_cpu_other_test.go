//go:build !unix

package gps

import "time"

// processCPU is not measured here: the benchmarks then leave out CPU per operation.
func processCPU() time.Duration { return 0 }

//go:build unix

package gps

import (
	"syscall"
	"time"
)

// processCPU returns the CPU time the process has used, user and system: on a machine that other
// work shares, CPU per operation is steadier than operations per second.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

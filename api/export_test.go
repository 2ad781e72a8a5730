package api

import "time"

// SetRecheckEvery makes open streams check their credential this often, until the test ends.
func SetRecheckEvery(d time.Duration) (restore func()) {
	old := recheckEvery
	recheckEvery = d
	return func() { recheckEvery = old }
}

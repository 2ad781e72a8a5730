//go:build race

package demo_test

// raceEnabled says the tests run under the race detector, which makes SQLite, C translated to Go,
// some twenty times slower.
const raceEnabled = true

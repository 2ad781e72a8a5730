//go:build race

package demo

// raceDetector says the package's own tests run under the race detector, which makes the
// simulation some ten times slower.
const raceDetector = true

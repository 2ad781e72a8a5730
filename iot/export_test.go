package iot

import "github.com/liftrescue/liftrescue"

// LaneOf is laneOf, for tests that need terminals in different lanes.
func LaneOf(terminal string, lanes int) int {
	return laneOf(&liftrescue.Alarm{TerminalID: terminal}, lanes)
}

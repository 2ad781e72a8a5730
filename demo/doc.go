// Package demo generates the demo city, a deterministic Zaozhuang-like city, and seeds a Store with
// it: six districts with outlines, the maintenance companies, user units, volunteer rescue units,
// fire stations and regulator of the city, their teams and vehicles, and any number of elevators
// clustered in buildings along plausible streets. Traffic then drives the vehicles through the
// streets and makes up their trackers' fixes, so that the demo's map is alive; Rescues reports
// trapped passengers over time and plays the units that answer them (accept, decline, stay silent,
// drive a van to the elevator), so that a newcomer watches whole rescues and their escalations.
//
// Everything is derived from Config alone (a seeded PCG, a fixed reference time, no map iteration),
// so two runs with the same Config produce byte-identical data, and a smaller Config.Elevators
// yields a prefix of a larger one.
//
// It imports only the root package (plus orb value types).
package demo

// Package loadgen drives a running liftrescue server with simulated devices, for a bounded time,
// and reports what the server made of what they sent.
//
// Trackers (Run): rescue vans report over each tracker protocol (native JSON batches,
// OsmAnd/Traccar Client HTTP, JT/T 808 over TCP), at a bounded rate, and the report says what was
// accepted, rejected by reason, latency, and, on request, whether every accepted fix reached the
// history.
//
// Elevator IoT terminals (RunFleet): a fleet of terminals, one per elevator, sends heartbeats,
// faults and trapped-passenger alarms that repeat every few seconds, in batches to
// /api/v1/alarms as an IoT platform does, or one MQTT message per report as terminals do. The
// report says what the service made of each report (opened, attached, counted, recorded,
// quarantined), how long a trapped alarm took to become an incident (the round trip of the
// request, or from the publication to the incident on the live stream), and, on request, whether
// exactly one incident opened per trapped elevator.
//
// It is a client of the server's public interfaces only: the REST API (to provision the devices
// and terminals, read the ingest counters, the incidents and the live stream) and the protocol
// ports. It imports the root package, gps (whose encoders it uses as a terminal would) and iot
// (whose MQTT publisher it uses, paho being fenced there), and the standard library.
//
// The generator is built to be cheaper than the server it measures: requests are append-encoded
// into reused buffers (no fmt or encoding/json per fix or report), HTTP connections are kept
// alive, JT/T 808 connections keep a window of frames in flight, and each worker paces itself
// with its own token bucket or timetable instead of sleeping per fix.
package loadgen

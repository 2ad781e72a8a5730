// Package loadgen drives a running liftrescue server over each tracker protocol (native JSON
// batches, OsmAnd/Traccar Client HTTP, JT/T 808 over TCP) with simulated rescue vans, for a bounded
// time and at a bounded rate, and reports what the server made of the fixes: accepted, rejected
// by reason, latency, and, on request, whether every accepted fix reached the history.
//
// It is a client of the server's public interfaces only: the REST API (to provision the devices
// and read the ingest counters) and the protocol ports. It imports the root package and gps (whose
// encoders it uses as a terminal would) and the standard library, nothing else.
//
// The generator is built to be cheaper than the server it measures: requests are append-encoded
// into reused buffers (no fmt or encoding/json per fix), HTTP connections are kept alive, JT/T 808
// connections keep a window of frames in flight, and each worker paces itself with its own token
// bucket instead of sleeping per fix.
package loadgen

// Package gps owns the tracker protocols (JSON, OsmAnd/Traccar Client, JT/T 808), the servers that
// speak them (OsmAnd over HTTP, JT/T 808 over TCP; the JSON batches arrive through package api),
// device secrets, fix validation and the ingest pipeline. It imports the root package and geo only.
//
// The decoders do no I/O of their own: they turn bytes and requests into liftrescue.Fix values and
// protocol answers, so that the servers around them stay thin and every decoder can be fuzzed on
// its own. Real device captures under testdata/protocols are their conformance vectors. The
// Pipeline is what every server hands fixes to: it checks them, maps devices to vehicles, holds
// each device to its rate limit, moves vehicles in the live index and writes the history in
// batches from a goroutine of its own.
package gps

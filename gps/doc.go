// Package gps owns the tracker protocols (JSON, OsmAnd/Traccar Client, JT/T 808), fix validation
// and, later, the ingest pipeline. It imports the root package and geo only.
//
// The decoders here do no I/O of their own: they turn bytes and requests into liftrescue.Fix
// values and protocol answers, so that the servers around them stay thin and every decoder can be
// fuzzed on its own. Real device captures under testdata/protocols are their conformance vectors.
package gps

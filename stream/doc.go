// Package stream is the live event stream of the service, sent as Server-Sent Events to the
// dispatcher's map, supervisors' wallboards and integrations.
//
// A Hub numbers events, keeps the recent ones so that a client that reconnects with
// Last-Event-ID misses nothing, and fans them out without ever waiting for a slow client: one
// that falls behind is cut off and catches up when it reconnects. Hub.Serve writes one stream and
// returns a *liftrescue.Error for a bad request, so that package api keeps the one map of error
// codes to HTTP statuses. An event may belong to a district (PublishIn): a stream scoped to
// another district (ServeScoped) never carries it. A VehicleFeed turns the live index into
// vehicle events, at most one per vehicle per tick.
//
// It imports the root package and geo; the live index is only read, once a tick, so ingest pays
// nothing for the stream.
package stream

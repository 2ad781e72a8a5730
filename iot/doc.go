// Package iot reads what elevator IoT terminals (GB/T 24476) and the platforms that gather them
// send: batches of alarms and status reports posted to /api/v1/alarms, and single reports published
// over MQTT. It imports the root package only.
//
// The vocabulary, the terminals' numberings and the rules of an alarm (liftrescue.Alarm,
// ClassifyAlarm, Normalize) live in the root package, so that dispatch and the stores speak of
// alarms without this package. What lives here is the wire: JSON as terminals really write it
// (codes as numbers or strings, booleans as 1/2, modes as numbers), read strictly otherwise and
// within bounds, so that the decoders can be fuzzed on their own and do no I/O beyond reading the
// body they are given. Subscriber is the one network part: an MQTT client (paho, fenced here) that
// feeds each decoded report to a handler, reconnecting by itself.
package iot

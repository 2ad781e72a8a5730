// Package dispatch runs incidents: the three-tier escalation of DOMAIN.md on deadlines that
// survive any restart.
//
// The rules are liftrescue.Decide, a pure function; the Engine around it gathers the facts a step
// needs (the tier-1 units, the tier-2 candidates ranked from the live index, the fire station),
// saves each step with its timeline events and outbox notifications in one transaction, and keeps
// the open incidents in memory to fire their deadlines, mark arrivals from GPS and start tier 2
// early when tier 1's vehicle cannot make the arrival limit. Delivery of the notifications is
// package notify's.
//
// It imports the root package and geo.
package dispatch

// Package liftrescue holds the domain of elevator emergency rescue dispatch: the registry of
// elevators, organisations, rescue teams, vehicles and districts, their rules, the service
// interfaces the stores implement, and the one Error type.
//
// It imports only the standard library and orb value types. Every other package imports inward:
// geo, gps and dispatch use these types; store/sqlite and store/postgres implement the interfaces;
// api maps them to HTTP; cmd/liftrescue wires it all.
package liftrescue

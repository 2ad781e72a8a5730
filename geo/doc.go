// Package geo owns the spatial side: the live in-memory index of elevators and vehicles (R-tree and
// H3), distances, ETA and grid geometry, and coordinate conversions. It imports only the root
// package.
package geo

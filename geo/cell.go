package geo

import (
	"fmt"
	"math"

	"github.com/liftrescue/liftrescue"
	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
)

// Cell is an H3 cell: a hexagon (or one of the twelve pentagons) of Uber's global grid at one of
// its 16 resolutions. It is its own type so that the rest of the system can keep, compare and
// print cells without importing h3, which is fenced into this package. Its text form is the usual
// 15-digit hexadecimal one that h3-js in the browser reads ("8928308280fffff"). The zero Cell is
// not a cell.
type Cell uint64

// MaxRing is the largest grid distance a ring query accepts: a disk of 7,651 cells, about 30 km
// across at resolution 9.
const MaxRing = 50

// CellAt returns the cell at resolution res (0 to 15) holding a WGS-84 position in degrees.
func CellAt(lon, lat float64, res int) (Cell, error) {
	if r := liftrescue.CheckLonLat(lon, lat); r != "" {
		return 0, liftrescue.Invalid("position", r)
	}
	if res < 0 || res > 15 {
		return 0, liftrescue.Invalid("resolution", "must be between 0 and 15")
	}
	c, err := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lon}, res)
	if err != nil {
		return 0, fmt.Errorf("h3 cell of %g,%g: %w", lon, lat, err)
	}
	return Cell(c), nil
}

// ParseCell reads a cell in its hexadecimal form, with or without a 0x prefix.
func ParseCell(s string) (Cell, error) {
	c := Cell(h3.CellFromString(s))
	if !c.Valid() {
		return 0, liftrescue.Invalid("cell", "not an H3 cell")
	}
	return c, nil
}

// Valid reports whether c is a cell of the grid.
func (c Cell) Valid() bool { return h3.Cell(c).IsValid() }

// Resolution returns the resolution of the cell, from 0 (coarsest) to 15.
func (c Cell) Resolution() int { return h3.Cell(c).Resolution() }

func (c Cell) String() string { return h3.Cell(c).String() }

// MarshalText writes the hexadecimal form, so that cells are strings in JSON (a 64-bit number
// would lose digits in JavaScript).
func (c Cell) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// UnmarshalText reads the hexadecimal form and refuses anything that is not a cell.
func (c *Cell) UnmarshalText(b []byte) error {
	v, err := ParseCell(string(b))
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// Center returns the centre of the cell, or NaNs for an invalid cell.
func (c Cell) Center() (lon, lat float64) {
	ll, err := h3.CellToLatLng(h3.Cell(c))
	if err != nil {
		return math.NaN(), math.NaN()
	}
	return ll.Lng, ll.Lat
}

// Boundary returns the outline of the cell as a closed ring, nil for an invalid cell.
func (c Cell) Boundary() orb.Ring {
	b, err := h3.CellToBoundary(h3.Cell(c))
	if err != nil || len(b) == 0 {
		return nil
	}
	r := make(orb.Ring, 0, len(b)+1)
	for _, ll := range b {
		r = append(r, orb.Point{ll.Lng, ll.Lat})
	}
	return append(r, r[0])
}

// Disk returns the cells within grid distance k of c (c itself for k = 0, its six neighbours too
// for k = 1, …), in no particular order. k may be at most MaxRing.
func (c Cell) Disk(k int) ([]Cell, error) {
	if !c.Valid() {
		return nil, liftrescue.Invalid("cell", "not an H3 cell")
	}
	if k < 0 || k > MaxRing {
		return nil, liftrescue.Invalid("k", fmt.Sprintf("must be between 0 and %d", MaxRing))
	}
	cells, err := h3.GridDisk(h3.Cell(c), k)
	if err != nil {
		return nil, fmt.Errorf("h3 disk of %s: %w", c, err)
	}
	out := make([]Cell, len(cells))
	for i, x := range cells {
		out[i] = Cell(x)
	}
	return out, nil
}

// diskBox returns a box holding every cell of a disk. Cell edges are great-circle arcs that bow
// away from the straight lines between their corners, so the box of the corners grows by a twentieth
// of its size each way: far more than the bow at any resolution the index accepts. A disk across
// the antimeridian or near a pole gets the whole band of latitudes or the whole globe.
func diskBox(cells []Cell) []box {
	minLon, minLat, maxLon, maxLat := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range cells {
		b, err := h3.CellToBoundary(h3.Cell(c))
		if err != nil {
			continue
		}
		for _, ll := range b {
			minLon, maxLon = math.Min(minLon, ll.Lng), math.Max(maxLon, ll.Lng)
			minLat, maxLat = math.Min(minLat, ll.Lat), math.Max(maxLat, ll.Lat)
		}
	}
	if minLon > maxLon {
		return nil
	}
	dLon, dLat := (maxLon-minLon)/20+1e-6, (maxLat-minLat)/20+1e-6
	minLat, maxLat = minLat-dLat, maxLat+dLat
	if maxLat > 80 || minLat < -80 {
		return []box{{[2]float64{-180, -90}, [2]float64{180, 90}}}
	}
	if maxLon-minLon > 180 {
		return []box{{[2]float64{-180, minLat}, [2]float64{180, maxLat}}}
	}
	return []box{{[2]float64{minLon - dLon, minLat}, [2]float64{maxLon + dLon, maxLat}}}
}

// Parent returns the cell's ancestor at a coarser resolution (the cell itself at its own), 0 for
// a finer one. It is bit arithmetic on the index, as H3 defines it, without a call into C: the
// coverage layer asks it a million times.
func (c Cell) Parent(res int) Cell {
	const resShift, digitBits = 52, 3
	cur := int(uint64(c) >> resShift & 0xf)
	if res < 0 || res > cur {
		return 0
	}
	h := uint64(c)&^(0xf<<resShift) | uint64(res)<<resShift
	for r := res + 1; r <= cur; r++ {
		h |= 7 << ((15 - r) * digitBits)
	}
	return Cell(h)
}

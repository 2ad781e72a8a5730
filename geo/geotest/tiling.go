// Package geotest makes the geometry that tests and benchmarks of rescue grids need: a city cut
// into many grids with crooked shared borders, as planners draw them along streets and rivers.
package geotest

import (
	"math"
	"math/rand/v2"

	"github.com/paulmach/orb"
)

// Tiling cuts the box into cols×rows grids whose corners are jittered and whose every border is a
// crooked line of wiggle inner vertices, the same vertices on both sides: neighbours share their
// borders exactly, so the grids cover the box without gaps or overlaps. Rings are closed and
// counter-clockwise. The same seed gives the same tiling.
func Tiling(cols, rows int, box orb.Bound, wiggle int, seed uint64) []orb.MultiPolygon {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	dx := (box.Max[0] - box.Min[0]) / float64(cols)
	dy := (box.Max[1] - box.Min[1]) / float64(rows)
	corner := make([][]orb.Point, cols+1)
	for i := range corner {
		corner[i] = make([]orb.Point, rows+1)
		for j := range corner[i] {
			p := orb.Point{box.Min[0] + float64(i)*dx, box.Min[1] + float64(j)*dy}
			if i > 0 && i < cols {
				p[0] += (rng.Float64() - 0.5) * dx * 0.3
			}
			if j > 0 && j < rows {
				p[1] += (rng.Float64() - 0.5) * dy * 0.3
			}
			corner[i][j] = p
		}
	}
	// border returns the crooked line from a to b, a included, b left out. Borders on the box's
	// edge stay straight, so that the tiling fills the box.
	type key struct{ i0, j0, i1, j1 int }
	borders := map[key][]orb.Point{}
	border := func(i0, j0, i1, j1 int) []orb.Point {
		reverse := i0 > i1 || (i0 == i1 && j0 > j1)
		k := key{i0, j0, i1, j1}
		if reverse {
			k = key{i1, j1, i0, j0}
		}
		line, ok := borders[k]
		if !ok {
			a, b := corner[k.i0][k.j0], corner[k.i1][k.j1]
			outer := (k.i0 == k.i1 && (k.i0 == 0 || k.i0 == cols)) || (k.j0 == k.j1 && (k.j0 == 0 || k.j0 == rows))
			n := orb.Point{-(b[1] - a[1]), b[0] - a[0]}
			amp := 0.08 * rng.Float64()
			phase := rng.Float64() * math.Pi
			line = []orb.Point{a}
			for s := 1; s <= wiggle; s++ {
				t := float64(s) / float64(wiggle+1)
				p := orb.Point{a[0] + t*(b[0]-a[0]), a[1] + t*(b[1]-a[1])}
				if !outer {
					off := amp * math.Sin(3*math.Pi*t+phase) * math.Sin(math.Pi*t)
					p[0] += off * n[0]
					p[1] += off * n[1]
				}
				line = append(line, p)
			}
			line = append(line, b)
			borders[k] = line
		}
		out := make([]orb.Point, 0, len(line))
		if reverse {
			for i := len(line) - 1; i > 0; i-- {
				out = append(out, line[i])
			}
			return out
		}
		return append(out, line[:len(line)-1]...)
	}
	var out []orb.MultiPolygon
	for j := 0; j < rows; j++ {
		for i := 0; i < cols; i++ {
			var r orb.Ring
			r = append(r, border(i, j, i+1, j)...)
			r = append(r, border(i+1, j, i+1, j+1)...)
			r = append(r, border(i+1, j+1, i, j+1)...)
			r = append(r, border(i, j+1, i, j)...)
			r = append(r, r[0])
			out = append(out, orb.MultiPolygon{{r}})
		}
	}
	return out
}

// Points returns n positions spread over the box, more of them towards its middle, as a city's
// elevators are.
func Points(n int, box orb.Bound, seed uint64) []orb.Point {
	rng := rand.New(rand.NewPCG(seed, 1))
	c := box.Center()
	w, h := box.Max[0]-box.Min[0], box.Max[1]-box.Min[1]
	out := make([]orb.Point, 0, n)
	for len(out) < n {
		p := orb.Point{c[0] + rng.NormFloat64()*w/5, c[1] + rng.NormFloat64()*h/5}
		if rng.IntN(4) == 0 {
			p = orb.Point{box.Min[0] + rng.Float64()*w, box.Min[1] + rng.Float64()*h}
		}
		if box.Contains(p) {
			out = append(out, p)
		}
	}
	return out
}

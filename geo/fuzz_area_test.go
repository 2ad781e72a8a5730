package geo

import (
	"encoding/binary"
	"math"
	"math/big"
	"slices"
	"testing"

	"github.com/paulmach/orb"
)

// areaFromFuzz decodes a small multipolygon: a byte for the number of polygons (1 to 3), then for
// each a byte for its rings (1 to 3), then for each ring a byte whose low 4 bits are its points
// (0 to 15), bit 4 asks for the ring to be closed after them, bit 5 for raw coordinates and bit 6
// for a ring shrunk fourfold towards the origin, which may then lie in another as a hole does. A
// point is two signed bytes on the 0.001° lattice of areaAt, where edges often meet, run along
// each other and repeat points; or, raw, two little-endian float64, to reach NaN, infinities and
// tiny or huge numbers. Decoding stops where the bytes do.
func areaFromFuzz(data []byte) orb.MultiPolygon {
	next := func() (byte, bool) {
		if len(data) == 0 {
			return 0, false
		}
		b := data[0]
		data = data[1:]
		return b, true
	}
	head, ok := next()
	if !ok {
		return nil
	}
	var mp orb.MultiPolygon
	for range 1 + int(head)%3 {
		rings, ok := next()
		if !ok {
			return mp
		}
		var poly orb.Polygon
		for range 1 + int(rings)%3 {
			spec, ok := next()
			if !ok {
				mp = append(mp, poly)
				return mp
			}
			var ring orb.Ring
			for range spec & 15 {
				if spec&32 != 0 {
					if len(data) < 16 {
						break
					}
					ring = append(ring, orb.Point{
						math.Float64frombits(binary.LittleEndian.Uint64(data)),
						math.Float64frombits(binary.LittleEndian.Uint64(data[8:])),
					})
					data = data[16:]
					continue
				}
				if len(data) < 2 {
					break
				}
				x, y := float64(int8(data[0])), float64(int8(data[1]))
				if spec&64 != 0 {
					x, y = x/4, y/4
				}
				ring = append(ring, areaAt(x, y))
				data = data[2:]
			}
			if spec&16 != 0 && len(ring) > 0 {
				ring = append(ring, ring[0])
			}
			poly = append(poly, ring)
		}
		mp = append(mp, poly)
	}
	return mp
}

// areaToFuzz encodes lattice rings, closed, for seeds: the inverse of areaFromFuzz.
func areaToFuzz(polys ...[][]int8) []byte {
	out := []byte{byte(len(polys) - 1)}
	for _, poly := range polys {
		out = append(out, byte(len(poly)-1))
		for _, ring := range poly {
			out = append(out, byte(len(ring)/2)|16)
			for _, v := range ring {
				out = append(out, byte(v))
			}
		}
	}
	return out
}

func FuzzCheckArea(f *testing.F) {
	square := []int8{0, 0, 4, 0, 4, 4, 0, 4}
	f.Add(areaToFuzz([][]int8{square}))
	f.Add(areaToFuzz([][]int8{{0, 0, 0, 4, 4, 4, 4, 0}, {1, 1, 2, 1, 2, 2, 1, 2}}))                                                 // clockwise, hole turned
	f.Add(areaToFuzz([][]int8{{0, 0, 1, 1, 1, 0, 0, 1}}))                                                                           // bowtie
	f.Add(areaToFuzz([][]int8{{0, 0, 2, 0, 2, 1, 3, 1, 2, 1, 2, 2, 0, 2}}))                                                         // spike
	f.Add(areaToFuzz([][]int8{{0, 0, 1, 1, 2, 0, 2, 2, 1, 1, 0, 2}}))                                                               // figure 8
	f.Add(areaToFuzz([][]int8{square}, [][]int8{{4, 0, 8, 0, 8, 4, 4, 4}}))                                                         // sharing an edge
	f.Add(areaToFuzz([][]int8{{-8, -8, 8, -8, 8, 8, -8, 8}, {-4, -4, 4, -4, 4, 4, -4, 4}}, [][]int8{{-1, -1, 1, -1, 1, 1, -1, 1}})) // island in a lake
	f.Add(append([]byte{0, 0, 32 | 16 | 3}, make([]byte, 48)...))                                                                   // raw zeros
	f.Add([]byte{0, 1, 16 | 4, 0, 0, 8, 0, 8, 8, 0, 8, 64 | 16 | 4, 4, 4, 4, 12, 12, 12, 12, 4})                                    // a shrunk hole
	f.Fuzz(func(t *testing.T, data []byte) {
		in := areaFromFuzz(data)
		before := in.Clone()
		out, details := CheckArea(in)
		if !areaSameBits(in, before) {
			t.Fatalf("CheckArea modified its input")
		}
		if len(details) > maxAreaDetails {
			t.Fatalf("%d details", len(details))
		}
		if (len(details) > 0) != (out == nil) {
			t.Fatalf("details %v with area %v", details, out)
		}
		for _, d := range details {
			if d.Field == "" || d.Reason == "" {
				t.Fatalf("detail without field or reason: %+v", d)
			}
		}
		// Validity does not depend on which way the rings run or where they start.
		for name, variant := range map[string]orb.MultiPolygon{"reversed": areaMapRings(in, areaReversed), "rotated": areaMapRings(in, areaRotated)} {
			if _, d := CheckArea(variant); (len(d) > 0) != (len(details) > 0) {
				t.Fatalf("%s rings: %d problems, %d as given: %v", name, len(d), len(details), append(d, details...))
			}
		}
		if out == nil {
			return
		}
		for i, poly := range out {
			for j, ring := range poly {
				if len(ring) < 4 || ring[0] != ring[len(ring)-1] {
					t.Fatalf("polygon %d ring %d is not a closed ring: %v", i, j, ring)
				}
				for k := 1; k < len(ring); k++ {
					if ring[k] == ring[k-1] {
						t.Fatalf("polygon %d ring %d repeats vertex %d", i, j, k)
					}
				}
				want := -1 // holes clockwise
				if j == 0 {
					want = 1 // shells counter-clockwise
				}
				if sign := areaExactSign(ring); sign != want {
					t.Fatalf("polygon %d ring %d has a signed area of sign %d, want %d", i, j, sign, want)
				}
			}
		}
		again, details := CheckArea(out)
		if len(details) > 0 {
			t.Fatalf("the normalised area has problems: %v", details)
		}
		if !areaSameBits(again, out) {
			t.Fatalf("normalising twice changed the area:\n%v\n%v", out, again)
		}
	})
}

// areaSameBits compares two multipolygons bit for bit, so that NaN equals NaN and -0 differs from 0.
func areaSameBits(a, b orb.MultiPolygon) bool {
	return slices.EqualFunc(a, b, func(p, q orb.Polygon) bool {
		return slices.EqualFunc(p, q, func(r, s orb.Ring) bool {
			return slices.EqualFunc(r, s, func(x, y orb.Point) bool {
				return math.Float64bits(x[0]) == math.Float64bits(y[0]) && math.Float64bits(x[1]) == math.Float64bits(y[1])
			})
		})
	})
}

func areaMapRings(mp orb.MultiPolygon, f func(orb.Ring) orb.Ring) orb.MultiPolygon {
	out := make(orb.MultiPolygon, len(mp))
	for i, poly := range mp {
		out[i] = make(orb.Polygon, len(poly))
		for j, ring := range poly {
			out[i][j] = f(ring)
		}
	}
	return out
}

// areaRotated starts a closed ring at its second point; other rings are returned as they are.
func areaRotated(r orb.Ring) orb.Ring {
	if len(r) < 4 || r[0] != r[len(r)-1] {
		return r
	}
	return append(slices.Clone(r[1:len(r)-1]), r[0], r[1])
}

// areaExactSign returns the sign of the ring's area by the shoelace formula in rational
// arithmetic: the winding, with no rounding to doubt.
func areaExactSign(r orb.Ring) int {
	sum, term := new(big.Rat), new(big.Rat)
	for k := 0; k+1 < len(r); k++ {
		x0, y0 := new(big.Rat).SetFloat64(r[k][0]), new(big.Rat).SetFloat64(r[k][1])
		x1, y1 := new(big.Rat).SetFloat64(r[k+1][0]), new(big.Rat).SetFloat64(r[k+1][1])
		sum.Add(sum, term.Mul(x0, y1))
		sum.Sub(sum, term.Mul(x1, y0))
	}
	return sum.Sign()
}

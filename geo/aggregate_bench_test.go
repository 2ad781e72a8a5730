package geo

import (
	"sync"
	"testing"

	"github.com/paulmach/orb"
)

// Benchmarks of the map's overview (BENCHMARKS.md, "Elevators on the map"):
//
//	go test -run '^$' -bench 'ElevatorCells|ElevatorPointsInBBox' -benchmem ./geo

var hundredK struct {
	once sync.Once
	ix   *Index
}

func hundredThousandElevators(b *testing.B) *Index {
	hundredK.once.Do(func() {
		ix := mustIndex(b)
		if _, err := ix.LoadElevators(seqOf(cityPoints(100, 100_000))); err != nil {
			b.Fatal(err)
		}
		hundredK.ix = ix
	})
	return hundredK.ix
}

// cityBox holds every position cityPoint makes.
var cityBox = orb.Bound{Min: orb.Point{116.8, 34.3}, Max: orb.Point{118.0, 35.4}}

func BenchmarkElevatorCells(b *testing.B) {
	// A district-sized area east of the centre, as a district's account is kept to.
	district, err := NewGridMap([]orb.MultiPolygon{{{{{117.30, 34.70}, {117.65, 34.70}, {117.65, 35.00}, {117.30, 35.00}, {117.30, 34.70}}}}})
	if err != nil {
		b.Fatal(err)
	}
	inDistrict := func(p ElevatorPoint) bool { return district.LocateIn(p.Cell, p.Lon, p.Lat) == 0 }
	for _, size := range []struct {
		name string
		ix   func(*testing.B) *Index
	}{{"100k", hundredThousandElevators}, {"1M", millionElevators}} {
		for _, tc := range []struct {
			name string
			res  int
			keep func(ElevatorPoint) bool
		}{
			{"city_res7", 7, nil},
			{"city_res5", 5, nil},
			{"city_res7_one_district", 7, inDistrict},
		} {
			b.Run(size.name+"/"+tc.name, func(b *testing.B) {
				ix := size.ix(b)
				var cells []CellCount
				for b.Loop() {
					cells, err = ix.ElevatorCellsInBBox(cityBox.Min[0], cityBox.Min[1], cityBox.Max[0], cityBox.Max[1], tc.res, tc.keep)
					if err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(len(cells)), "cells")
			})
		}
	}
}

func BenchmarkElevatorPointsInBBox(b *testing.B) {
	ix := millionElevators(b)
	b.Run("1M/city_up_to_3001", func(b *testing.B) {
		for b.Loop() {
			if n := len(ix.ElevatorPointsInBBox(cityBox.Min[0], cityBox.Min[1], cityBox.Max[0], cityBox.Max[1], nil, 3001)); n != 3001 {
				b.Fatal(n)
			}
		}
	})
}

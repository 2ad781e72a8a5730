package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/geo"
	"github.com/paulmach/orb"
)

// The elevators on the dispatcher's map: the elevators themselves when a view holds few enough
// to draw as dots, else their counts by H3 cell. The counts come from the live index alone (a
// million elevators in a few tens of milliseconds); the dots need each elevator's rescue code and
// status, which only the registry has, and are read from the store by box, a few thousand rows at
// most.
const (
	// mapPointsMax is the most elevators a view is answered with as dots, at any zoom.
	mapPointsMax = 3000
	// From mapPointsZoom on (a few streets across) a view holds dots up to mapPointsMaxNear: a
	// dispatcher there wants the buildings, not a count, and the canvas draws that many smoothly.
	mapPointsZoom    = 16
	mapPointsMaxNear = 5000
	// mapCellsMax bounds the cells of one answer: a view whose cells at the zoom's resolution are
	// more gets the next coarser one (a box far larger than the screen asked for).
	mapCellsMax = 6000
	// mapCellMinPx is the least width on screen of the hexagons the zoom's resolution is chosen
	// for: room for a count.
	mapCellMinPx = 36
	// mapMaxZoom is the highest zoom accepted; web maps stop at 22 or so.
	mapMaxZoom = 24
	// mapCacheControl lets the browser answer a view it asked for a moment ago (a pan back).
	mapCacheControl = "private, max-age=5"
)

// MapElevators is the answer of GET /api/v1/map/elevators: mode "points" with elevators, or mode
// "cells" with the H3 resolution and the cells. Total is the number of elevators in the view.
type MapElevators struct {
	Mode       string        `json:"mode"`
	Total      int           `json:"total"`
	Elevators  []MapElevator `json:"elevators,omitempty"`
	Resolution int           `json:"resolution,omitempty"`
	Cells      []MapCell     `json:"cells,omitempty"`
}

// MapElevator is an elevator as a dot on the map.
type MapElevator struct {
	ID     int64                     `json:"id"`
	Code   string                    `json:"code"` // the rescue code
	Lat    float64                   `json:"lat"`
	Lon    float64                   `json:"lon"`
	Status liftrescue.ElevatorStatus `json:"status"`
}

// MapCell is how many elevators of the view an H3 cell holds; Lat, Lon is their mean position.
type MapCell struct {
	Cell  string  `json:"cell"` // the H3 index in hexadecimal, as h3-js reads it
	Lat   float64 `json:"lat"`
	Lon   float64 `json:"lon"`
	Count int     `json:"count"`
}

// mapQuery is a view of the map: a box and a zoom.
type mapQuery struct {
	box  liftrescue.BBox
	zoom float64
}

// parseMapQuery reads the bbox and zoom parameters, and names every one that is wrong.
func parseMapQuery(bbox, zoom string) (mapQuery, error) {
	var q mapQuery
	var bad []liftrescue.Detail
	if bbox == "" {
		bad = append(bad, liftrescue.Detail{Field: "bbox", Reason: "is required: minLon,minLat,maxLon,maxLat (WGS-84)"})
	} else if b, err := liftrescue.ParseBBox(bbox); err != nil {
		for _, d := range liftrescue.ErrorDetails(err) {
			d.Value = shorten(bbox)
			bad = append(bad, d)
		}
	} else {
		q.box = *b
	}
	if zoom == "" {
		bad = append(bad, liftrescue.Detail{Field: "zoom", Reason: "is required: the map's zoom level"})
	} else if z, err := strconv.ParseFloat(strings.TrimSpace(zoom), 64); err != nil || !(z >= 0 && z <= mapMaxZoom) {
		bad = append(bad, liftrescue.Detail{Field: "zoom", Value: shorten(zoom), Reason: fmt.Sprintf("must be a number from 0 to %d", mapMaxZoom)})
	} else {
		q.zoom = z
	}
	if len(bad) == 0 {
		return q, nil
	}
	msg := make([]string, len(bad))
	for i, d := range bad {
		msg[i] = d.Field + ": " + d.Reason
	}
	return q, &liftrescue.Error{Code: liftrescue.EINVALID, Message: strings.Join(msg, "; "), Details: bad}
}

// h3EdgeKm is the average edge of an H3 hexagon at each resolution, H3's own table.
var h3EdgeKm = [16]float64{1281.256011, 483.0568391, 182.5129565, 68.97922179, 26.07175968, 9.854090990,
	3.724532667, 1.406475763, 0.531414010, 0.200786148, 0.075863783, 0.028663897, 0.010830188,
	0.004092010, 0.001546100, 0.000584169}

// cellResolution is the resolution of the cells of a view at a zoom: the finest, up to finest,
// whose hexagons are at least mapCellMinPx across on a Web Mercator map at 35° N (the middle of
// China; a city further north or south sees them up to a third smaller or larger). Only the
// whole part of the zoom counts, so a map knows that the cells it has hold until the zoom's whole
// part changes.
func cellResolution(zoom float64, finest int) int {
	const metresPerPxAtZoom0 = 156543.03392 * 0.8191520443 // cos 35°
	pxPerKm := 1000 * math.Exp2(math.Floor(zoom)) / metresPerPxAtZoom0
	for r := min(finest, len(h3EdgeKm)-1); r > 0; r-- {
		if 2*h3EdgeKm[r]*pxPerKm >= mapCellMinPx {
			return r
		}
	}
	return 0
}

// mapScope is what of the map a principal may see: every elevator, or a district's.
type mapScope struct {
	district string // "" for the whole city
	// area is the district's outline ready for point tests, nil when it has none usable: the
	// registry, which knows each elevator's district, then answers alone.
	area *districtArea
}

// mapElevators answers GET /api/v1/map/elevators.
//
// A district's account sees its district's elevators only. The index keeps no district per
// elevator, and keeping one beside it would need every registry write to reach it; the district's
// outline does the work instead: the counts take the elevators inside it (GridMap: a hash lookup
// by the cell the index keeps, and a few edges where the boundary crosses the cell), and the dots,
// read from the registry, those whose district is the account's. The two agree but for an
// elevator registered to a district its position is not in: it is counted where it stands, and
// drawn (and may be looked up) in the district it is registered to. A district without an
// outline is counted from the registry, more slowly.
func (s *Server) mapElevators(c echo.Context) error {
	q, err := parseMapQuery(c.QueryParam("bbox"), c.QueryParam("zoom"))
	if err != nil {
		return err
	}
	ix := s.cfg.Index
	if ix == nil {
		return liftrescue.Errorf(liftrescue.EUNAVAILABLE, "the live index is not running on this server")
	}
	ctx := c.Request().Context()
	scope, err := s.mapScopeOf(ctx, principalOf(c))
	if err != nil {
		return err
	}
	maxPoints := mapPointsMax
	if q.zoom >= mapPointsZoom {
		maxPoints = mapPointsMaxNear
	}
	// n is how many elevators of the view there are, as far as maxPoints+1; pts are they, when
	// the index knows.
	box, n := q.box, 0
	var pts []geo.ElevatorPoint
	var keep func(geo.ElevatorPoint) bool
	switch {
	case scope.district != "" && scope.area == nil:
		page, err := s.store.ListElevators(ctx, liftrescue.ElevatorFilter{BBox: &box, District: scope.district, Paging: liftrescue.Paging{Limit: 1}})
		if err != nil {
			return err
		}
		n = page.Total
	case scope.area != nil:
		// Only the part of the view over the district is searched.
		var ok bool
		if box, ok = intersectBox(box, scope.area.bound); ok {
			keep = scope.area.keep(ix.H3Resolution())
			pts = ix.ElevatorPointsInBBox(box.MinLon, box.MinLat, box.MaxLon, box.MaxLat, keep, maxPoints+1)
			n = len(pts)
		}
	default:
		pts = ix.ElevatorPointsInBBox(box.MinLon, box.MinLat, box.MaxLon, box.MaxLat, nil, maxPoints+1)
		n = len(pts)
	}
	var out *MapElevators
	if n <= maxPoints {
		// The whole view: the registry's district of an elevator, not its outline, decides here.
		out, err = s.mapPoints(ctx, q.box, scope.district, pts, maxPoints)
	} else {
		out, err = s.mapCells(ctx, ix, box, cellResolution(q.zoom, ix.H3Resolution()), scope, keep)
	}
	if err != nil {
		return err
	}
	return writeMapElevators(c, out)
}

// mapTileMax is how many elevators the index puts in each strip of a view whose dots are read from
// the registry: under a page of the store, so that each strip is one query without a count.
const mapTileMax = 800

// mapPoints reads the elevators in a box (of a district, unless "") from the registry, at most
// max of them. The index's elevators of the box, pts, cut it into strips of about mapTileMax,
// read side by side: a page of the store, which the registry lists by, costs a count and the
// whole box's search again every thousand rows, and this way neither. The strips are cut between
// elevators, so the store's box, which may round outwards, finds the same elevator in two only
// within a metre of a cut; each strip keeps its own, the western edge in and the eastern out.
func (s *Server) mapPoints(ctx context.Context, box liftrescue.BBox, district string, pts []geo.ElevatorPoint, max int) (*MapElevators, error) {
	lons := make([]float64, len(pts))
	for i, p := range pts {
		lons[i] = p.Lon
	}
	slices.Sort(lons)
	cuts := []float64{box.MinLon}
	for from := 0; from+mapTileMax < len(lons); {
		// A cut falls between two longitudes, not through a building's elevators: before the
		// strip is full if it can, else after.
		i := from + mapTileMax
		for i > from+1 && lons[i-1] == lons[i] {
			i--
		}
		for i < len(lons) && lons[i-1] == lons[i] {
			i++
		}
		if i == len(lons) {
			break
		}
		cuts = append(cuts, (lons[i-1]+lons[i])/2)
		from = i
	}
	cuts = append(cuts, box.MaxLon)

	found := make([][]MapElevator, len(cuts)-1)
	errs := make([]error, len(found))
	var wg sync.WaitGroup
	sem := make(chan struct{}, mapTileReaders)
	for i := range found {
		tile := liftrescue.BBox{MinLon: cuts[i], MinLat: box.MinLat, MaxLon: cuts[i+1], MaxLat: box.MaxLat}
		last := i == len(found)-1
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			found[i], errs[i] = s.registryPoints(ctx, tile, district, last, max)
		})
	}
	wg.Wait()
	out := &MapElevators{Mode: "points", Elevators: []MapElevator{}}
	for i := range found {
		if errs[i] != nil {
			return nil, errs[i]
		}
		out.Elevators = append(out.Elevators, found[i]...)
	}
	slices.SortFunc(out.Elevators, func(a, b MapElevator) int { return cmp.Compare(a.ID, b.ID) })
	out.Elevators = slices.CompactFunc(out.Elevators, func(a, b MapElevator) bool { return a.ID == b.ID })
	// The index counted the box a moment ago; a registry that has since taken in an import is
	// not shown past the bound.
	out.Elevators = out.Elevators[:min(len(out.Elevators), max)]
	out.Total = len(out.Elevators)
	return out, nil
}

// mapTileReaders is how many strips of a view are read from the registry at once.
const mapTileReaders = 4

// registryPoints reads the elevators of a strip of a view from the registry, at most about max:
// those on its western edge and inside, and those on its eastern edge when it is the last.
func (s *Server) registryPoints(ctx context.Context, tile liftrescue.BBox, district string, last bool, max int) ([]MapElevator, error) {
	var out []MapElevator
	f := liftrescue.ElevatorFilter{BBox: &tile, District: district, Paging: liftrescue.Paging{Limit: liftrescue.MaxLimit}}
	for {
		page, err := s.store.ListElevators(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, e := range page.Items {
			if e.Lon < tile.MinLon || e.Lon > tile.MaxLon || (e.Lon == tile.MaxLon && !last) || e.Lat < tile.MinLat || e.Lat > tile.MaxLat {
				continue
			}
			out = append(out, MapElevator{ID: e.ID, Code: e.RescueCode, Lat: e.Lat, Lon: e.Lon, Status: e.Status})
		}
		if page.NextCursor == "" || len(out) >= max {
			return out, nil
		}
		f.Cursor = page.NextCursor
	}
}

// mapCells counts the elevators in a box by cell at resolution res, or coarser when that makes too
// many cells.
func (s *Server) mapCells(ctx context.Context, ix *geo.Index, box liftrescue.BBox, res int, scope mapScope, keep func(geo.ElevatorPoint) bool) (*MapElevators, error) {
	var cells []geo.CellCount
	var err error
	if scope.district != "" && scope.area == nil {
		cells, err = s.registryCells(ctx, ix, box, scope.district, res)
	} else {
		cells, err = ix.ElevatorCellsInBBox(box.MinLon, box.MinLat, box.MaxLon, box.MaxLat, res, keep)
	}
	if err != nil {
		return nil, err
	}
	for len(cells) > mapCellsMax && res > 0 {
		res--
		cells = geo.CoarsenCells(cells, res)
	}
	out := &MapElevators{Mode: "cells", Resolution: res, Cells: make([]MapCell, len(cells))}
	for i, cc := range cells {
		out.Cells[i] = MapCell{Cell: cc.Cell.String(), Lat: cc.Lat, Lon: cc.Lon, Count: cc.Count}
		out.Total += cc.Count
	}
	return out, nil
}

// registryCells counts a district's elevators in a box by cell from the registry, page by page:
// the way for a district without an outline, about a second per 100,000 elevators.
func (s *Server) registryCells(ctx context.Context, ix *geo.Index, box liftrescue.BBox, district string, res int) ([]geo.CellCount, error) {
	byCell := map[geo.Cell]*geo.CellCount{}
	f := liftrescue.ElevatorFilter{BBox: &box, District: district, Paging: liftrescue.Paging{Limit: liftrescue.MaxLimit}}
	for {
		page, err := s.store.ListElevators(ctx, f)
		if err != nil {
			return nil, err
		}
		for _, e := range page.Items {
			if e.Lon < box.MinLon || e.Lon > box.MaxLon || e.Lat < box.MinLat || e.Lat > box.MaxLat {
				continue
			}
			cell := ix.CellOf(e.Lon, e.Lat).Parent(res)
			if cell == 0 {
				continue
			}
			cc := byCell[cell]
			if cc == nil {
				cc = &geo.CellCount{Cell: cell}
				byCell[cell] = cc
			}
			cc.Count++
			cc.Lon += e.Lon
			cc.Lat += e.Lat
		}
		if page.NextCursor == "" {
			break
		}
		f.Cursor = page.NextCursor
	}
	cells := make([]geo.CellCount, 0, len(byCell))
	for _, cc := range byCell {
		cc.Lon /= float64(cc.Count)
		cc.Lat /= float64(cc.Count)
		cells = append(cells, *cc)
	}
	// In the order the index gives, so that both ways answer alike.
	return geo.CoarsenCells(cells, res), nil
}

// mapScopeOf returns what of the map the principal may see.
func (s *Server) mapScopeOf(ctx context.Context, p *liftrescue.Principal) (mapScope, error) {
	if p == nil || p.District == "" {
		return mapScope{}, nil
	}
	d, err := s.store.FindDistrict(ctx, p.District)
	if liftrescue.ErrorCode(err) == liftrescue.ENOTFOUND {
		return mapScope{district: p.District}, nil // no outline either: the registry decides
	} else if err != nil {
		return mapScope{}, err
	}
	return mapScope{district: p.District, area: districtAreaOf(d)}, nil
}

// intersectBox returns the part of box a inside bound b, and whether there is any.
func intersectBox(a liftrescue.BBox, b orb.Bound) (liftrescue.BBox, bool) {
	out := liftrescue.BBox{MinLon: max(a.MinLon, b.Min.Lon()), MinLat: max(a.MinLat, b.Min.Lat()),
		MaxLon: min(a.MaxLon, b.Max.Lon()), MaxLat: min(a.MaxLat, b.Max.Lat())}
	return out, out.MinLon <= out.MaxLon && out.MinLat <= out.MaxLat
}

// districtArea is a district's outline ready for many point tests.
type districtArea struct {
	once  sync.Once
	grid  *geo.GridMap
	bound orb.Bound
}

// keep returns the test of an elevator of the index (whose cells are at resolution res) against
// the area. It may run on several goroutines at once.
func (a *districtArea) keep(res int) func(geo.ElevatorPoint) bool {
	if res == a.grid.Resolution() {
		return func(p geo.ElevatorPoint) bool { return a.grid.LocateIn(p.Cell, p.Lon, p.Lat) == 0 }
	}
	return func(p geo.ElevatorPoint) bool { return a.grid.Locate(p.Lon, p.Lat) == 0 }
}

// districtAreas keeps the areas of the outlines asked for lately, by district and outline: an
// area of a district of a few hundred km² takes tens of milliseconds to cover with cells, and the
// outline changes rarely. It is a memo of a pure function of the outline, shared by the servers of
// the process; when it reaches districtAreasMax entries it starts again.
var districtAreas = struct {
	sync.Mutex
	m map[districtKey]*districtArea
}{m: map[districtKey]*districtArea{}}

const districtAreasMax = 64

type districtKey struct {
	code string
	sum  uint64 // FNV-1a of the outline's coordinates
}

// districtAreaOf returns the area of the district's outline, nil when it has none a GridMap can
// take.
func districtAreaOf(d *liftrescue.District) *districtArea {
	if len(d.Outline) == 0 {
		return nil
	}
	key := districtKey{code: d.Code, sum: outlineSum(d.Outline)}
	districtAreas.Lock()
	a := districtAreas.m[key]
	if a == nil {
		if len(districtAreas.m) >= districtAreasMax {
			clear(districtAreas.m)
		}
		a = &districtArea{}
		districtAreas.m[key] = a
	}
	districtAreas.Unlock()
	a.once.Do(func() {
		mp, bad := geo.CheckArea(d.Outline.Clone())
		if len(bad) > 0 {
			return
		}
		grid, err := geo.NewGridMap([]orb.MultiPolygon{mp})
		if err != nil {
			return
		}
		a.grid, a.bound = grid, mp.Bound()
	})
	if a.grid == nil {
		return nil
	}
	return a
}

func outlineSum(mp orb.MultiPolygon) uint64 {
	h := fnv.New64a()
	var buf []byte
	for _, poly := range mp {
		buf = strconv.AppendInt(buf[:0], int64(len(poly)), 10)
		h.Write(append(buf, '|'))
		for _, ring := range poly {
			buf = strconv.AppendInt(buf[:0], int64(len(ring)), 10)
			h.Write(append(buf, ':'))
			for _, p := range ring {
				buf = strconv.AppendUint(buf[:0], math.Float64bits(p[0]), 16)
				buf = append(buf, ',')
				buf = strconv.AppendUint(buf, math.Float64bits(p[1]), 16)
				h.Write(append(buf, ';'))
			}
		}
	}
	return h.Sum64()
}

// writeMapElevators writes the answer with its own encoder: a few thousand dots or cells, whose
// positions need no more than six decimals (a tenth of a metre).
func writeMapElevators(c echo.Context, m *MapElevators) error {
	b := make([]byte, 0, 64+len(m.Elevators)*80+len(m.Cells)*72)
	b = append(b, `{"mode":`...)
	b = appendJSONString(b, m.Mode)
	b = append(b, `,"total":`...)
	b = strconv.AppendInt(b, int64(m.Total), 10)
	if m.Mode == "cells" {
		b = append(b, `,"resolution":`...)
		b = strconv.AppendInt(b, int64(m.Resolution), 10)
		b = append(b, `,"cells":[`...)
		for i, cc := range m.Cells {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"cell":"`...)
			b = append(b, cc.Cell...) // hexadecimal digits
			b = append(b, `","lat":`...)
			b = appendCoord(b, cc.Lat)
			b = append(b, `,"lon":`...)
			b = appendCoord(b, cc.Lon)
			b = append(b, `,"count":`...)
			b = strconv.AppendInt(b, int64(cc.Count), 10)
			b = append(b, '}')
		}
	} else {
		b = append(b, `,"elevators":[`...)
		for i, e := range m.Elevators {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(b, `{"id":`...)
			b = strconv.AppendInt(b, e.ID, 10)
			b = append(b, `,"code":`...)
			b = appendJSONString(b, e.Code)
			b = append(b, `,"lat":`...)
			b = appendCoord(b, e.Lat)
			b = append(b, `,"lon":`...)
			b = appendCoord(b, e.Lon)
			b = append(b, `,"status":`...)
			b = appendJSONString(b, string(e.Status))
			b = append(b, '}')
		}
	}
	b = append(b, "]}\n"...)
	c.Response().Header().Set("Cache-Control", mapCacheControl)
	return c.JSONBlob(http.StatusOK, b)
}

// appendCoord writes a coordinate to six decimals, without trailing zeros.
func appendCoord(b []byte, v float64) []byte {
	return strconv.AppendFloat(b, math.Round(v*1e6)/1e6, 'f', -1, 64)
}

// appendJSONString writes s as a JSON string. Codes and statuses are plain ASCII; anything else
// goes through encoding/json.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x7f {
			j, _ := json.Marshal(s) // a string always marshals
			return append(b, j...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

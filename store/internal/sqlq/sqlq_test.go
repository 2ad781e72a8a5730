package sqlq

import (
	"fmt"
	"testing"

	"github.com/liftrescue/liftrescue"
)

func TestDollar(t *testing.T) {
	for _, tt := range []struct{ in, want string }{
		{"SELECT 1", "SELECT 1"},
		{"a = ? AND b = ?", "a = $1 AND b = $2"},
		{`(code ILIKE ? ESCAPE '\' OR name ILIKE ? ESCAPE '\') LIMIT ?`, `(code ILIKE $1 ESCAPE '\' OR name ILIKE $2 ESCAPE '\') LIMIT $3`},
		{"x = '?' AND y = ?", "x = '?' AND y = $1"},
		{"x = 'it''s ?' AND y = ?", "x = 'it''s ?' AND y = $1"},
		{"(SELECT coalesce(d, '') FROM v WHERE t = ?) AS v WHERE id > ? LIMIT ?", "(SELECT coalesce(d, '') FROM v WHERE t = $1) AS v WHERE id > $2 LIMIT $3"},
	} {
		if got := Dollar(tt.in); got != tt.want {
			t.Errorf("Dollar(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestSearchHelpers(t *testing.T) {
	if got, want := LikePattern("%", `50%_off\`, "%"), `%50\%\_off\\%`; got != want {
		t.Errorf("LikePattern = %q, want %q", got, want)
	}
	for s, want := range map[string]bool{"": false, "0": true, "0123456789": true, "12a": false, "１２": false} {
		if got := IsDigits(s); got != want {
			t.Errorf("IsDigits(%q) = %v, want %v", s, got, want)
		}
	}
	for q, want := range map[string]string{"1": "2", "1009": "100:", "9": ":"} {
		if got := PrefixEnd(q); got != want {
			t.Errorf("PrefixEnd(%q) = %q, want %q", q, got, want)
		}
	}
}

var testDialect = Dialect{
	Like: "ILIKE",
	BBox: func(w *Where, b *liftrescue.BBox) { w.Add("box(?, ?, ?, ?)", b.MinLon, b.MinLat, b.MaxLon, b.MaxLat) },
}

func TestFilters(t *testing.T) {
	for _, tt := range []struct {
		name string
		w    Where
		sql  string
		args string
	}{
		{"no elevator filter", Elevators(liftrescue.ElevatorFilter{}, testDialect), "", "[]"},
		{"every elevator filter but Q", Elevators(liftrescue.ElevatorFilter{BBox: &liftrescue.BBox{MinLon: 1, MinLat: 2, MaxLon: 3, MaxLat: 4},
			District: "370402", UserUnitID: 5, MaintenanceUnitID: 6}, testDialect),
			" WHERE box(?, ?, ?, ?) AND lon BETWEEN ? AND ? AND lat BETWEEN ? AND ? AND district = ? AND user_unit_id = ? AND maintenance_unit_id = ?",
			"[1 2 3 4 1 3 2 4 370402 5 6]"},
		{"elevator code prefix", Elevators(liftrescue.ElevatorFilter{Q: "1009"}, testDialect),
			" WHERE (rescue_code >= ? AND rescue_code < ? OR equipment_code >= ? AND equipment_code < ?)", "[1009 100: 1009 100:]"},
		{"elevator text", Elevators(liftrescue.ElevatorFilter{Q: "光明_路"}, testDialect),
			` WHERE (address ILIKE ? ESCAPE '\' OR building ILIKE ? ESCAPE '\')`, `[%光明\_路% %光明\_路%]`},
		{"organizations", Organizations(liftrescue.OrganizationFilter{Kind: liftrescue.OrgFire, District: "370402", Q: "U1"}, Dialect{Like: "LIKE"}),
			` WHERE kind = ? AND district = ? AND (code LIKE ? ESCAPE '\' OR name LIKE ? ESCAPE '\')`, "[fire 370402 U1% %U1%]"},
		{"teams", Teams(liftrescue.TeamFilter{OrganizationID: 7}), " WHERE organization_id = ?", "[7]"},
		{"vehicles", Vehicles(liftrescue.VehicleFilter{TeamID: 8, OrganizationID: 9}), " WHERE v.team_id = ? AND t.organization_id = ?", "[8 9]"},
	} {
		if got := tt.w.String(); got != tt.sql {
			t.Errorf("%s: SQL %q, want %q", tt.name, got, tt.sql)
		}
		if got := fmt.Sprint(tt.w.Args); got != tt.args {
			t.Errorf("%s: args %s, want %s", tt.name, got, tt.args)
		}
	}
}

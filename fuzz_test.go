package liftrescue_test

import (
	"encoding/json"
	"math"
	"testing"

	"github.com/liftrescue/liftrescue"
)

// The decoders of outside input must never panic, and whatever they accept must be usable.

func FuzzElevatorJSON(f *testing.F) {
	f.Add(`{"rescue_code":"123456","equipment_code":"31103704022015000001","address":"市中区光明路128号","district":"370402","lat":34.86,"lon":117.55,"kind":"traction","user_unit_id":1,"maintenance_unit_id":2,"installed_on":"2015-06-30"}`)
	f.Add(`{"lat":1e400}`)
	f.Add(`{"installed_on":"2015-02-30"}`)
	f.Add(`{"last_maintained_at":"2026-01-01T00:00:00+08:00"}`)
	f.Fuzz(func(t *testing.T, s string) {
		var e liftrescue.Elevator
		if json.Unmarshal([]byte(s), &e) != nil {
			return
		}
		if e.Validate() != nil {
			return
		}
		if math.IsNaN(e.Lat) || e.Lat < -90 || e.Lat > 90 || e.Lon < -180 || e.Lon > 180 || !liftrescue.IsRescueCode(e.RescueCode) {
			t.Fatalf("Validate accepted %+v", e)
		}
		if _, err := json.Marshal(e); err != nil {
			t.Fatalf("a valid elevator does not marshal: %v", err)
		}
	})
}

func FuzzDistrictJSON(f *testing.F) {
	f.Add(`{"code":"370402","name":"市中区","outline":{"type":"Polygon","coordinates":[[[117.2,34.7],[117.3,34.7],[117.3,34.8],[117.2,34.7]]]}}`)
	f.Add(`{"code":"370402","name":"x","outline":{"type":"MultiPolygon","coordinates":[[[[1,2],[3,4]]]]}}`)
	f.Add(`{"outline":{"type":"GeometryCollection","geometries":[]}}`)
	f.Add(`{"outline":{"type":"Polygon","coordinates":[[[1]]]}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var d liftrescue.District
		if json.Unmarshal([]byte(s), &d) != nil || d.Validate() != nil {
			return
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatalf("a valid district does not marshal: %v", err)
		}
		var again liftrescue.District
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("round trip: %v\n%s", err, b)
		}
	})
}

func FuzzParseBBox(f *testing.F) {
	f.Add("117.5,34.8,117.6,34.9")
	f.Add("NaN,0,1,1")
	f.Add("-180,-90,180,90")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := liftrescue.ParseBBox(s)
		if err != nil {
			if liftrescue.ErrorCode(err) != liftrescue.EINVALID {
				t.Fatalf("error code %q", liftrescue.ErrorCode(err))
			}
			return
		}
		if !(b.MinLon <= b.MaxLon && b.MinLat <= b.MaxLat && b.MinLon >= -180 && b.MaxLon <= 180 && b.MinLat >= -90 && b.MaxLat <= 90) {
			t.Fatalf("accepted %+v", b)
		}
	})
}

func FuzzDecodeCursor(f *testing.F) {
	f.Add(liftrescue.EncodeCursor(42))
	f.Add("garbage")
	f.Fuzz(func(t *testing.T, s string) {
		id, err := liftrescue.DecodeCursor(s)
		if err == nil && id < 0 {
			t.Fatalf("negative id %d from %q", id, s)
		}
		if err == nil && s != "" && liftrescue.EncodeCursor(id) != s {
			// Several spellings may decode alike; what matters is that ours round-trips.
			if again, _ := liftrescue.DecodeCursor(liftrescue.EncodeCursor(id)); again != id {
				t.Fatalf("cursor %d does not round-trip", id)
			}
		}
	})
}

func FuzzReadPolicy(f *testing.F) {
	f.Add(`{}`)
	f.Add(`{"ack_timeout":"90s","arrive_timeout":"45m","rural_arrive_timeout":"1h","tier2_ack_timeout":"3m","tier3_ack_timeout":"5m","manual_dispatch":true,"arrival_radius_m":150,"responder_link_ttl":"24h","candidate_limit":10,"districts":{"370481":{"ack_timeout":"2m","arrive_timeout":"1h"}}}`)
	f.Add(`{"ack_timeout":300}`)
	f.Add(`{"arrive_timeout":"-30m"}`)
	f.Add(`{"districts":{"3704":{}}}`)
	f.Add(`{"arrival_radius_m":1e400}`)
	f.Fuzz(func(t *testing.T, s string) {
		p, err := liftrescue.ReadPolicy([]byte(s))
		if err != nil {
			if liftrescue.ErrorCode(err) != liftrescue.EINVALID {
				t.Fatalf("error code %q: %v", liftrescue.ErrorCode(err), err)
			}
			return
		}
		again := p
		if err := again.Validate(); err != nil {
			t.Fatalf("an accepted policy does not validate again: %v\n%+v", err, p)
		}
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatalf("an accepted policy does not marshal: %v", err)
		}
		if _, err := liftrescue.ReadPolicy(b); err != nil {
			t.Fatalf("round trip: %v\n%s", err, b)
		}
	})
}

package api_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// benchElevators adds n elevators to the world and returns their equipment codes.
func benchElevators(b *testing.B, w *rescueWorld, n int) []string {
	b.Helper()
	codes := make([]string, n)
	for i := range n {
		e := *w.Elevator
		e.ID, e.RescueCode, e.EquipmentCode = 0, fmt.Sprintf("%06d", 500000+i), fmt.Sprintf("311037040020250%05d", i)
		e.Lat += float64(i%100) * 0.0005
		if err := w.Store.CreateElevator(w.Ctx, &e); err != nil {
			b.Fatal(err)
		}
		codes[i] = e.EquipmentCode
	}
	return codes
}

func alarmJSON(code string, at time.Time) string {
	return fmt.Sprintf(`{"equipment_code":%q,"namespace":"gbt24476","code":"93","time":%q}`, code, at.Format(time.RFC3339))
}

// BenchmarkAlarmOpensIncident: one trapped alarm posted for an elevator without an incident, to
// the incident open and tier 1's messages queued (the answer), over the API on SQLite.
func BenchmarkAlarmOpensIncident(b *testing.B) {
	w := newRescueWorld(b)
	codes := benchElevators(b, w, 5000)
	var lat []time.Duration
	for i := 0; b.Loop(); i++ {
		if i == len(codes) {
			b.Fatalf("more than %d alarms: use -benchtime Nx with a smaller N", len(codes))
		}
		body := `{"alarms":[` + alarmJSON(codes[i], w.Clock.Now()) + `]}`
		start := time.Now()
		rec := w.do("POST", "/api/v1/alarms", body)
		lat = append(lat, time.Since(start))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"outcome":"opened"`) {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}

// BenchmarkAlarmBatches: batches of 1,000 reports from 100 elevators, ten repeats each, all but
// the first of each elevator collapsed, over the API on SQLite.
func BenchmarkAlarmBatches(b *testing.B) {
	w := newRescueWorld(b)
	codes := benchElevators(b, w, 100)
	items := make([]string, 0, 1000)
	for r := range 10 {
		for _, c := range codes {
			items = append(items, alarmJSON(c, w.Clock.Now().Add(time.Duration(r)*time.Second)))
		}
	}
	body := `{"alarms":[` + strings.Join(items, ",") + `]}`
	n := 0
	for b.Loop() {
		rec := w.do("POST", "/api/v1/alarms", body)
		if rec.Code != http.StatusOK {
			b.Fatalf("%d %s", rec.Code, rec.Body)
		}
		n += len(items)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "alarms/s")
	var open liftrescue.Page[liftrescue.Incident]
	if err := json.Unmarshal(w.do("GET", "/api/v1/incidents?open=true&limit=1000", "").Body.Bytes(), &open); err != nil {
		b.Fatal(err)
	}
	if open.Total != len(codes) {
		b.Fatalf("%d incidents open, want one per elevator: %d", open.Total, len(codes))
	}
}

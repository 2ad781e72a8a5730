package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/api"
	"github.com/liftrescue/liftrescue/demo"
	"github.com/liftrescue/liftrescue/gps"
	"github.com/liftrescue/liftrescue/store/postgres"
	"github.com/liftrescue/liftrescue/store/postgres/pgtest"
)

// hostileText is what an attacker, or a careless integration, puts in text fields: SQL and script
// injections, a NUL, direction overrides and zero-width characters, template and format verbs, and
// more text than any field takes. None has surrounding white space, which fields trim.
var hostileText = []struct{ name, s string }{
	{"SQL", "'; DROP TABLE elevators; --"},
	{"script", "<script>alert(1)</script>"},
	{"SQL or", `" OR 1=1 --`},
	{"SQL without spaces", "'OR'1'='1'--"}, // for codes that take no spaces
	{"script without spaces", "<img/src/onerror=alert(1)>"},
	{"NUL", "nul\x00byte"},
	{"bidi and zero-width", "\u202eevil\u200b\u200d\ufeff.exe"}, // right-to-left override, zero-width space and joiner, BOM
	{"template and format", `{{.}} ${jndi:ldap://x} %s%n\u0000 \"`},
	{"100,000 characters", strings.Repeat("梯", 100_000)},
}

// hostile is a server under attack: `liftrescue serve` on a seeded demo city with its tracker
// ports, and a client of its own that shares no connection with the attacks.
type hostile struct {
	*liveServer
	key     string
	others  *http.Client          // another client: a new connection for every request
	anon    *http.Client          // no credential at all
	el      liftrescue.Elevator   // a demo elevator that registrations copy
	free    []liftrescue.Elevator // demo elevators without an incident, for opening one each
	created struct{ elevators, orgs int }
	serial  int       // makes codes and usernames unique
	start   time.Time // the time of the first position reported over JT/T 808
	reports int       // positions reported over JT/T 808
}

func TestHostileInput(t *testing.T) {
	if testing.Short() {
		t.Skip("attacks a real server for a few seconds on each store")
	}
	onEachStore(t, 120, testHostileInput)
}

// onEachStore runs test on a seeded demo city of the elevators in each store: the embedded
// database in data, and PostgreSQL when LIFTRESCUE_TEST_POSTGRES names a server (the subtest skips
// without it, or fails when LIFTRESCUE_REQUIRE_POSTGRES=1). Serve command lines started with the
// data directory then use that store.
func onEachStore(t *testing.T, elevators int, test func(t *testing.T, data string)) {
	ctx := context.Background()
	city := demo.Config{Elevators: elevators}
	t.Run("sqlite", func(t *testing.T) {
		data := t.TempDir()
		if err := seedDemoFile(ctx, filepath.Join(data, "liftrescue.db"), city, false, io.Discard); err != nil {
			t.Fatal(err)
		}
		test(t, data)
	})
	t.Run("postgres", func(t *testing.T) {
		url := pgtest.MustDatabase(t)
		db, err := postgres.Open(ctx, url, postgres.Options{})
		if err != nil {
			t.Fatal(err)
		}
		err = seedCity(ctx, db, city, io.Discard)
		if cerr := db.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		// --db from the environment: the serve command lines, `key add` and `verify` all take it.
		t.Setenv("LIFTRESCUE_DB", url)
		test(t, t.TempDir())
	})
}

func testHostileInput(t *testing.T, data string) {
	// The suite's own requests come faster than an API key's 200 a second; a 429 is not what it
	// tests.
	t.Setenv("LIFTRESCUE_KEY_RATE", "100000")
	h := &hostile{liveServer: startLive(t, data)}
	h.key = keyOf(t, h.base)
	h.start = time.Now().Add(-time.Minute)
	h.others = &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	h.anon = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{}}
	var els liftrescue.Page[liftrescue.Elevator]
	h.call(t, "GET", "/api/v1/elevators?limit=1000", nil, &els, 200)
	h.el, h.free = els.Items[0], els.Items[1:]
	before := h.totals(t)

	t.Run("text fields", h.textFields)
	t.Run("responder page escapes", h.responderPage)
	t.Run("query parameters", h.queryParams)
	t.Run("anonymous writes", h.anonymousWrites)
	t.Run("deep JSON", h.deepJSON)
	t.Run("huge bodies", h.hugeBodies)
	t.Run("slow clients", h.slowClients)
	t.Run("half-open connections", h.halfOpen)
	t.Run("JT/T 808 garbage", h.jt808Garbage)

	// Every table is still there and holds what it held, plus what the suite added.
	after := h.totals(t)
	if want := before["elevators"] + h.created.elevators; after["elevators"] != want {
		t.Errorf("%d elevators after the attacks, want %d (%d before, %d made)", after["elevators"], want, before["elevators"], h.created.elevators)
	}
	if want := before["organizations"] + h.created.orgs; after["organizations"] != want {
		t.Errorf("%d organisations after the attacks, want %d", after["organizations"], want)
	}
	for _, name := range []string{"teams", "vehicles", "districts"} {
		if after[name] != before[name] {
			t.Errorf("%d %s after the attacks, want %d", after[name], name, before[name])
		}
	}
	for _, path := range []string{"/readyz", "/api/v1/users", "/api/v1/keys", "/api/v1/audit?limit=1", "/api/v1/alarms/quarantine"} {
		h.call(t, "GET", path, nil, nil, 200)
	}
	var out bytes.Buffer
	if err := run(context.Background(), []string{"verify", "--data", data, "--log-level", "error"}, &out, io.Discard); err != nil {
		t.Errorf("verify after the attacks: %v\n%s", err, out.String())
	}
}

// totals counts the rows of the registry's tables through the API.
func (h *hostile) totals(t *testing.T) map[string]int {
	t.Helper()
	out := map[string]int{}
	for name, path := range map[string]string{"elevators": "/api/v1/elevators?limit=1", "organizations": "/api/v1/organizations?limit=1",
		"teams": "/api/v1/teams?limit=1", "vehicles": "/api/v1/vehicles", "districts": "/api/v1/districts", "incidents": "/api/v1/incidents?limit=1"} {
		var page liftrescue.Page[json.RawMessage]
		h.call(t, "GET", path, nil, &page, 200)
		out[name] = page.Total
	}
	return out
}

// answersOthers checks that the server still serves another client at once, on a new connection:
// the health check, and a list of incidents with the API key, each within 2 s.
func (h *hostile) answersOthers(t *testing.T, during string) {
	t.Helper()
	for _, path := range []string{"/healthz", "/api/v1/incidents?limit=1"} {
		req, _ := http.NewRequest("GET", h.base+path, nil)
		req.Header.Set("Authorization", "Bearer "+h.key)
		start := time.Now()
		res, err := h.others.Do(req)
		if err != nil {
			t.Fatalf("%s: another client's GET %s: %v", during, path, err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			t.Fatalf("%s: another client's GET %s = %d after %s", during, path, res.StatusCode, time.Since(start))
		}
	}
}

// send makes a request with the server's key (unless header says otherwise) and returns the status
// and the body of the answer.
func (h *hostile) send(t *testing.T, method, path string, in any, header http.Header) (int, []byte) {
	t.Helper()
	var body io.Reader
	switch v := in.(type) {
	case nil:
	case string:
		body = strings.NewReader(v)
	default:
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, shortText(path), err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", method, shortText(path), err)
	}
	return res.StatusCode, raw
}

// checkRefusal fails unless the answer is a refusal a client can act on: a 4xx whose body is the
// JSON error with a code and a message.
func checkRefusal(t *testing.T, what string, status int, raw []byte) {
	t.Helper()
	var e struct {
		Error struct{ Code, Message string }
	}
	if status < 400 || status >= 500 || json.Unmarshal(raw, &e) != nil || e.Error.Code == "" || e.Error.Message == "" {
		t.Errorf("%s = %d %s, want a 4xx JSON error with a code and a message", what, status, shortText(string(raw)))
	}
}

func shortText(s string) string {
	if len(s) > 200 {
		return s[:200] + fmt.Sprintf("…(%d bytes)", len(s))
	}
	return s
}

// textField is a text field of the API: write sends a value in it and returns the answer; read
// returns the value stored, as the API shows it after a successful write.
type textField struct {
	name  string
	write func(t *testing.T, v string) (int, []byte)
	read  func(t *testing.T, answer []byte) string
}

// textFields puts every hostile string in every text field: each is refused with a JSON error or
// stored and shown back byte for byte.
func (h *hostile) textFields(t *testing.T) {
	district := h.el.District
	var note, decline *liftrescue.Incident // an incident to write notes on, one whose link to decline with
	for _, f := range []textField{
		{"organization name", func(t *testing.T, v string) (int, []byte) {
			return h.createOrg(t, map[string]any{"kind": "maintenance", "name": v, "district": district})
		}, h.readOrg(func(o liftrescue.Organization) string { return o.Name })},
		{"organization address", func(t *testing.T, v string) (int, []byte) {
			return h.createOrg(t, map[string]any{"kind": "maintenance", "name": "hostile", "district": district, "address": v})
		}, h.readOrg(func(o liftrescue.Organization) string { return o.Address })},
		{"elevator address", func(t *testing.T, v string) (int, []byte) { return h.createElevator(t, map[string]any{"address": v}) },
			h.readElevator(func(e liftrescue.Elevator) string { return e.Address })},
		{"elevator building", func(t *testing.T, v string) (int, []byte) { return h.createElevator(t, map[string]any{"building": v}) },
			h.readElevator(func(e liftrescue.Elevator) string { return e.Building })},
		{"elevator manufacturer", func(t *testing.T, v string) (int, []byte) {
			return h.createElevator(t, map[string]any{"manufacturer": v})
		}, h.readElevator(func(e liftrescue.Elevator) string { return e.Manufacturer })},
		{"incident note", func(t *testing.T, v string) (int, []byte) { return h.openIncident(t, map[string]any{"note": v}) },
			h.readIncident(func(inc liftrescue.Incident) string { return inc.Note })},
		{"incident caller_phone", func(t *testing.T, v string) (int, []byte) {
			return h.openIncident(t, map[string]any{"caller_phone": v})
		},
			h.readIncident(func(inc liftrescue.Incident) string { return inc.CallerPhone })},
		{"note action", func(t *testing.T, v string) (int, []byte) {
			if note == nil {
				note = h.mustOpen(t)
			}
			return h.act(t, note.ID, map[string]any{"action": "note", "note": v})
		}, h.readEvent("note", false)},
		{"cancel note", func(t *testing.T, v string) (int, []byte) {
			return h.act(t, h.mustOpen(t).ID, map[string]any{"action": "cancel", "cancel_reason": "false_alarm", "note": v})
		}, h.readEvent("cancelled", false)},
		{"escalate reason", func(t *testing.T, v string) (int, []byte) {
			return h.act(t, h.mustOpen(t).ID, map[string]any{"action": "escalate", "reason": v})
		}, h.readEvent("escalated", true)},
		{"responder decline reason", func(t *testing.T, v string) (int, []byte) {
			if decline == nil {
				decline = h.mustOpen(t)
			}
			token := h.link(t, decline.ID, 1)
			status, raw := h.send(t, "POST", "/r/"+token, map[string]any{"action": "decline", "reason": v}, http.Header{"Accept": {"application/json"}})
			if status < 300 {
				// The link is used up: the next value goes to a new incident's.
				var view liftrescue.ResponderView
				json.Unmarshal(raw, &view)
				_, raw = h.send(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", view.IncidentID), nil, nil)
				decline = nil
			}
			return status, raw
		}, func(t *testing.T, answer []byte) string {
			var inc liftrescue.Incident
			json.Unmarshal(answer, &inc)
			return inc.Assignments[0].Reason
		}},
		{"user name", func(t *testing.T, v string) (int, []byte) {
			h.serial++
			return h.send(t, "POST", "/api/v1/users", map[string]any{"username": fmt.Sprintf("hostile%d", h.serial), "name": v,
				"role": "dispatcher", "password": "hostile-password-2026"}, nil)
		}, func(t *testing.T, answer []byte) string {
			var u liftrescue.User
			json.Unmarshal(answer, &u)
			_, raw := h.send(t, "GET", fmt.Sprintf("/api/v1/users/%d", u.ID), nil, nil)
			json.Unmarshal(raw, &u)
			return u.Name
		}},
		{"API key name", func(t *testing.T, v string) (int, []byte) {
			return h.send(t, "POST", "/api/v1/keys", map[string]any{"name": v, "scopes": []string{"read"}}, nil)
		}, func(t *testing.T, answer []byte) string {
			var made api.NewKey
			json.Unmarshal(answer, &made)
			var keys liftrescue.Page[liftrescue.APIKey]
			h.call(t, "GET", "/api/v1/keys", nil, &keys, 200)
			for _, k := range keys.Items {
				if k.ID == made.APIKey.ID {
					return k.Name
				}
			}
			return "(key not listed)"
		}},
	} {
		t.Run(f.name, func(t *testing.T) {
			var stored, refused []string
			for _, v := range hostileText {
				status, raw := f.write(t, v.s)
				if status >= 300 {
					checkRefusal(t, fmt.Sprintf("%s %q", f.name, shortText(v.s)), status, raw)
					refused = append(refused, fmt.Sprintf("%s (%d)", v.name, status))
					continue
				}
				stored = append(stored, v.name)
				if got := f.read(t, raw); got != v.s {
					t.Errorf("%s %q was stored as %q", f.name, shortText(v.s), shortText(got))
				}
			}
			t.Logf("stored as sent: %s; refused: %s", strings.Join(stored, ", "), strings.Join(refused, ", "))
			h.answersOthers(t, f.name)
		})
	}
	t.Run("alarm code", func(t *testing.T) { h.alarmText(t, "code") })
	t.Run("alarm terminal_id", func(t *testing.T) { h.alarmText(t, "terminal_id") })
}

func (h *hostile) createOrg(t *testing.T, body map[string]any) (int, []byte) {
	h.serial++
	body["code"] = fmt.Sprintf("HOSTILE-%d", h.serial)
	status, raw := h.send(t, "POST", "/api/v1/organizations", body, nil)
	if status < 300 {
		h.created.orgs++
	}
	return status, raw
}

func (h *hostile) readOrg(field func(liftrescue.Organization) string) func(*testing.T, []byte) string {
	return func(t *testing.T, answer []byte) string {
		var o liftrescue.Organization
		json.Unmarshal(answer, &o)
		h.call(t, "GET", fmt.Sprintf("/api/v1/organizations/%d", o.ID), nil, &o, 200)
		return field(o)
	}
}

// createElevator registers a copy of a demo elevator under new codes, with the fields given.
func (h *hostile) createElevator(t *testing.T, fields map[string]any) (int, []byte) {
	h.serial++
	e := h.el
	body := map[string]any{"rescue_code": fmt.Sprintf("97%06d", h.serial), "equipment_code": fmt.Sprintf("99%018d", h.serial),
		"address": e.Address, "building": e.Building, "district": e.District, "lat": e.Lat, "lon": e.Lon, "kind": e.Kind,
		"user_unit_id": e.UserUnitID, "maintenance_unit_id": e.MaintenanceUnitID}
	for k, v := range fields {
		body[k] = v
	}
	status, raw := h.send(t, "POST", "/api/v1/elevators", body, nil)
	if status < 300 {
		h.created.elevators++
	}
	return status, raw
}

func (h *hostile) readElevator(field func(liftrescue.Elevator) string) func(*testing.T, []byte) string {
	return func(t *testing.T, answer []byte) string {
		var e liftrescue.Elevator
		json.Unmarshal(answer, &e)
		h.call(t, "GET", "/api/v1/elevators/"+e.RescueCode, nil, &e, 200)
		return field(e)
	}
}

// openIncident opens an incident on the next free demo elevator, with the fields given.
func (h *hostile) openIncident(t *testing.T, fields map[string]any) (int, []byte) {
	t.Helper()
	if len(h.free) == 0 {
		t.Fatal("no demo elevator left without an incident")
	}
	body := map[string]any{"elevator": h.free[0].RescueCode, "trapped": 1}
	for k, v := range fields {
		body[k] = v
	}
	status, raw := h.send(t, "POST", "/api/v1/incidents", body, nil)
	if status < 300 {
		h.free = h.free[1:]
	}
	return status, raw
}

func (h *hostile) mustOpen(t *testing.T) *liftrescue.Incident {
	t.Helper()
	status, raw := h.openIncident(t, nil)
	var inc liftrescue.Incident
	if status != 201 || json.Unmarshal(raw, &inc) != nil {
		t.Fatalf("open an incident = %d %s", status, shortText(string(raw)))
	}
	return &inc
}

func (h *hostile) act(t *testing.T, id int64, action map[string]any) (int, []byte) {
	return h.send(t, "POST", fmt.Sprintf("/api/v1/incidents/%d/actions", id), action, nil)
}

func (h *hostile) readIncident(field func(liftrescue.Incident) string) func(*testing.T, []byte) string {
	return func(t *testing.T, answer []byte) string {
		var inc liftrescue.Incident
		json.Unmarshal(answer, &inc)
		h.call(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", inc.ID), nil, &inc, 200)
		return field(inc)
	}
}

// readEvent reads the text of the incident's last event of the kind (its first, with first), as
// the record keeps it.
func (h *hostile) readEvent(kind string, first bool) func(*testing.T, []byte) string {
	return h.readIncident(func(inc liftrescue.Incident) string {
		text := ""
		for _, ev := range inc.Timeline {
			if ev.Kind == kind {
				if text = ev.Text; first {
					return text
				}
			}
		}
		if text != "" {
			return text
		}
		return fmt.Sprintf("(no %s event in %v)", kind, eventKinds(inc))
	})
}

// link returns the responder token the incident's assignment was sent, as the unit's text has it.
func (h *hostile) link(t *testing.T, id int64, assignment int) string {
	t.Helper()
	var inc incident
	h.call(t, "GET", fmt.Sprintf("/api/v1/incidents/%d", id), nil, &inc, 200)
	token := responderToken(&inc, assignment)
	if token == "" {
		t.Fatalf("incident %d sent assignment %d no responder link: %+v", id, assignment, inc.Notifications)
	}
	return token
}

// alarmText sends each hostile string as a field of a terminal's report about an elevator nobody
// registered: refused by index, or quarantined and shown back as sent.
func (h *hostile) alarmText(t *testing.T, field string) {
	var stored, refused []string
	for i, text := range hostileText {
		v := text.s
		report := map[string]any{"namespace": "gbt24476", "code": "93", "time": time.Now().UTC().Format(time.RFC3339),
			"equipment_code": fmt.Sprintf("98%018d", i)}
		if field == "terminal_id" {
			delete(report, "equipment_code")
		}
		report[field] = v
		status, raw := h.send(t, "POST", "/api/v1/alarms", map[string]any{"alarms": []any{report}}, nil)
		if status >= 300 {
			checkRefusal(t, "alarm "+field+" "+strconv.Quote(shortText(v)), status, raw)
			refused = append(refused, fmt.Sprintf("%s (%d)", text.name, status))
			continue
		}
		var reply struct {
			Accepted int
			Rejected []liftrescue.Detail
		}
		if err := json.Unmarshal(raw, &reply); err != nil {
			t.Fatalf("alarm %s %q: answer %s: %v", field, shortText(v), shortText(string(raw)), err)
		}
		if len(reply.Rejected) == 1 && reply.Accepted == 0 && reply.Rejected[0].Field == field {
			refused = append(refused, text.name+" (by index)")
			continue
		}
		stored = append(stored, text.name)
		var q liftrescue.Page[liftrescue.QuarantinedAlarm]
		h.call(t, "GET", "/api/v1/alarms/quarantine", nil, &q, 200)
		found := false
		for _, a := range q.Items {
			got := a.Code
			if field == "terminal_id" {
				got = a.TerminalID
			}
			found = found || got == v
		}
		if !found {
			t.Errorf("alarm %s %q: answered %s but not quarantined as sent", field, shortText(v), shortText(string(raw)))
		}
	}
	t.Logf("quarantined as sent: %s; refused: %s", strings.Join(stored, ", "), strings.Join(refused, ", "))
	h.answersOthers(t, "alarm "+field)
}

// The responder's phone page shows the elevator's address and the unit's name, which the registry
// took from whoever wrote them: the page must show them as text, never run them.
func (h *hostile) responderPage(t *testing.T) {
	const script = "<script>alert(1)</script>"
	const img = `"><img src=x onerror=alert(1)>`
	status, raw := h.createOrg(t, map[string]any{"kind": "user_unit", "name": script, "district": h.el.District, "duty_phones": []string{"13800138000"}})
	var unit liftrescue.Organization
	if status != 201 || json.Unmarshal(raw, &unit) != nil {
		t.Fatalf("register a unit named %s = %d %s", script, status, raw)
	}
	status, raw = h.createElevator(t, map[string]any{"address": script, "building": img, "user_unit_id": unit.ID})
	var el liftrescue.Elevator
	if status != 201 || json.Unmarshal(raw, &el) != nil {
		t.Fatalf("register an elevator at %s = %d %s", script, status, raw)
	}
	var inc liftrescue.Incident
	h.call(t, "POST", "/api/v1/incidents", map[string]any{"elevator": el.RescueCode}, &inc, 201)
	assignment := 0
	for _, a := range inc.Assignments {
		if a.Unit.OrganizationID == unit.ID {
			assignment = a.ID
		}
	}
	token := h.link(t, inc.ID, assignment)

	// As the unit's phone opens it: no credential, a browser's Accept.
	req, _ := http.NewRequest("GET", h.base+"/r/"+token, nil)
	req.Header.Set("Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	res, err := h.anon.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /r/… as a browser = %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, bad := range []string{script, "<img src=x"} {
		if bytes.Contains(page, []byte(bad)) {
			t.Errorf("the responder page holds %q unescaped:\n%s", bad, page)
		}
	}
	for _, want := range []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "&lt;img src=x onerror=alert(1)&gt;"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("the responder page does not show the stored text as %q", want)
		}
	}
	// The same link answers JSON with the text as stored.
	var view liftrescue.ResponderView
	req, _ = http.NewRequest("GET", h.base+"/r/"+token, nil)
	req.Header.Set("Accept", "application/json")
	if status := doJSON(t, req, &view); status != 200 || view.Elevator.Address != script || view.Elevator.Building != img || view.Assignment.Unit.OrganizationName != script {
		t.Errorf("GET /r/… as JSON = %d %+v", status, view)
	}
}

// Query parameters carry the same strings: each list answers a page that only holds what matches,
// or a JSON error.
func (h *hostile) queryParams(t *testing.T) {
	values := []string{"%", "_", strings.Repeat("x'", 2000)}
	for _, v := range hostileText[:len(hostileText)-1] { // the longest does not fit in a request line
		values = append(values, v.s)
	}
	all := h.totals(t)
	for _, q := range []struct{ path, param string }{
		{"/api/v1/elevators", "q"}, {"/api/v1/elevators", "district"}, {"/api/v1/elevators", "cursor"}, {"/api/v1/elevators", "bbox"},
		{"/api/v1/organizations", "q"}, {"/api/v1/organizations", "district"}, {"/api/v1/organizations", "kind"},
		{"/api/v1/incidents", "state"}, {"/api/v1/incidents", "district"}, {"/api/v1/incidents", "cursor"}, {"/api/v1/incidents", "open"},
		{"/api/v1/audit", "actor"}, {"/api/v1/audit", "since"}, {"/api/v1/vehicles/1/track", "from"},
	} {
		for _, v := range values {
			path := q.path + "?" + url.Values{q.param: {v}}.Encode()
			status, raw := h.send(t, "GET", path, nil, nil)
			what := fmt.Sprintf("GET %s?%s=%q", q.path, q.param, shortText(v))
			if status != 200 {
				checkRefusal(t, what, status, raw)
				continue
			}
			var page struct {
				Items []map[string]any `json:"items"`
				Total int              `json:"total"`
			}
			if err := json.Unmarshal(raw, &page); err != nil {
				t.Errorf("%s: %v: %s", what, err, shortText(string(raw)))
				continue
			}
			if q.param != "q" {
				continue
			}
			// q finds what has it in its codes, name, address or building, and nothing else: no
			// wildcard and no quote widens the search.
			kind := strings.TrimPrefix(q.path, "/api/v1/")
			if page.Total >= all[kind] {
				t.Errorf("%s found all %d %s", what, page.Total, kind)
			}
			for _, item := range page.Items {
				if !matchesQ(item, v) {
					t.Errorf("%s found %v, which does not hold it", what, item)
				}
			}
		}
	}
	h.answersOthers(t, "query parameters")
}

func matchesQ(item map[string]any, q string) bool {
	for _, k := range []string{"rescue_code", "equipment_code", "code"} {
		if s, _ := item[k].(string); strings.HasPrefix(strings.ToLower(s), strings.ToLower(q)) {
			return true
		}
	}
	for _, k := range []string{"address", "building", "name"} {
		if s, _ := item[k].(string); strings.Contains(strings.ToLower(s), strings.ToLower(q)) {
			return true
		}
	}
	return false
}

// Every write of the API, tried without a credential, is refused with 401 and changes nothing.
// The routes come from the OpenAPI document, which the route table writes; public routes check a
// credential of their own (a device secret, a responder link, a password) and are refused too.
func (h *hostile) anonymousWrites(t *testing.T) {
	var doc struct {
		Paths map[string]map[string]struct {
			Security *[]any `json:"security"`
		} `json:"paths"`
	}
	res, err := h.anon.Get(h.base + "/api/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(res.Body).Decode(&doc)
	res.Body.Close()
	if err != nil || len(doc.Paths) == 0 {
		t.Fatalf("GET /api/openapi.json anonymously: %d %v", res.StatusCode, err)
	}
	before := h.totals(t)
	// Path parameters name things that exist, and bodies are ones the route would take, so that a
	// write that got through would show.
	tracker := h.tracked(t)
	tracker.DeviceSecret = "" // a PUT that got through would take it away
	params := strings.NewReplacer("/vehicles/{id}", fmt.Sprintf("/vehicles/%d", tracker.ID), "{code}", h.el.RescueCode, "{id}", "1",
		"{token}", strings.Repeat("a", 32))
	bodies := map[string]any{
		"POST /api/v1/positions": map[string]any{"positions": []any{map[string]any{"device_id": tracker.DeviceID,
			"lat": 34.86, "lon": 117.55, "time": time.Now().UTC().Format(time.RFC3339)}}},
		"POST /api/v1/session":       map[string]any{"username": "admin", "password": "not-the-password"},
		"POST /api/v1/incidents":     map[string]any{"elevator": h.free[0].RescueCode},
		"POST /api/v1/organizations": map[string]any{"code": "ANON-1", "kind": "maintenance", "name": "anon", "district": h.el.District},
		"PUT /api/v1/vehicles/{id}":  tracker,
	}
	writes := 0
	for path, ops := range doc.Paths {
		for method, op := range ops {
			method = strings.ToUpper(method)
			if method == "GET" || method == "HEAD" {
				continue
			}
			writes++
			body, ok := bodies[method+" "+path]
			if !ok {
				body = map[string]any{}
			}
			b, _ := json.Marshal(body)
			req, _ := http.NewRequest(method, h.base+params.Replace(path), bytes.NewReader(b))
			req.Header.Set("Content-Type", "application/json")
			res, err := h.anon.Do(req)
			if err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			raw, _ := io.ReadAll(res.Body)
			res.Body.Close()
			public := op.Security != nil && len(*op.Security) == 0
			var positions struct{ Accepted int }
			switch {
			case !public && res.StatusCode != http.StatusUnauthorized:
				t.Errorf("anonymous %s %s = %d %s, want 401", method, path, res.StatusCode, shortText(string(raw)))
			case path == "/api/v1/positions" && res.StatusCode == 200:
				// A batch is answered fix by fix: the one without its device secret is refused.
				if json.Unmarshal(raw, &positions); positions.Accepted != 0 {
					t.Errorf("anonymous POST %s = %s: a fix without its device secret was taken", path, raw)
				}
			case res.StatusCode < 400:
				t.Errorf("anonymous %s %s (public, checks its own credential) = %d %s", method, path, res.StatusCode, shortText(string(raw)))
			default:
				checkRefusal(t, "anonymous "+method+" "+path, res.StatusCode, raw)
			}
		}
	}
	if writes < 20 {
		t.Errorf("the OpenAPI document lists %d writes; the route table has more", writes)
	}
	if after := h.totals(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("anonymous writes changed the registry: %v, was %v", after, before)
	}
	var keys liftrescue.Page[liftrescue.APIKey]
	h.call(t, "GET", "/api/v1/keys", nil, &keys, 200)
	for _, k := range keys.Items {
		if k.ID == 1 && k.RevokedAt != nil {
			t.Errorf("an anonymous DELETE /api/v1/keys/1 revoked key %s", k.Name)
		}
	}
	var v liftrescue.Vehicle
	if h.call(t, "GET", fmt.Sprintf("/api/v1/vehicles/%d", tracker.ID), nil, &v, 200); v.DeviceSecret == "" {
		t.Errorf("an anonymous PUT of vehicle %d took its device secret away", tracker.ID)
	}
}

// Nesting a hundred thousand deep, of arrays and of objects, where a body or a member is expected:
// a JSON error, not a crash or a stack overflow.
func (h *hostile) deepJSON(t *testing.T) {
	const depth = 100_000
	arrays := strings.Repeat("[", depth) + strings.Repeat("]", depth)
	objects := strings.Repeat(`{"a":`, depth) + "1" + strings.Repeat("}", depth)
	for _, body := range []struct{ name, s string }{
		{"arrays", arrays}, {"objects", objects}, {"unclosed arrays", strings.Repeat("[", depth)},
	} {
		for _, route := range []struct{ path, wrap string }{
			{"/api/v1/incidents", "%s"}, {"/api/v1/incidents", `{"elevator":%s}`},
			{"/api/v1/alarms", "%s"}, {"/api/v1/alarms", `{"alarms":[%s]}`}, {"/api/v1/alarms", `{"alarms":[{"equipment_code":%s}]}`},
			{"/api/v1/positions", `{"positions":%s}`},
		} {
			status, raw := h.send(t, "POST", route.path, fmt.Sprintf(route.wrap, body.s), http.Header{"Content-Type": {"application/json"}})
			what := fmt.Sprintf("POST %s %s nested %s", route.path, route.wrap, body.name)
			if status == 200 && route.path == "/api/v1/alarms" {
				// One report that cannot be read is named by index; the batch is answered.
				var reply struct{ Accepted int }
				if json.Unmarshal(raw, &reply) != nil || reply.Accepted != 0 {
					t.Errorf("%s = %d %s", what, status, shortText(string(raw)))
				}
				continue
			}
			checkRefusal(t, what, status, raw)
		}
	}
	h.answersOthers(t, "deep JSON")
}

// patternReader reads n bytes of line repeated, without holding them: a 100 MB body costs nothing.
type patternReader struct {
	block []byte
	n     int64
	off   int
}

func newPatternReader(line string, n int64) *patternReader {
	return &patternReader{block: bytes.Repeat([]byte(line), 64<<10/len(line)+1)[:len(line)*(64<<10/len(line))], n: n}
}

func (r *patternReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	n := 0
	for n < len(p) {
		c := copy(p[n:], r.block[r.off:])
		n += c
		r.off = (r.off + c) % len(r.block)
	}
	r.n -= int64(n)
	return n, nil
}

// postHuge streams a body of size bytes to path on a connection of its own, with its length
// declared or chunked, and returns the status of the answer, its body, and how many bytes of the
// body had been sent when the answer came: the measure of "refused before it was all sent" that
// does not depend on how busy the machine is.
func (h *hostile) postHuge(t *testing.T, path, contentType, line string, size int64, chunked bool) (int, []byte, int64) {
	t.Helper()
	u, _ := url.Parse(h.base)
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Minute)) // a hang, not a slow machine
	framing := "Content-Length: " + strconv.FormatInt(size, 10)
	if chunked {
		framing = "Transfer-Encoding: chunked"
	}
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: %s\r\n%s\r\n\r\n", path, u.Host, h.key, contentType, framing)
	body := &countingWriter{w: conn}
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		var w io.Writer = body
		if chunked {
			cw := httputil.NewChunkedWriter(body)
			defer cw.Close()
			w = cw
		}
		io.Copy(w, newPatternReader(line, size)) // ends with an error once the server hangs up
	}()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("POST %s with a %d MB body: no answer after %d MB sent: %v", path, size>>20, body.n.Load()>>20, err)
	}
	written := body.n.Load()
	raw, _ := io.ReadAll(res.Body)
	conn.Close()
	<-sent
	return res.StatusCode, raw, written
}

// countingWriter counts the bytes its writer took.
type countingWriter struct {
	w io.Writer
	n atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n.Add(int64(n))
	return n, err
}

// A 100 MB body, declared or streamed, is refused with 413 long before it is all sent (a declared
// length at once, a stream once it passes the route's limit), and nothing of it is written.
func (h *hostile) hugeBodies(t *testing.T) {
	const size = 100 << 20
	el := h.el
	row := fmt.Sprintf("97%06d,99%018d,%s,%s,%f,%f,traction\n", 999999, 1, "光明路1号", el.District, el.Lat, el.Lon)
	before := h.totals(t)
	for _, b := range []struct {
		path, contentType, line string
		limit                   int64 // what the route reads at most
	}{
		{"/api/v1/elevators", "application/json", `{"address":"` + strings.Repeat("x", 1000) + `",`, 1 << 20},
		{"/api/v1/import/elevators", "text/csv", row, 64 << 20},
		{"/api/v1/import/elevators?partial=true", "text/csv", row, 64 << 20},
	} {
		for _, chunked := range []bool{false, true} {
			status, raw, written := h.postHuge(t, b.path, b.contentType, b.line, size, chunked)
			what := fmt.Sprintf("POST %s with 100 MB (chunked %t)", b.path, chunked)
			if status != http.StatusRequestEntityTooLarge {
				t.Errorf("%s = %d %s, want 413", what, status, shortText(string(raw)))
			}
			checkRefusal(t, what, status, raw)
			// The sockets on both sides buffer a few MB beyond what the server has read.
			if most := b.limit + 16<<20; !chunked && written > 16<<20 || written > most {
				t.Errorf("%s answered after %d MB of the body were sent, want at most %d MB", what, written>>20, most>>20)
			}
			t.Logf("%s: %d after %d MB sent", what, status, written>>20)
		}
	}
	if after := h.totals(t); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Errorf("refused bodies changed the registry: %v, was %v", after, before)
	}
	h.answersOthers(t, "huge bodies")
}

// Connections that send their headers a byte at a time, or their body, hold nothing up: other
// clients are served at once meanwhile.
func (h *hostile) slowClients(t *testing.T) {
	u, _ := url.Parse(h.base)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	trickle := func(preamble, slow string) {
		conn, err := net.Dial("tcp", u.Host)
		if err != nil {
			t.Fatal(err)
		}
		wg.Go(func() {
			defer conn.Close()
			io.WriteString(conn, preamble)
			tick := time.NewTicker(500 * time.Millisecond)
			defer tick.Stop()
			for i := 0; i < len(slow); i++ {
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
				if _, err := conn.Write([]byte{slow[i]}); err != nil {
					return
				}
			}
		})
	}
	headers := "POST /api/v1/incidents HTTP/1.1\r\nHost: " + u.Host + "\r\nAuthorization: Bearer " + h.key + "\r\nContent-Type: application/json\r\nX-Padding: " + strings.Repeat("a", 100) + "\r\n\r\n"
	for range 5 {
		trickle("", headers)
	}
	body := `{"elevator":"` + h.el.RescueCode + `","note":"` + strings.Repeat("slow ", 100) + `"}`
	trickle(strings.Replace(headers, "\r\n\r\n", "\r\nContent-Length: "+strconv.Itoa(len(body))+"\r\n\r\n", 1), body)
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		h.answersOthers(t, "slow clients")
	}
}

// Two hundred connections that never send a byte, to the API and to the JT/T 808 port, take no
// service from anyone else.
func (h *hostile) halfOpen(t *testing.T) {
	u, _ := url.Parse(h.base)
	for _, addr := range []string{u.Host, h.jt808} {
		for range 200 {
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatalf("connection to %s: %v", addr, err)
			}
			t.Cleanup(func() { conn.Close() })
		}
	}
	h.answersOthers(t, "400 half-open connections")
	h.trackerWorks(t, h.dialTracker(t))
}

// Garbage on the JT/T 808 port is dropped and counted; the connection that sent it, and every
// other, goes on working.
func (h *hostile) jt808Garbage(t *testing.T) {
	term := h.dialTracker(t)
	rng := rand.New(rand.NewPCG(808, 808))
	noise := make([]byte, 64<<10)
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	frame := func(msgID uint16, body []byte) []byte {
		hd, err := gps.NewHeader(gps.Version2013, msgID, 1, term.phone)
		if err != nil {
			t.Fatal(err)
		}
		return gps.AppendMessage(nil, &hd, body)
	}
	// reframe unescapes a frame, lets edit change it, and escapes it again.
	reframe := func(wire []byte, edit func(raw []byte)) []byte {
		raw, err := gps.Unescape(nil, wire[1:len(wire)-1])
		if err != nil {
			t.Fatal(err)
		}
		edit(raw)
		return append(gps.AppendEscaped([]byte{0x7e}, raw), 0x7e)
	}
	heartbeat := frame(gps.MsgHeartbeat, nil)
	badChecksum := reframe(heartbeat, func(raw []byte) { raw[len(raw)-1] ^= 0xff })
	hugeLength := reframe(heartbeat, func(raw []byte) {
		raw[2], raw[3] = 0x03, 0xff // a 1023-byte body declared, none sent
		var x byte
		for _, c := range raw[:len(raw)-1] {
			x ^= c
		}
		raw[len(raw)-1] = x
	})
	sent := 0 // frames certainly bad; the noise makes some more
	for _, g := range []struct {
		name string
		b    []byte
		bad  int
	}{
		{"random bytes", noise, 0},
		{"0x7e flood", bytes.Repeat([]byte{0x7e}, 64<<10), 0},
		{"bad checksums", bytes.Repeat(badChecksum, 100), 100},
		{"a huge declared body", bytes.Repeat(hugeLength, 100), 100},
		{"a frame longer than any", append(append([]byte{0x7e}, bytes.Repeat([]byte{0x30}, 1<<20)...), 0x7e), 1},
		{"bad escapes", bytes.Repeat([]byte{0x7e, 0x7d, 0x7d, 0x03, 0x7e}, 1000), 1000},
	} {
		if _, err := term.conn.Write(g.b); err != nil {
			t.Fatalf("the server hung up on %s: %v", g.name, err)
		}
		sent += g.bad
	}
	// A valid message after the garbage is read and answered on the same connection.
	h.trackerWorks(t, term)
	var ingest struct {
		Servers struct {
			JT808 gps.JT808Stats `json:"jt808"`
		} `json:"servers"`
	}
	h.call(t, "GET", "/api/v1/ingest", nil, &ingest, 200)
	bad := int64(0)
	for _, n := range ingest.Servers.JT808.BadFrames {
		bad += n
	}
	if bad < int64(sent) {
		t.Errorf("JT/T 808 counted %d bad frames (%v), want at least the %d sent", bad, ingest.Servers.JT808.BadFrames, sent)
	}
	// And a tracker on a connection of its own.
	h.trackerWorks(t, h.dialTracker(t))
	h.answersOthers(t, "JT/T 808 garbage")
}

// trackerTerm is a demo vehicle's JT/T 808 terminal, with the vehicle it registers as.
type trackerTerm struct {
	*jt808Terminal
	vehicle liftrescue.Vehicle
}

// tracked returns the first demo vehicle with a tracker, with its device secret.
func (h *hostile) tracked(t *testing.T) liftrescue.Vehicle {
	t.Helper()
	var vs liftrescue.Page[liftrescue.LiveVehicle]
	h.call(t, "GET", "/api/v1/vehicles", nil, &vs, 200)
	for _, v := range vs.Items {
		if v.DeviceID != "" {
			var detail liftrescue.Vehicle
			h.call(t, "GET", fmt.Sprintf("/api/v1/vehicles/%d", v.ID), nil, &detail, 200)
			return detail
		}
	}
	t.Fatal("the demo city has no vehicle with a tracker")
	return liftrescue.Vehicle{}
}

// dialTracker connects the terminal of a demo vehicle.
func (h *hostile) dialTracker(t *testing.T) *trackerTerm {
	t.Helper()
	v := h.tracked(t)
	return &trackerTerm{dialJT808(t, h.jt808, v.DeviceID), v}
}

// trackerWorks registers the terminal with its plate, authenticates with the code it is given and
// reports a position, which moves the vehicle.
func (h *hostile) trackerWorks(t *testing.T, term *trackerTerm) {
	t.Helper()
	term.conn.SetDeadline(time.Now().Add(10 * time.Second))
	reg, err := gps.ParseRegisterResponse(term.send(gps.MsgRegister, gps.AppendRegister(nil, gps.Version2013,
		&gps.Register{Province: 37, City: 402, Maker: "GX", Model: "GX-808", TerminalID: "T000001", PlateColor: 1, Plate: term.vehicle.Plate})).Body)
	if err != nil || reg.Result != gps.RegisterOK || reg.AuthCode != term.vehicle.DeviceSecret {
		t.Fatalf("register %s: %+v %v", term.vehicle.Plate, reg, err)
	}
	if r := term.general(gps.MsgAuth, gps.AppendAuth(nil, gps.Version2013, &gps.Auth{Code: reg.AuthCode})); r != gps.ResultOK {
		t.Fatalf("auth answered %d", r)
	}
	// A second and a metre on from the last report, so that it is newer and no impossible jump;
	// JT/T 808 carries whole seconds and millionths of a degree.
	h.reports++
	loc := gps.Location{Status: gps.StatusLocated, Lat: 34.8 + float64(h.reports)*1e-5, Lon: 117.55,
		Time: h.start.Truncate(time.Second).Add(time.Duration(h.reports) * time.Second)}
	if r := term.general(gps.MsgLocation, gps.AppendLocation(nil, &loc)); r != gps.ResultOK {
		t.Fatalf("location answered %d", r)
	}
	var now struct{ Position *liftrescue.LivePosition }
	h.call(t, "GET", fmt.Sprintf("/api/v1/vehicles/%d", term.vehicle.ID), nil, &now, 200)
	if now.Position == nil || math.Abs(now.Position.Lat-loc.Lat) > 1e-9 {
		t.Errorf("after its report %s is at %+v, want lat %f", term.vehicle.Plate, now.Position, loc.Lat)
	}
}

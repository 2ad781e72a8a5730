package loadgen

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/gps"
)

// fake is a server that keeps the contract loadgen is written against: the REST routes it uses,
// the JSON ingest, the OsmAnd port and the JT/T 808 port. It decodes what it receives with the
// gps package's real decoders, and checks every fix as the pipeline would: known device, right
// secret, a valid fix (liftrescue.CheckFix), no impossible jump, a time close to now.
type fake struct {
	t         testing.TB
	ingestKey string
	// flushStep is how many positions each read of the counters writes from the backlog (0: all).
	flushStep int64
	// lose is how many accepted fixes the history will never get.
	lose int64
	// noRegister refuses JT/T 808 registrations, as a server with registration turned off.
	noRegister bool

	mu        sync.Mutex
	orgs      []liftrescue.Organization
	teams     []liftrescue.Team
	vehicles  []*liftrescue.Vehicle // by id-1
	devices   map[string]*liftrescue.Vehicle
	last      map[string]liftrescue.Fix // each device's latest fix
	accepted  int64                     // fixes accepted
	received  int64                     // fixes received, in any protocol
	rejected  map[string]int64
	backlog   int64
	flushed   int64
	jumps     int64
	stale     int64 // fixes whose time is far from now
	methods   map[string]int64
	tokens    int64 // JSON fixes that carried a token
	bearer    int64 // JSON requests with the ingest key
	posts     map[string]int64
	conflicts int64
	puts      int64
	beats     int64 // JT/T 808 heartbeats

	api, osmand *httptest.Server
	jt808       net.Listener
	conns       sync.WaitGroup
}

// zaozhuang is a square district outline around Zaozhuang, as GeoJSON.
const zaozhuangOutline = `{"type":"MultiPolygon","coordinates":[[[[117.50,34.80],[117.62,34.80],[117.62,34.90],[117.50,34.90],[117.50,34.80]]]]}`

func newFake(t testing.TB) *fake {
	f := &fake{t: t, devices: map[string]*liftrescue.Vehicle{}, last: map[string]liftrescue.Fix{},
		rejected: map[string]int64{}, methods: map[string]int64{}, posts: map[string]int64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/districts", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"items":[{"code":"370400","name":"枣庄市","rural":false,"outline":null},`+
			`{"code":"370402","name":"市中区","rural":false,"outline":%s}],"total":2,"next_cursor":""}`, zaozhuangOutline)
	})
	mux.HandleFunc("GET /api/v1/organizations", f.listOrgs)
	mux.HandleFunc("POST /api/v1/organizations", f.createOrg)
	mux.HandleFunc("GET /api/v1/teams", f.listTeams)
	mux.HandleFunc("POST /api/v1/teams", f.createTeam)
	mux.HandleFunc("GET /api/v1/vehicles", f.listVehicles)
	mux.HandleFunc("POST /api/v1/vehicles", f.writeVehicle)
	mux.HandleFunc("PUT /api/v1/vehicles/{id}", f.writeVehicle)
	mux.HandleFunc("POST /api/v1/positions", f.positions)
	mux.HandleFunc("GET /api/v1/ingest", f.counters)
	f.api = httptest.NewServer(mux)
	f.osmand = httptest.NewServer(http.HandlerFunc(f.osmAnd))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.jt808 = ln
	go f.acceptJT808()
	t.Cleanup(func() {
		f.api.Close()
		f.osmand.Close()
		ln.Close()
		f.conns.Wait()
	})
	return f
}

// config returns a run's configuration against the fake.
func (f *fake) config(p Protocol) Config {
	return Config{Protocol: p, URL: f.api.URL, OsmAndAddr: strings.TrimPrefix(f.osmand.URL, "http://"),
		JT808Addr: f.jt808.Addr().String(), Devices: 20, Duration: 300 * time.Millisecond, Seed: 1}
}

// register fits the devices of cfg to vehicles, as provisioning would.
func (f *fake) register(n int, seed string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range Devices(n, seed) {
		v := &liftrescue.Vehicle{ID: int64(len(f.vehicles) + 1), TeamID: 1, Plate: d.Plate, DeviceID: d.ID, DeviceSecret: d.Secret, OnDuty: true}
		f.vehicles = append(f.vehicles, v)
		f.devices[d.ID] = v
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{"code": code, "message": msg}})
}

// decodeStrict reads a body as the API does: unknown fields are refused.
func decodeStrict(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeError(w, http.StatusBadRequest, "bad_request", err.Error())
		return false
	}
	return true
}

func (f *fake) listOrgs(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items := []liftrescue.Organization{}
	for _, o := range f.orgs {
		if q := r.URL.Query().Get("q"); strings.HasPrefix(o.Code, q) || strings.Contains(o.Name, q) {
			items = append(items, o)
		}
	}
	writeJSON(w, 200, map[string]any{"items": items, "total": len(items), "next_cursor": ""})
}

func (f *fake) createOrg(w http.ResponseWriter, r *http.Request) {
	var o liftrescue.Organization
	if !decodeStrict(w, r, &o) {
		return
	}
	if err := o.Validate(); err != nil {
		writeError(w, 422, "invalid", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts["organization"]++
	for _, other := range f.orgs {
		if other.Code == o.Code {
			writeError(w, 409, "conflict", "code taken")
			return
		}
	}
	o.ID = int64(len(f.orgs) + 1)
	f.orgs = append(f.orgs, o)
	writeJSON(w, 201, o)
}

func (f *fake) listTeams(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	items := []liftrescue.Team{}
	for _, t := range f.teams {
		if strconv.FormatInt(t.OrganizationID, 10) == r.URL.Query().Get("organization_id") {
			items = append(items, t)
		}
	}
	writeJSON(w, 200, map[string]any{"items": items, "total": len(items), "next_cursor": ""})
}

func (f *fake) createTeam(w http.ResponseWriter, r *http.Request) {
	var t liftrescue.Team
	if !decodeStrict(w, r, &t) {
		return
	}
	if err := t.Validate(); err != nil || t.CertifiedStaff < 1 || !t.OnDuty {
		writeError(w, 422, "invalid", fmt.Sprint("team: ", err))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.posts["team"]++
	t.ID = int64(len(f.teams) + 1)
	f.teams = append(f.teams, t)
	writeJSON(w, 201, t)
}

// listVehicles pages by 7, so that next_cursor is followed.
func (f *fake) listVehicles(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	q := r.URL.Query()
	from, _ := strconv.Atoi(q.Get("cursor"))
	var items []*liftrescue.Vehicle
	next := ""
	for i := from; i < len(f.vehicles); i++ {
		v := f.vehicles[i]
		if team := q.Get("team_id"); team != "" && strconv.FormatInt(v.TeamID, 10) != team {
			continue
		}
		if len(items) == 7 {
			next = strconv.Itoa(i)
			break
		}
		items = append(items, v)
	}
	writeJSON(w, 200, map[string]any{"items": items, "total": len(items), "next_cursor": next})
}

func (f *fake) writeVehicle(w http.ResponseWriter, r *http.Request) {
	var v liftrescue.Vehicle
	if !decodeStrict(w, r, &v) {
		return
	}
	if err := v.Validate(); err != nil || v.DeviceSecret == "" || !v.OnDuty {
		writeError(w, 422, "invalid", fmt.Sprint("vehicle: ", err))
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodPut {
		id, _ := strconv.Atoi(r.PathValue("id"))
		if id < 1 || id > len(f.vehicles) {
			writeError(w, 404, "not_found", "no vehicle")
			return
		}
		f.puts++
		old := f.vehicles[id-1]
		delete(f.devices, old.DeviceID)
		v.ID = int64(id)
		f.vehicles[id-1] = &v
		f.devices[v.DeviceID] = &v
		writeJSON(w, 200, &v)
		return
	}
	f.posts["vehicle"]++
	if _, taken := f.devices[v.DeviceID]; taken {
		f.conflicts++
		writeError(w, 409, "conflict", "device_id is fitted to another vehicle")
		return
	}
	v.ID = int64(len(f.vehicles) + 1)
	f.vehicles = append(f.vehicles, &v)
	f.devices[v.DeviceID] = &v
	writeJSON(w, 201, &v)
}

// check is the pipeline's judgement of one fix; "" accepts it.
func (f *fake) check(fix liftrescue.Fix, secret string, trusted bool) string {
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.received++
	v, ok := f.devices[fix.DeviceID]
	reason := ""
	switch {
	case !ok:
		reason = gps.ReasonUnknownDevice
	case !trusted && v.DeviceSecret != secret:
		reason = gps.ReasonBadSecret
	case liftrescue.CheckFix(&fix, now) != "":
		reason = liftrescue.CheckFix(&fix, now)
	}
	if reason != "" {
		f.rejected[reason]++
		return reason
	}
	if d := now.Sub(fix.Time); d > 5*time.Second || d < -time.Second {
		f.stale++
	}
	if prev, ok := f.last[fix.DeviceID]; ok && fix.Time.After(prev.Time) {
		if distanceM(prev.Lon, prev.Lat, fix.Lon, fix.Lat) > 250/3.6*fix.Time.Sub(prev.Time).Seconds()+100 {
			f.jumps++
		}
	}
	if prev, ok := f.last[fix.DeviceID]; !ok || fix.Time.After(prev.Time) {
		f.last[fix.DeviceID] = fix
	}
	f.accepted++
	f.backlog++
	return ""
}

func distanceM(lon1, lat1, lon2, lat2 float64) float64 {
	const r = 6_371_000
	p1, p2 := lat1*math.Pi/180, lat2*math.Pi/180
	dp, dl := p2-p1, (lon2-lon1)*math.Pi/180
	a := math.Sin(dp/2)*math.Sin(dp/2) + math.Cos(p1)*math.Cos(p2)*math.Sin(dl/2)*math.Sin(dl/2)
	return 2 * r * math.Asin(math.Sqrt(a))
}

func (f *fake) positions(w http.ResponseWriter, r *http.Request) {
	b, err := gps.ReadBatch(r.Body, time.Now())
	if err != nil {
		writeError(w, 400, "bad_request", err.Error())
		return
	}
	// As the API: the ingest key trusts the batch; another Bearer is every fix's device secret;
	// no credentials at all is 401.
	trusted, bearer := false, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	switch {
	case f.ingestKey != "" && bearer == f.ingestKey:
		trusted = true
		f.mu.Lock()
		f.bearer++
		f.mu.Unlock()
	case bearer == "" && b.Tokens == nil && len(b.Fixes) > 0:
		writeError(w, 401, "unauthorized", "no credentials")
		return
	}
	type detail struct {
		Index  int    `json:"index"`
		Field  string `json:"field,omitempty"`
		Reason string `json:"reason"`
	}
	res := struct {
		Accepted int      `json:"accepted"`
		Rejected []detail `json:"rejected"`
	}{Rejected: []detail{}}
	for _, d := range b.Rejected {
		res.Rejected = append(res.Rejected, detail{Index: *d.Index, Field: d.Field, Reason: d.Reason})
		f.t.Errorf("the decoder rejected fix %d: %s: %s", *d.Index, d.Field, d.Reason)
	}
	for i, fix := range b.Fixes {
		token := bearer
		if i < len(b.Tokens) && b.Tokens[i] != "" {
			token = b.Tokens[i]
		}
		if i < len(b.Tokens) && b.Tokens[i] != "" {
			f.mu.Lock()
			f.tokens++
			f.mu.Unlock()
		}
		if reason := f.check(fix, token, trusted); reason != "" {
			res.Rejected = append(res.Rejected, detail{Index: b.Positions[i], Field: "device_id", Reason: reason})
			continue
		}
		res.Accepted++
	}
	writeJSON(w, 200, res)
}

func (f *fake) counters(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := f.backlog
	if f.flushStep > 0 {
		n = min(n, f.flushStep)
	}
	lost := min(f.lose, n)
	f.lose -= lost
	f.backlog -= n
	f.flushed += n - lost
	writeJSON(w, 200, map[string]any{"accepted": f.accepted, "flushed": f.flushed, "backlog": f.backlog,
		"rejected": f.rejected, "dropped": 0, "servers": map[string]any{"osmand": map[string]any{"accepted": 0}}})
}

func (f *fake) osmAnd(w http.ResponseWriter, r *http.Request) {
	fix, err := gps.ParseOsmAnd(r, time.Now())
	f.mu.Lock()
	f.methods[r.Method]++
	f.mu.Unlock()
	if err != nil {
		f.t.Errorf("ParseOsmAnd: %v (%s)", err, r.URL.RawQuery)
		http.Error(w, err.Error(), 400)
		return
	}
	switch f.check(fix, r.URL.Query().Get("token"), false) {
	case "":
		w.WriteHeader(200)
	case gps.ReasonUnknownDevice, gps.ReasonBadSecret:
		http.Error(w, "unknown device or bad token", 401)
	default:
		http.Error(w, "invalid", 400)
	}
}

func (f *fake) acceptJT808() {
	for {
		c, err := f.jt808.Accept()
		if err != nil {
			return
		}
		f.conns.Add(1)
		go func() {
			defer f.conns.Done()
			defer c.Close()
			f.serveJT808(c)
		}()
	}
}

// serveJT808 is one terminal's session: register, auth, then location reports, each answered.
func (f *fake) serveJT808(c net.Conn) {
	br := bufio.NewReader(c)
	bw := bufio.NewWriter(c)
	fr := gps.NewFrameReader(br, 0)
	var out []byte
	var serial uint16
	authed := ""
	for {
		frame, err := fr.Next()
		if err != nil {
			var fe *gps.FrameError
			if errors.As(err, &fe) {
				f.t.Errorf("jt808: bad frame: %v", err)
				continue
			}
			return
		}
		p, err := gps.ParsePacket(frame)
		if err != nil {
			f.t.Errorf("jt808: %v", err)
			continue
		}
		serial++
		out = out[:0]
		id := p.DeviceID()
		switch p.MsgID {
		case gps.MsgRegister:
			reg, err := gps.ParseRegister(p.Body, p.Version)
			f.mu.Lock()
			v, ok := f.devices[id]
			f.mu.Unlock()
			switch {
			case err != nil:
				f.t.Errorf("jt808 register: %v", err)
				out = gps.AppendGeneralResponse(out, &p.Header, serial, gps.ResultBadMessage)
			case !ok || f.noRegister:
				out = gps.AppendRegisterResponse(out, &p.Header, serial, gps.RegisterNoSuchTerminal, "")
			case reg.Plate != v.Plate || reg.PlateColor == 0:
				f.t.Errorf("jt808 register: plate %q colour %d, want %q", reg.Plate, reg.PlateColor, v.Plate)
				out = gps.AppendRegisterResponse(out, &p.Header, serial, gps.RegisterNoSuchVehicle, "")
			default:
				out = gps.AppendRegisterResponse(out, &p.Header, serial, gps.RegisterOK, v.DeviceSecret)
			}
		case gps.MsgAuth:
			a, _ := gps.ParseAuth(p.Body, p.Version)
			f.mu.Lock()
			v, ok := f.devices[id]
			f.mu.Unlock()
			result := gps.ResultFailed
			if ok && a.Code == v.DeviceSecret {
				result, authed = gps.ResultOK, id
			}
			if p.Version == gps.Version2019 && a.IMEI == "" {
				f.t.Errorf("jt808 2019 auth without an IMEI")
			}
			out = gps.AppendGeneralResponse(out, &p.Header, serial, result)
		case gps.MsgLocation:
			if authed != id {
				out = gps.AppendGeneralResponse(out, &p.Header, serial, gps.ResultFailed)
				break
			}
			fixes, err := gps.AppendFixes(nil, &p)
			result := gps.ResultOK
			switch {
			case err != nil || len(fixes) != 1:
				f.t.Errorf("jt808 location: %v", err)
				result = gps.ResultBadMessage
			case fixes[0].Unlocated:
				f.t.Errorf("jt808 location without the located bit")
				result = gps.ResultBadMessage
			case f.check(fixes[0], "", true) != "":
				result = gps.ResultFailed
			}
			out = gps.AppendGeneralResponse(out, &p.Header, serial, result)
		case gps.MsgHeartbeat:
			f.mu.Lock()
			f.beats++
			f.mu.Unlock()
			out = gps.AppendGeneralResponse(out, &p.Header, serial, gps.ResultOK)
		default:
			out = gps.AppendGeneralResponse(out, &p.Header, serial, gps.ResultUnsupported)
		}
		bw.Write(out)
		if br.Buffered() == 0 {
			if bw.Flush() != nil {
				return
			}
		}
	}
}

// count reads one of the fake's counters.
func (f *fake) count(c *int64) int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return *c
}

func (f *fake) snapshot() (received, accepted, jumps, stale int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.received, f.accepted, f.jumps, f.stale
}

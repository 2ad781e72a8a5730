package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/gps"
	"github.com/liftrescue/liftrescue/loadgen"
)

// liveServer is `liftrescue serve` on free ports with a volunteer team registered.
type liveServer struct {
	base, osmand, jt808 string
	team                int64
	stop                func()
}

func startLive(t *testing.T, data string) *liveServer {
	t.Helper()
	lines, stop := startCommand(t, "JT/T 808", "serve", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "error")
	s := &liveServer{stop: stop}
	s.base = strings.TrimSpace(lines[0][strings.Index(lines[0], "http://"):])
	for _, l := range lines {
		if _, rest, ok := strings.Cut(l, "http://"); ok && strings.Contains(l, "OsmAnd") {
			s.osmand, _, _ = strings.Cut(rest, "/")
		}
		if _, rest, ok := strings.Cut(l, "tcp://"); ok {
			s.jt808 = strings.TrimSpace(rest)
		}
	}
	if s.base == "" || s.osmand == "" || s.jt808 == "" {
		t.Fatalf("serve printed no addresses:\n%s", strings.Join(lines, "\n"))
	}
	return s
}

// call sends a JSON request and decodes the answer into out, failing unless the status is want.
func (s *liveServer) call(t *testing.T, method, path string, in, out any, want int) {
	t.Helper()
	var body bytes.Buffer
	if in != nil {
		json.NewEncoder(&body).Encode(in)
	}
	req, _ := http.NewRequest(method, s.base+path, &body)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var raw bytes.Buffer
	raw.ReadFrom(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s = %d %s, want %d", method, path, res.StatusCode, raw.String(), want)
	}
	if out != nil {
		if err := json.Unmarshal(raw.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (s *liveServer) registerTeam(t *testing.T) {
	t.Helper()
	s.call(t, "PUT", "/api/v1/districts/370402", map[string]any{"code": "370402", "name": "市中区"}, nil, 200)
	var org liftrescue.Organization
	s.call(t, "POST", "/api/v1/organizations", map[string]any{"code": "91370400VOL0000001", "kind": "volunteer", "name": "网格救援一站", "district": "370402"}, &org, 201)
	var team liftrescue.Team
	s.call(t, "POST", "/api/v1/teams", map[string]any{"organization_id": org.ID, "name": "一队", "certified_staff": 3, "on_duty": true}, &team, 201)
	s.team = team.ID
}

func (s *liveServer) vehicle(t *testing.T, plate, device string) liftrescue.Vehicle {
	t.Helper()
	var v liftrescue.Vehicle
	s.call(t, "POST", "/api/v1/vehicles", map[string]any{"team_id": s.team, "plate": plate, "device_id": device, "on_duty": true}, &v, 201)
	return v
}

// sseEvents reads the live stream into a channel of "event data" lines until the test ends.
func sseEvents(t *testing.T, url string) <-chan string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("GET %s = %d %s", url, res.StatusCode, res.Header.Get("Content-Type"))
	}
	out := make(chan string, 1024)
	go func() {
		defer res.Body.Close()
		sc := bufio.NewScanner(res.Body)
		event := ""
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				event = e
			}
			if d, ok := strings.CutPrefix(line, "data: "); ok {
				select {
				case out <- event + " " + d:
				default:
				}
			}
		}
	}()
	return out
}

// jt808Terminal is a JT/T 808 terminal on a TCP connection, as a tracker in a van would be.
type jt808Terminal struct {
	t      *testing.T
	conn   net.Conn
	frames *gps.FrameReader
	phone  string
	serial uint16
}

func dialJT808(t *testing.T, addr, phone string) *jt808Terminal {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return &jt808Terminal{t: t, conn: conn, frames: gps.NewFrameReader(bufio.NewReader(conn), gps.DefaultMaxFrame), phone: phone}
}

// send writes one message and returns the platform's answer.
func (c *jt808Terminal) send(msgID uint16, body []byte) gps.Packet {
	c.t.Helper()
	c.serial++
	h, err := gps.NewHeader(gps.Version2013, msgID, c.serial, c.phone)
	if err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.conn.Write(gps.AppendMessage(nil, &h, body)); err != nil {
		c.t.Fatal(err)
	}
	frame, err := c.frames.Next()
	if err != nil {
		c.t.Fatal(err)
	}
	p, err := gps.ParsePacket(frame)
	if err != nil {
		c.t.Fatal(err)
	}
	return p
}

func (c *jt808Terminal) general(msgID uint16, body []byte) byte {
	c.t.Helper()
	p := c.send(msgID, body)
	r, err := gps.ParseGeneralResponse(p.Body)
	if p.MsgID != gps.MsgPlatformAck || err != nil || r.Serial != c.serial || r.MsgID != msgID {
		c.t.Fatalf("answer to %#04x: %#04x %+v %v", msgID, p.MsgID, r, err)
	}
	return r.Result
}

// The "done when": a JT/T 808 frame from a Go client, an OsmAnd request exactly as
// Traccar Client sends it and a JSON batch all move vehicles that GET /api/v1/vehicles and the
// live stream then show; a restart keeps their history.
func TestTrackersMoveVehicles(t *testing.T) {
	data := t.TempDir()
	s := startLive(t, data)
	s.registerTeam(t)
	van := s.vehicle(t, "鲁D12345", "013912345678")      // a JT/T 808 terminal
	phone := s.vehicle(t, "鲁D23456", "traccar-android") // Traccar Client on a phone
	box := s.vehicle(t, "鲁D34567", "867530912345678")   // a tracker posting JSON
	events := sseEvents(t, s.base+"/api/v1/stream?types=vehicle")
	now := time.Now().UTC().Truncate(time.Second)

	// JT/T 808: register with the plate, authenticate with the code it gives, report.
	term := dialJT808(t, s.jt808, "13912345678")
	reg, err := gps.ParseRegisterResponse(term.send(gps.MsgRegister, gps.AppendRegister(nil, gps.Version2013, &gps.Register{Province: 37, City: 402, Maker: "GX", Model: "GX-808", TerminalID: "T000001", PlateColor: 1, Plate: "鲁D12345"})).Body)
	if err != nil || reg.Result != gps.RegisterOK || reg.AuthCode != van.DeviceSecret {
		t.Fatalf("register: %+v %v", reg, err)
	}
	if r := term.general(gps.MsgAuth, gps.AppendAuth(nil, gps.Version2013, &gps.Auth{Code: reg.AuthCode})); r != gps.ResultOK {
		t.Fatalf("auth answered %d", r)
	}
	loc := gps.Location{Status: gps.StatusLocated | gps.StatusACC, Lat: 34.8601, Lon: 117.5501, Speed: 325, Direction: 90, Time: now.Add(-2 * time.Second)}
	if r := term.general(gps.MsgLocation, gps.AppendLocation(nil, &loc)); r != gps.ResultOK {
		t.Fatalf("location answered %d", r)
	}
	if r := term.general(gps.MsgHeartbeat, nil); r != gps.ResultOK {
		t.Fatalf("heartbeat answered %d", r)
	}

	// OsmAnd exactly as Traccar Client for Android sends it: a POST with the query string and an
	// empty body, the token kept from the server URL the user typed.
	q := fmt.Sprintf("id=traccar-android&timestamp=%d&lat=34.8702&lon=117.5602&speed=10.5&bearing=180.0&altitude=65.0&accuracy=8.0&batt=87.0&token=%s",
		now.Add(-time.Second).Unix(), phone.DeviceSecret)
	res, err := http.Post("http://"+s.osmand+"/?"+q, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("OsmAnd = %d", res.StatusCode)
	}
	// The same request without its token is refused.
	res, _ = http.Get("http://" + s.osmand + "/?" + strings.Split(q, "&token=")[0])
	if res.Body.Close(); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("OsmAnd without a token = %d", res.StatusCode)
	}

	// Native JSON.
	var reply struct{ Accepted int }
	s.call(t, "POST", "/api/v1/positions", map[string]any{"positions": []map[string]any{{
		"device_id": box.DeviceID, "token": box.DeviceSecret, "lat": 34.8803, "lon": 117.5703, "time": now.Format(time.RFC3339), "speed_kmh": 40,
	}}}, &reply, 200)
	if reply.Accepted != 1 {
		t.Fatalf("JSON batch: %+v", reply)
	}

	// The three are live where they reported.
	var page liftrescue.Page[liftrescue.LiveVehicle]
	s.call(t, "GET", "/api/v1/vehicles?status=live", nil, &page, 200)
	want := map[int64][2]float64{van.ID: {34.8601, 117.5501}, phone.ID: {34.8702, 117.5602}, box.ID: {34.8803, 117.5703}}
	for _, v := range page.Items {
		if w, ok := want[v.ID]; ok && v.Position != nil && v.Position.Lat == w[0] && v.Position.Lon == w[1] {
			delete(want, v.ID)
		}
	}
	if len(want) != 0 {
		t.Fatalf("vehicles not live where they reported: %v in %+v", want, page.Items)
	}
	// The stream tells each move within a tick or two.
	deadline := time.After(10 * time.Second)
	for seen := map[int64]bool{}; len(seen) < 3; {
		select {
		case ev := <-events:
			var v liftrescue.LiveVehicle
			if name, data, _ := strings.Cut(ev, " "); name == "vehicle" && json.Unmarshal([]byte(data), &v) == nil && v.Position != nil {
				seen[v.ID] = true
			}
		case <-deadline:
			t.Fatal("the live stream did not show the three vehicles")
		}
	}

	// A graceful stop writes what was accepted: after a restart the tracks hold the fixes.
	s.stop()
	s = startLive(t, data)
	for _, v := range []liftrescue.Vehicle{van, phone, box} {
		var track struct{ Positions []liftrescue.Position }
		s.call(t, "GET", fmt.Sprintf("/api/v1/vehicles/%d/track", v.ID), nil, &track, 200)
		if len(track.Positions) != 1 {
			t.Errorf("vehicle %s: %d positions after a restart, want 1", v.Plate, len(track.Positions))
		}
	}
	// And the index starts from the history: the van is where it last reported.
	var one struct{ Position *liftrescue.LivePosition }
	s.call(t, "GET", fmt.Sprintf("/api/v1/vehicles/%d", van.ID), nil, &one, 200)
	if one.Position == nil || one.Position.Lat != 34.8601 {
		t.Errorf("after a restart the van is at %+v", one.Position)
	}
}

// The load generator drives a running server over each protocol, provisioning its devices, and
// finds every accepted fix in the history.
func TestLoadgenAgainstServer(t *testing.T) {
	s := startLive(t, t.TempDir())
	s.registerTeam(t)
	for _, proto := range []string{"json", "osmand", "jt808"} {
		t.Run(proto, func(t *testing.T) {
			p, err := loadgen.ParseProtocol(proto)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := loadgen.Run(context.Background(), loadgen.Config{Protocol: p, URL: s.base, OsmAndAddr: s.osmand, JT808Addr: s.jt808,
				Devices: 20, Rate: 400, Duration: 500 * time.Millisecond, Provision: true, Verify: true, SecretSeed: "test", APIKey: keyOf(t, s.base),
				Center: &[2]float64{117.55, 34.86}, RadiusM: 2000})
			if err != nil {
				t.Fatalf("loadgen %s: %v\n%+v", proto, err, rep)
			}
			if rep.FixesAccepted < 100 || rep.FixesAccepted != rep.FixesSent {
				t.Errorf("loadgen %s: sent %d, accepted %d", proto, rep.FixesSent, rep.FixesAccepted)
			}
		})
	}
}

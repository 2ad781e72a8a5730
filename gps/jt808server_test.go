package gps

import (
	"bufio"
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/store/storetest"
)

// jtWait bounds every wait of these tests for the server: far longer than any answer takes, so
// that it only ends a test that would otherwise hang.
const jtWait = 10 * time.Second

type jtFixture struct {
	*pipeFixture
	srv    *JT808Server
	addr   string
	served chan error // Serve's result
}

// mustJT808 serves srv, over a pipeline of n vehicles, on a loopback port; the test's end shuts
// it down and checks that Serve returned.
func mustJT808(tb testing.TB, n int, cfg PipelineConfig, srv *JT808Server) *jtFixture {
	tb.Helper()
	f := &jtFixture{pipeFixture: MustPipeline(tb, n, cfg), srv: srv, served: make(chan error, 1)}
	srv.Pipeline = f.p
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	f.addr = ln.Addr().String()
	go func() { f.served <- srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), jtWait)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			tb.Errorf("Shutdown: %v", err)
		}
		if err := <-f.served; !errors.Is(err, ErrServerClosed) {
			tb.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return f
}

// addVehicle adds a vehicle with the tracker and reloads the registry.
func (f *pipeFixture) addVehicle(tb testing.TB, deviceID, plate, secret string) int64 {
	tb.Helper()
	v, err := f.store.FindVehicle(f.ctx, f.vehicles[0])
	storetest.MustOK(tb, err)
	nv := &liftrescue.Vehicle{TeamID: v.TeamID, Plate: plate, DeviceID: deviceID, DeviceSecret: secret, OnDuty: true}
	storetest.MustOK(tb, f.store.CreateVehicle(f.ctx, nv))
	storetest.MustOK(tb, f.p.Reload(f.ctx))
	return nv.ID
}

// jtClient is a terminal on a real TCP connection.
type jtClient struct {
	tb     testing.TB
	conn   net.Conn
	fr     *FrameReader
	raw    bytes.Buffer // every byte the server sent
	v      Version
	phone  string
	serial uint16 // of the terminal's next message
}

func (f *jtFixture) dial(tb testing.TB, v Version, phone string) *jtClient {
	tb.Helper()
	conn, err := net.DialTimeout("tcp", f.addr, jtWait)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close() })
	c := &jtClient{tb: tb, conn: conn, v: v, phone: phone}
	c.fr = NewFrameReader(bufio.NewReader(io.TeeReader(conn, &c.raw)), 0)
	return c
}

// frame returns a message of the terminal as sent on the wire, and its serial.
func (c *jtClient) frame(msgID uint16, body []byte) ([]byte, uint16) {
	c.tb.Helper()
	h, err := NewHeader(c.v, msgID, c.serial, c.phone)
	if err != nil {
		c.tb.Fatal(err)
	}
	c.serial++
	return AppendMessage(nil, &h, body), h.Serial
}

func (c *jtClient) write(wire ...[]byte) {
	c.tb.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(jtWait))
	if _, err := c.conn.Write(bytes.Join(wire, nil)); err != nil {
		c.tb.Fatal(err)
	}
}

// send writes a message and returns its serial.
func (c *jtClient) send(msgID uint16, body []byte) uint16 {
	c.tb.Helper()
	wire, serial := c.frame(msgID, body)
	c.write(wire)
	return serial
}

// read returns the server's next message.
func (c *jtClient) read() Packet {
	c.tb.Helper()
	c.conn.SetReadDeadline(time.Now().Add(jtWait))
	frame, err := c.fr.Next()
	if err != nil {
		c.tb.Fatalf("read an answer: %v", err)
	}
	p, err := ParsePacket(bytes.Clone(frame))
	if err != nil {
		c.tb.Fatalf("answer %x: %v", frame, err)
	}
	return p
}

// ack reads a general response and checks what it answers; it returns the result.
func (c *jtClient) ack(serial, msgID uint16) byte {
	c.tb.Helper()
	p := c.read()
	r, err := ParseGeneralResponse(p.Body)
	if p.MsgID != MsgPlatformAck || err != nil || r.Serial != serial || r.MsgID != msgID {
		c.tb.Fatalf("got %#04x %+v %v, want the general response to %#04x serial %d", p.MsgID, r, err, msgID, serial)
	}
	if p.Version != c.v || p.DeviceID() != normalDevice(c.phone) {
		c.tb.Errorf("answer in a %v header to %s, want %v to %s", p.Version, p.DeviceID(), c.v, c.phone)
	}
	return r.Result
}

// expect sends a message and checks the result of its general response.
func (c *jtClient) expect(msgID uint16, body []byte, want byte) {
	c.tb.Helper()
	serial := c.send(msgID, body)
	if got := c.ack(serial, msgID); got != want {
		c.tb.Fatalf("message %#04x answered %d, want %d", msgID, got, want)
	}
}

// closed checks that the server closes the connection.
func (c *jtClient) closed() {
	c.tb.Helper()
	c.conn.SetReadDeadline(time.Now().Add(jtWait))
	if frame, err := c.fr.Next(); err != io.EOF && !errors.Is(err, net.ErrClosed) && !isReset(err) {
		c.tb.Fatalf("read %x, %v; want the connection closed", frame, err)
	}
}

func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !op.Timeout()
}

// authBody is the body of an auth message with the code.
func authBody(v Version, code string) []byte {
	if v == Version2019 {
		b := append([]byte{byte(len(code))}, code...)
		b = append(b, "867530912345678"...)
		return append(b, make([]byte, 20)...)
	}
	return []byte(code)
}

// registerBody is the body of a register message with the plate, in the layout of the version.
func registerBody(tb testing.TB, v Version, plate string) []byte {
	tb.Helper()
	gbk, err := simplifiedchinese.GBK.NewEncoder().String(plate)
	if err != nil {
		tb.Fatal(err)
	}
	maker, model, id := 5, 20, 7
	if v == Version2019 {
		maker, model, id = 11, 30, 30
	}
	b := []byte{0x00, 0x25, 0x01, 0x9e} // Shandong, a city
	b = append(b, make([]byte, maker+model+id)...)
	copy(b[4:], "LR808")
	b = append(b, 1) // plate colour: blue
	return append(b, gbk...)
}

// locBody is the body of a location report at the time, east of the test point by metres.
func locBody(at time.Time, eastM float64, status, alarm uint32) []byte {
	l := Location{Alarm: alarm, Status: status, Lat: 34.8, Lon: 117.5 + eastM/91400, Speed: 300, Direction: 90, Time: at}
	return AppendLocation(nil, &l)
}

// batchBody is the body of a 0x0704 batch of the location bodies.
func batchBody(items ...[]byte) []byte {
	b := []byte{0, byte(len(items)), 1}
	for _, it := range items {
		b = append(b, byte(len(it)>>8), byte(len(it)))
		b = append(b, it...)
	}
	return b
}

const located = StatusLocated | StatusACC

// at is a time before the pipeline's clock, to the second as JT/T 808 sends it.
func at(seconds int) time.Time { return pipeT0.Add(time.Duration(seconds) * time.Second) }

func (f *jtFixture) wantAt(tb testing.TB, vehicle int64, seconds int, eastM float64) {
	tb.Helper()
	s, ok := f.index.Vehicle(vehicle)
	if !ok || !s.Time.Equal(at(seconds)) || s.Lat != 34.8 || micro(s.Lon) != micro(117.5+eastM/91400) {
		tb.Fatalf("vehicle %d at %+v (%v), want the fix of %d s, %v m east", vehicle, s, ok, seconds, eastM)
	}
}

func TestJT808Session(t *testing.T) {
	for _, v := range []Version{Version2013, Version2019} {
		t.Run(v.String(), func(t *testing.T) {
			f := mustJT808(t, 2, PipelineConfig{}, &JT808Server{})
			c := f.dial(t, v, dev(1))
			plate := " 鲁d 00001" // the registry's plate, written otherwise

			// Registration gives the auth code, the device secret.
			serial := c.send(MsgRegister, registerBody(t, v, plate))
			p := c.read()
			r, err := ParseRegisterResponse(p.Body)
			if p.MsgID != MsgRegisterAck || err != nil || r.Serial != serial || r.Result != RegisterOK || r.AuthCode != f.secretOf(t, f.vehicles[1]) {
				t.Fatalf("register answered %#04x %+v %v", p.MsgID, r, err)
			}
			if p.Version != v || p.Serial != 0 {
				t.Errorf("register answer: %v header, serial %d", p.Version, p.Serial)
			}

			// Locations before the auth are refused, so that the terminal authenticates.
			c.expect(MsgLocation, locBody(at(-60), 0, located, 0), ResultFailed)
			if _, ok := f.index.Vehicle(f.vehicles[1]); ok {
				t.Fatal("a location before the auth moved the vehicle")
			}
			c.expect(MsgAuth, authBody(v, r.AuthCode), ResultOK)
			c.expect(MsgLocation, locBody(at(-50), 10, located, 0), ResultOK)
			f.wantAt(t, f.vehicles[1], -50, 10)
			c.expect(MsgHeartbeat, nil, ResultOK)
			c.expect(0x0900, []byte{0xf1, 1, 2, 3}, ResultUnsupported) // transparent data
			c.expect(MsgLocationBatch, batchBody(locBody(at(-30), 30, located, 0), locBody(at(-40), 20, located, 0)), ResultOK)
			f.wantAt(t, f.vehicles[1], -30, 30)

			// The terminal's own answers get none.
			ack, _ := c.frame(MsgTerminalAck, []byte{0, 1, 0x83, 0, 0})
			c.write(ack)
			serial = c.send(MsgLogout, nil)
			p = c.read()
			if p.MsgID != MsgPlatformAck || p.Serial != 7 {
				t.Errorf("logout answered by %#04x serial %d, want 0x8001 serial 7 (one per message)", p.MsgID, p.Serial)
			}
			if g, err := ParseGeneralResponse(p.Body); err != nil || g.Serial != serial || g.MsgID != MsgLogout || g.Result != ResultOK {
				t.Errorf("logout answered %+v %v", g, err)
			}
			c.closed()

			st := f.srv.Stats()
			if st.Frames != 9 || st.Fixes != 3 || st.Registered != 1 || st.Unauthenticated != 1 || st.Unsupported != 1 ||
				st.Accepted != 1 || len(st.BadFrames) != 0 || st.AuthFailures != 0 {
				t.Errorf("stats = %+v", st)
			}
		})
	}
}

// TestJT808Conversations replays the conversations of go-jt808's test data, in 2011, 2013 and
// 2019 headers: its register answers carry the phone number as the auth code, and it answers
// the auth with another code with failure. Its locations have latitude and longitude swapped,
// an invalid fix: they are answered with success all the same.
func TestJT808Conversations(t *testing.T) {
	for _, tc := range []struct {
		name, phone                                string
		register, auth, location, batch, heartbeat []string // terminal message, expected answer
	}{
		{"2011", "123456782011", []string{"G-140", "G-141"}, []string{"G-146", "G-147"}, []string{"G-152", "G-153"}, []string{"G-158", "G-159"}, []string{"G-134", "G-135"}},
		{"2013", "123456782013", []string{"G-142", "G-143"}, []string{"G-148", "G-149"}, []string{"G-154", "G-155"}, []string{"G-160", "G-161"}, []string{"G-136", "G-137"}},
		{"2019", "12345678901234562019", []string{"G-144", "G-145"}, []string{"G-150", "G-151"}, []string{"G-156", "G-157"}, []string{"G-162", "G-163"}, []string{"G-138", "G-139"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := mustJT808(t, 1, PipelineConfig{}, &JT808Server{})
			f.addVehicle(t, tc.phone, "测A12345678", tc.phone)
			v := Version2013
			if tc.name == "2019" {
				v = Version2019
			}
			c := f.dial(t, v, tc.phone)
			var serial uint16
			exchange := func(pair []string) {
				t.Helper()
				c.write(mustHex(findVector(t, pair[0]).Hex))
				got := c.read()
				want, err := DecodeFrame(mustHex(findVector(t, pair[1]).Hex))
				if err != nil {
					t.Fatal(err)
				}
				if got.MsgID != want.MsgID || got.Props != want.Props || got.Version != want.Version || got.ProtoVersion != want.ProtoVersion ||
					got.Phone() != want.Phone() || !bytes.Equal(got.Body, want.Body) || got.Serial != serial {
					t.Errorf("%s answered %+v %x, want %s: %+v %x with serial %d", pair[0], got.Header, got.Body, pair[1], want.Header, want.Body, serial)
				}
				serial++
			}
			exchange(tc.register)
			exchange(tc.auth) // another code than the one registered: failure
			c.expect(MsgAuth, authBody(v, tc.phone), ResultOK)
			serial++
			exchange(tc.location)
			exchange(tc.batch)
			exchange(tc.heartbeat)
			if st := f.p.Stats(); st.Rejected["invalid lat"] != 3 || st.Accepted != 0 {
				t.Errorf("pipeline stats = %+v, want the 3 swapped fixes refused", st)
			}
		})
	}
}

// TestJT808VersionQuirk: a real terminal sets the 2019 flag on 2013 headers (SmallChi's Test5_3
// and Test5_4). It is answered in the 2013 header it really speaks.
func TestJT808VersionQuirk(t *testing.T) {
	f := mustJT808(t, 1, PipelineConfig{}, &JT808Server{})
	vid := f.addVehicle(t, "010030000681", "鲁D77777", "J10030000681")
	c := f.dial(t, Version2013, "010030000681")
	for _, id := range []string{"S-120", "S-119"} { // auth, then location
		vec := findVector(t, id)
		in, err := DecodeFrame(mustHex(vec.Hex))
		if err != nil {
			t.Fatal(err)
		}
		c.write(mustHex(vec.Hex))
		p := c.read()
		g, err := ParseGeneralResponse(p.Body)
		if err != nil || g.Result != ResultOK || g.Serial != in.Serial || g.MsgID != in.MsgID {
			t.Fatalf("%s answered %+v %v", id, g, err)
		}
		if p.Version != Version2013 || p.Props&propVersion2019 != 0 || p.Phone() != "010030000681" {
			t.Errorf("%s answered with header %+v, want a 2013 header without the 2019 flag", id, p.Header)
		}
	}
	if s, ok := f.index.Vehicle(vid); !ok || micro(s.Lat) != 40670063 || micro(s.Lon) != 122452300 {
		t.Errorf("vehicle at %+v", s)
	}
}

// TestJT808BadFrames: a frame that cannot be read is dropped and counted; the frames around it are
// answered and the connection stays.
func TestJT808BadFrames(t *testing.T) {
	f := mustJT808(t, 1, PipelineConfig{}, &JT808Server{})
	c := f.dial(t, Version2013, dev(0))
	c.expect(MsgAuth, authBody(Version2013, f.secretOf(t, f.vehicles[0])), ResultOK)
	good1, s1 := c.frame(MsgLocation, locBody(at(-20), 0, located, 0))
	bad, _ := c.frame(MsgHeartbeat, nil)
	bad[len(bad)-2] ^= 0x55 // the checksum
	good2, s2 := c.frame(MsgLocation, locBody(at(-10), 10, located, 0))
	c.write(good1, []byte("\r\n$$"), bad, good2, mustHex("7e02007d037e")) // noise, a bad escape
	if r := c.ack(s1, MsgLocation); r != ResultOK {
		t.Errorf("first location: %d", r)
	}
	if r := c.ack(s2, MsgLocation); r != ResultOK {
		t.Errorf("second location: %d", r)
	}
	c.expect(MsgHeartbeat, nil, ResultOK)
	f.wantAt(t, f.vehicles[0], -10, 10)
	st := f.srv.Stats()
	if st.BadFrames[FaultChecksum] != 1 || st.BadFrames[FaultEscape] != 1 || st.Skipped != 4 || st.Frames != 4 || st.Fixes != 2 {
		t.Errorf("stats = %+v", st)
	}

	// A message whose body cannot be read is answered as such.
	c.expect(MsgLocation, []byte{1, 2, 3}, ResultBadMessage)
	h, _ := NewHeader(Version2013, MsgLocation, 99, dev(0))
	enc := AppendMessage(nil, &h, locBody(at(-5), 0, located, 0))
	raw, _ := Unescape(nil, enc[1:len(enc)-1])
	raw[2] |= 0x04 // RSA
	raw = withChecksum(raw)
	c.write(append(AppendEscaped([]byte{flagByte}, raw), flagByte))
	if r := c.ack(99, MsgLocation); r != ResultUnsupported {
		t.Errorf("encrypted location answered %d, want unsupported", r)
	}
	if st := f.srv.Stats(); st.BadFrames[FaultBody] != 1 || st.BadFrames[FaultUnsupported] != 1 {
		t.Errorf("bad frames = %v", st.BadFrames)
	}
}

// TestJT808Escapes: 0x7e and 0x7d in a message, its body and its answer travel escaped.
func TestJT808Escapes(t *testing.T) {
	f := mustJT808(t, 1, PipelineConfig{}, &JT808Server{})
	c := f.dial(t, Version2013, dev(0))
	c.expect(MsgAuth, authBody(Version2013, f.secretOf(t, f.vehicles[0])), ResultOK)
	c.serial = 0x7e7d
	body := locBody(at(-10), 0, located, 0)
	body = append(body, 0x01, 0x04, 0x00, 0x7d, 0x7e, 0x7e) // mileage
	wire, serial := c.frame(MsgLocation, body)
	if !bytes.Contains(wire, []byte{0x7d, 0x02}) || !bytes.Contains(wire, []byte{0x7d, 0x01}) {
		t.Fatalf("the frame %x has no escapes", wire)
	}
	c.raw.Reset()
	c.write(wire)
	if r := c.ack(serial, MsgLocation); r != ResultOK {
		t.Fatalf("answered %d", r)
	}
	// The answer names serial 0x7e7d: escaped on the wire, flags only at its ends.
	ans := c.raw.Bytes()
	if bytes.Count(ans, []byte{flagByte}) != 2 || !bytes.Contains(ans, []byte{0x7d, 0x02, 0x7d, 0x01}) {
		t.Errorf("answer on the wire %x", ans)
	}
	f.wantAt(t, f.vehicles[0], -10, 0)
}

// TestJT808Auth: a session belongs to the terminal that authenticated; a wrong code is refused.
func TestJT808Auth(t *testing.T) {
	f := mustJT808(t, 2, PipelineConfig{}, &JT808Server{})
	c := f.dial(t, Version2013, dev(0))
	c.expect(MsgAuth, authBody(Version2013, "wrong-code"), ResultFailed)
	c.expect(MsgLocation, locBody(at(-30), 0, located, 0), ResultFailed)
	c.expect(MsgAuth, authBody(Version2013, f.secretOf(t, f.vehicles[0])), ResultOK)

	// Another terminal on the same connection is not authenticated by the first one's auth.
	other := &jtClient{tb: t, conn: c.conn, fr: c.fr, v: Version2019, phone: dev(1)}
	other.expect(MsgLocation, locBody(at(-20), 0, located, 0), ResultFailed)
	if _, ok := f.index.Vehicle(f.vehicles[1]); ok {
		t.Error("the other terminal's location moved its vehicle")
	}
	// The same terminal in a 2019 header is the same terminal.
	same := &jtClient{tb: t, conn: c.conn, fr: c.fr, v: Version2019, phone: "00000000" + dev(0)}
	same.expect(MsgLocation, locBody(at(-10), 0, located, 0), ResultOK)
	f.wantAt(t, f.vehicles[0], -10, 0)
	// An auth that fails ends the session.
	c.expect(MsgAuth, authBody(Version2013, "013900000000"), ResultFailed)
	c.expect(MsgLocation, locBody(at(-5), 0, located, 0), ResultFailed)

	st := f.srv.Stats()
	if st.AuthFailures != 2 || st.Unauthenticated != 3 || st.Fixes != 1 {
		t.Errorf("stats = %+v", st)
	}
	if ps := f.p.Stats(); ps.Refused[ReasonBadSecret] != 2 {
		t.Errorf("pipeline refused = %v", ps.Refused)
	}
}

func TestJT808Register(t *testing.T) {
	f := mustJT808(t, 1, PipelineConfig{}, &JT808Server{})
	register := func(c *jtClient, body []byte) RegisterResponse {
		t.Helper()
		serial := c.send(MsgRegister, body)
		p := c.read()
		r, err := ParseRegisterResponse(p.Body)
		if p.MsgID != MsgRegisterAck || err != nil || r.Serial != serial {
			t.Fatalf("register answered %#04x %+v %v", p.MsgID, r, err)
		}
		return r
	}
	if r := register(f.dial(t, Version2013, "013999999999"), registerBody(t, Version2013, "鲁D00000")); r.Result != RegisterNoSuchTerminal || r.AuthCode != "" {
		t.Errorf("unknown terminal: %+v", r)
	}
	if r := register(f.dial(t, Version2013, dev(0)), registerBody(t, Version2013, "鲁A12345")); r.Result != RegisterNoSuchVehicle || r.AuthCode != "" {
		t.Errorf("another vehicle's plate: %+v", r)
	}
	if r := register(f.dial(t, Version2019, dev(0)), registerBody(t, Version2019, "")); r.Result != RegisterNoSuchVehicle || r.AuthCode != "" {
		t.Errorf("no plate for a vehicle that has one: %+v", r)
	}
	plate := f.plateOf(t, f.vehicles[0])
	if r := register(f.dial(t, Version2019, dev(0)), registerBody(t, Version2019, plate)); r.Result != RegisterOK || r.AuthCode != f.secretOf(t, f.vehicles[0]) {
		t.Errorf("the vehicle's plate: %+v", r)
	}
	c := f.dial(t, Version2013, dev(0))
	c.expect(MsgRegister, []byte{0, 1, 2}, ResultBadMessage)

	if st := f.srv.Stats(); st.Registered != 1 || st.RegisterRefused != 3 || st.BadFrames[FaultBody] != 1 {
		t.Errorf("stats = %+v", st)
	}

	g := mustJT808(t, 1, PipelineConfig{}, &JT808Server{DisableRegistration: true})
	if r := register(g.dial(t, Version2013, dev(0)), registerBody(t, Version2013, "鲁D00000")); r.Result != RegisterNoSuchTerminal || r.AuthCode != "" {
		t.Errorf("registration disabled: %+v", r)
	}
	if st := g.srv.Stats(); st.Registered != 0 || st.RegisterRefused != 1 {
		t.Errorf("stats = %+v", st)
	}
}

// TestJT808Fixes: what the pipeline makes of fixes decides the answer.
func TestJT808Fixes(t *testing.T) {
	alarms := make(chan liftrescue.Fix, 1)
	f := mustJT808(t, 1, PipelineConfig{
		OnAlarm: func(_ int64, fix liftrescue.Fix) { alarms <- fix },
	}, &JT808Server{})
	c := f.dial(t, Version2013, dev(0))
	c.expect(MsgAuth, authBody(Version2013, f.secretOf(t, f.vehicles[0])), ResultOK)

	// Unlocated: kept, answered, no move.
	c.expect(MsgLocation, locBody(at(-100), 0, StatusACC, 0), ResultOK)
	if _, ok := f.index.Vehicle(f.vehicles[0]); ok {
		t.Error("an unlocated fix moved the vehicle")
	}
	// Invalid: refused but answered with success; sending it again would not help.
	zero := Location{Status: located, Time: at(-90)}
	c.expect(MsgLocation, AppendLocation(nil, &zero), ResultOK)
	c.expect(MsgLocation, locBody(at(3600), 0, located, 0), ResultOK) // an hour ahead
	if _, ok := f.index.Vehicle(f.vehicles[0]); ok {
		t.Error("an invalid fix moved the vehicle")
	}
	// SOS reaches the pipeline's alarm hook.
	c.expect(MsgLocation, locBody(at(-80), 0, located, AlarmSOS), ResultOK)
	select {
	case fix := <-alarms:
		if fix.Alarm != "sos" || fix.DeviceID != "13900000000" {
			t.Errorf("alarm fix %+v", fix)
		}
	case <-time.After(jtWait):
		t.Fatal("no alarm")
	}
	f.wantAt(t, f.vehicles[0], -80, 0)
	// Out of order: kept, answered with success.
	c.expect(MsgLocation, locBody(at(-85), 0, located, 0), ResultOK)

	st, ps := f.srv.Stats(), f.p.Stats()
	if st.Fixes != 3 || st.FixesRejected != 2 || ps.Unlocated != 1 || ps.OutOfOrder != 1 || ps.Rejected["invalid lat"] != 1 || ps.Rejected["invalid time"] != 1 {
		t.Errorf("stats = %+v, pipeline %+v", st, ps)
	}
}

// TestJT808Backlog: fixes the ingest cannot take now are answered with failure, so that the
// terminal keeps them and sends them again.
func TestJT808Backlog(t *testing.T) {
	f := mustJT808(t, 1, PipelineConfig{MaxBacklog: 2}, &JT808Server{})
	f.store.fail.Store(true)
	c := f.dial(t, Version2013, dev(0))
	c.expect(MsgAuth, authBody(Version2013, f.secretOf(t, f.vehicles[0])), ResultOK)
	c.expect(MsgLocation, locBody(at(-50), 0, located, 0), ResultOK)
	// One item of the batch fits: the batch is answered with failure as a whole.
	c.expect(MsgLocationBatch, batchBody(locBody(at(-40), 0, located, 0), locBody(at(-30), 0, located, 0)), ResultFailed)
	c.expect(MsgLocation, locBody(at(-20), 0, located, 0), ResultFailed)

	// Several messages in one round: only those with a refused fix fail.
	f.store.fail.Store(false)
	storetest.MustOK(t, f.p.Flush(f.ctx))
	w1, s1 := c.frame(MsgHeartbeat, nil)
	w2, s2 := c.frame(MsgLocation, locBody(at(-10), 0, located, 0))
	w3, s3 := c.frame(MsgLocation, locBody(at(-9), 0, located, 0))
	w4, s4 := c.frame(MsgLocation, locBody(at(-8), 0, located, 0))
	c.write(w1, w2, w3, w4)
	for _, w := range []struct {
		serial, msg uint16
		result      byte
	}{{s1, MsgHeartbeat, ResultOK}, {s2, MsgLocation, ResultOK}, {s3, MsgLocation, ResultOK}, {s4, MsgLocation, ResultFailed}} {
		if got := c.ack(w.serial, w.msg); got != w.result {
			t.Errorf("serial %d answered %d, want %d", w.serial, got, w.result)
		}
	}

	// A closed pipeline: failure too.
	storetest.MustOK(t, f.p.Close(f.ctx))
	c.expect(MsgLocation, locBody(at(-1), 0, located, 0), ResultFailed)
}

// TestJT808RateLimited: a message with a fix over its terminal's rate limit is answered with
// failure, so that the terminal sends it again later, and counted.
func TestJT808RateLimited(t *testing.T) {
	var clock testClock
	f := mustJT808(t, 1, PipelineConfig{Now: clock.Now, DeviceRate: 1, DeviceBurst: 2}, &JT808Server{})
	c := f.dial(t, Version2013, dev(0))
	c.expect(MsgAuth, authBody(Version2013, f.secretOf(t, f.vehicles[0])), ResultOK)
	c.expect(MsgLocation, locBody(at(-50), 0, located, 0), ResultOK)
	// One item of the batch fits in the limit: the batch fails as a whole.
	c.expect(MsgLocationBatch, batchBody(locBody(at(-40), 0, located, 0), locBody(at(-30), 0, located, 0)), ResultFailed)
	c.expect(MsgLocation, locBody(at(-20), 0, located, 0), ResultFailed)
	c.expect(MsgHeartbeat, nil, ResultOK)
	clock.Add(time.Second)
	c.expect(MsgLocation, locBody(at(-20), 0, located, 0), ResultOK)
	f.wantAt(t, f.vehicles[0], -20, 0)

	st, ps := f.srv.Stats(), f.p.Stats()
	if st.RateLimited != 2 || st.Fixes != 3 || st.FixesRejected != 2 || ps.Rejected[ReasonRateLimited] != 2 {
		t.Errorf("stats = %+v, pipeline %+v", st, ps)
	}
}

// TestJT808Pipelined: many messages in one write are answered in order, serials counting up.
func TestJT808Pipelined(t *testing.T) {
	f := mustJT808(t, 1, PipelineConfig{}, &JT808Server{})
	c := f.dial(t, Version2019, dev(0))
	c.expect(MsgAuth, authBody(Version2019, f.secretOf(t, f.vehicles[0])), ResultOK)
	var wire [][]byte
	var serials []uint16
	for i := range 50 {
		w, s := c.frame(MsgLocation, locBody(at(-100+i), float64(i), located, 0))
		wire, serials = append(wire, w), append(serials, s)
	}
	c.write(wire...)
	for i, s := range serials {
		if r := c.ack(s, MsgLocation); r != ResultOK {
			t.Fatalf("message %d answered %d", i, r)
		}
	}
	f.wantAt(t, f.vehicles[0], -51, 49)
	if st := f.srv.Stats(); st.Fixes != 50 {
		t.Errorf("stats = %+v", st)
	}
}

func TestJT808IdleTimeout(t *testing.T) {
	f := mustJT808(t, 1, PipelineConfig{}, &JT808Server{IdleTimeout: 100 * time.Millisecond})
	t.Run("silent", func(t *testing.T) {
		c := f.dial(t, Version2013, dev(0))
		c.closed()
	})
	t.Run("garbage", func(t *testing.T) {
		// Noise and broken frames without end never make a valid frame: the timeout still ends them.
		c := f.dial(t, Version2013, dev(0))
		var wg sync.WaitGroup
		wg.Go(func() {
			noise := bytes.Repeat([]byte{0x7e, 0x01, 0x02, 0x7e, 0x55}, 100)
			for {
				if _, err := c.conn.Write(noise); err != nil {
					return
				}
			}
		})
		c.closed()
		c.conn.Close()
		wg.Wait()
	})
	t.Run("heartbeats without auth", func(t *testing.T) {
		// Valid frames, but the terminal never authenticates: it cannot hold a place for ever.
		c := f.dial(t, Version2013, dev(0))
		c.expect(MsgHeartbeat, nil, ResultOK)
		var wg sync.WaitGroup
		wg.Go(func() {
			for {
				if _, err := c.conn.Write(mustHex(findVector(t, "G-134").Hex)); err != nil {
					return
				}
			}
		})
		for {
			c.conn.SetReadDeadline(time.Now().Add(jtWait))
			if _, err := c.fr.Next(); err != nil {
				if err != io.EOF && !isReset(err) {
					t.Errorf("read: %v, want the connection closed", err)
				}
				break
			}
		}
		c.conn.Close()
		wg.Wait()
	})
	t.Run("authenticated", func(t *testing.T) {
		// An authenticated terminal's heartbeats keep it: it outlives several timeouts.
		c := f.dial(t, Version2013, dev(0))
		c.expect(MsgAuth, authBody(Version2013, f.secretOf(t, f.vehicles[0])), ResultOK)
		for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); {
			c.expect(MsgHeartbeat, nil, ResultOK)
		}
	})
	if st := f.srv.Stats(); st.Timeouts != 3 {
		t.Errorf("stats = %+v", st)
	}
}

func TestJT808MaxConns(t *testing.T) {
	f := mustJT808(t, 1, PipelineConfig{}, &JT808Server{MaxConns: 1})
	c1 := f.dial(t, Version2013, dev(0))
	c1.expect(MsgHeartbeat, nil, ResultOK) // served: the one connection allowed
	c2 := f.dial(t, Version2013, dev(0))
	c2.closed()
	c1.expect(MsgHeartbeat, nil, ResultOK)
	if st := f.srv.Stats(); st.Refused != 1 || st.Open != 1 || st.Accepted != 2 {
		t.Errorf("stats = %+v", st)
	}
}

// TestJT808MaxConnsPerAddr: from an address that holds MaxConnsPerAddr connections, another is
// closed at once while the others go on; when one of them ends, a new one is served.
func TestJT808MaxConnsPerAddr(t *testing.T) {
	const limit = 3
	f := mustJT808(t, 1, PipelineConfig{}, &JT808Server{MaxConnsPerAddr: limit})
	var conns []*jtClient
	for range limit {
		c := f.dial(t, Version2013, dev(0))
		c.expect(MsgHeartbeat, nil, ResultOK)
		conns = append(conns, c)
	}
	f.dial(t, Version2013, dev(0)).closed()
	for _, c := range conns {
		c.expect(MsgHeartbeat, nil, ResultOK)
	}
	conns[0].expect(MsgLogout, nil, ResultOK)
	conns[0].closed()
	f.dial(t, Version2013, dev(0)).expect(MsgHeartbeat, nil, ResultOK)
	if st := f.srv.Stats(); st.RefusedPerAddr != 1 || st.Refused != 0 || st.Open != limit || st.Accepted != limit+2 {
		t.Errorf("stats = %+v", st)
	}
}

func TestConnAddr(t *testing.T) {
	for _, tc := range []struct {
		remote net.Addr
		want   string
	}{
		{&net.TCPAddr{IP: net.ParseIP("192.0.2.7"), Port: 40001}, "192.0.2.7"},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:192.0.2.7"), Port: 40002}, "192.0.2.7"}, // the same, on a dual-stack socket
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2:a:b:c:d"), Port: 40003}, "2001:db8:1:2::"},
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:2::9"), Port: 40004}, "2001:db8:1:2::"}, // the same /64
		{&net.TCPAddr{IP: net.ParseIP("2001:db8:1:3::9"), Port: 40005}, "2001:db8:1:3::"},
		{&net.TCPAddr{}, "none"},
		{&net.UnixAddr{Name: "@", Net: "unix"}, "none"},
	} {
		got := "none"
		if a, ok := connAddr(tc.remote); ok {
			got = a.String()
		}
		if got != tc.want {
			t.Errorf("%v: %s, want %s", tc.remote, got, tc.want)
		}
	}
}

func TestJT808Shutdown(t *testing.T) {
	srv := &JT808Server{}
	f := &jtFixture{pipeFixture: MustPipeline(t, 1, PipelineConfig{}), srv: srv, served: make(chan error, 1)}
	srv.Pipeline = f.p
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.addr = ln.Addr().String()
	go func() { f.served <- srv.Serve(ln) }()

	idle := f.dial(t, Version2013, dev(0))
	idle.expect(MsgHeartbeat, nil, ResultOK)
	busy := f.dial(t, Version2013, dev(0))
	busy.expect(MsgAuth, authBody(Version2013, f.secretOf(t, f.vehicles[0])), ResultOK)
	half, _ := busy.frame(MsgHeartbeat, nil)
	busy.write(half[:5]) // a frame begun

	ctx, cancel := context.WithTimeout(context.Background(), jtWait)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	idle.closed()
	busy.closed()
	select {
	case err := <-f.served:
		if !errors.Is(err, ErrServerClosed) || !errors.Is(err, net.ErrClosed) {
			t.Errorf("Serve returned %v", err)
		}
	case <-time.After(jtWait):
		t.Fatal("Serve did not return")
	}
	if _, err := net.DialTimeout("tcp", f.addr, jtWait); err == nil {
		t.Error("the listener still accepts")
	}
	if err := srv.Serve(ln); !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve after Shutdown = %v", err)
	}
	if st := srv.Stats(); st.Open != 0 || st.Timeouts != 0 {
		t.Errorf("stats = %+v", st)
	}
}

// memConn is a connection whose terminal sent the bytes of r and closed; what the server writes
// is kept.
type memConn struct {
	r *bytes.Reader
	w bytes.Buffer
}

func (c *memConn) Read(b []byte) (int, error)       { return c.r.Read(b) }
func (c *memConn) Write(b []byte) (int, error)      { return c.w.Write(b) }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// FuzzJT808Conn feeds arbitrary bytes to one connection's handler: it must end when the bytes do,
// and write nothing but whole, valid answers.
func FuzzJT808Conn(f *testing.F) {
	pf := MustPipeline(f, 1, PipelineConfig{})
	srv := &JT808Server{Pipeline: pf.p, Logger: pf.p.log}
	secret := pf.secretOf(f, pf.vehicles[0])
	msg := func(v Version, id, serial uint16, body []byte) []byte {
		h, err := NewHeader(v, id, serial, dev(0))
		if err != nil {
			f.Fatal(err)
		}
		return AppendMessage(nil, &h, body)
	}
	session := bytes.Join([][]byte{
		msg(Version2013, MsgRegister, 0, registerBody(f, Version2013, "鲁D00000")),
		msg(Version2013, MsgAuth, 1, authBody(Version2013, secret)),
		msg(Version2013, MsgLocation, 2, locBody(at(-10), 0, located, AlarmSOS)),
		msg(Version2019, MsgLocationBatch, 3, batchBody(locBody(at(-5), 1, located, 0), locBody(at(-4), 2, 0, 0))),
		msg(Version2013, MsgHeartbeat, 4, nil),
		msg(Version2013, 0x0900, 5, []byte{1}),
		msg(Version2013, MsgLogout, 6, nil),
		msg(Version2013, MsgHeartbeat, 7, nil),
	}, nil)
	f.Add(session)
	f.Add(session[:len(session)/2])
	f.Add(bytes.ReplaceAll(session, []byte{0x7e, 0x7e}, []byte{0x7e}))
	for _, id := range []string{"G-140", "G-146", "S-119", "G-162", "T-004"} {
		f.Add(mustHex(findVector(f, id).Hex))
	}
	f.Add([]byte{0x7e, 0x7d, 0x7e, 0x7e, 0x7d, 0x03, 0x7e})
	f.Fuzz(func(t *testing.T, data []byte) {
		conn := &memConn{r: bytes.NewReader(data)}
		done := make(chan struct{})
		go func() {
			defer close(done)
			srv.newConn(conn).serve()
		}()
		select {
		case <-done:
		case <-time.After(jtWait):
			t.Fatalf("the handler did not end on %d bytes", len(data))
		}
		fr := NewFrameReader(bufio.NewReader(bytes.NewReader(conn.w.Bytes())), 0)
		for {
			frame, err := fr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("the server wrote a bad frame: %v in %s", err, hex.EncodeToString(conn.w.Bytes()))
			}
			p, err := ParsePacket(frame)
			if err != nil || (p.MsgID != MsgPlatformAck && p.MsgID != MsgRegisterAck) {
				t.Fatalf("the server wrote %+v, %v", p.Header, err)
			}
		}
		if fr.Skipped() != 0 {
			t.Fatalf("the server wrote %d bytes outside frames", fr.Skipped())
		}
	})
}

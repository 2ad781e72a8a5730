package loadgen

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liftrescue/liftrescue/gps"
)

// loginConcurrency bounds the JT/T 808 connections being opened at once, so that a thousand
// terminals do not overflow the server's accept queue.
const loginConcurrency = 64

// loginTimeout bounds the dial, register and auth of one terminal.
const loginTimeout = 10 * time.Second

// heartbeatEvery is how often a terminal with nothing to report sends a heartbeat (0x0002), as
// terminals do, so that a slow run keeps its connections (servers close idle ones: liftrescue's
// after 5 minutes). A variable for the tests.
var heartbeatEvery = time.Minute

// registerBody is a terminal's register message body: province and city from the 6-digit
// district code (GB/T 2260: the first two digits and the last four), plate colour 1 (blue).
func registerBody(dst []byte, v gps.Version, district, terminalID, plate string) []byte {
	r := gps.Register{Maker: "LGEN", Model: "LOADGEN", TerminalID: terminalID, PlateColor: 1, Plate: plate}
	if len(district) == 6 {
		province, _ := strconv.Atoi(district[:2])
		city, _ := strconv.Atoi(district[2:])
		r.Province, r.City = uint16(province), uint16(city)
	}
	if id := 7; v != gps.Version2019 && len(r.TerminalID) > id {
		r.TerminalID = r.TerminalID[len(r.TerminalID)-id:]
	}
	return gps.AppendRegister(dst, v, &r)
}

func (e *runEnv) runJT808(ctx context.Context) ([]*workerStats, *LoginReport) {
	login := &LoginReport{FailedBy: map[string]int64{}}
	start := time.Now()
	terms := make([]*terminal, len(e.devices))
	sem := make(chan struct{}, loginConcurrency)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range e.devices {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			rng := e.rng(i)
			t := &terminal{env: e, st: newWorkerStats(), rng: rng, window: make(chan struct{}, e.cfg.Window)}
			t.device = device{Device: e.devices[i], walker: newWalker(e.area, rng, time.Now())}
			err := t.login(ctx)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				login.Failed++
				counter(login.FailedBy).add(errKind(err), 1)
				return
			}
			login.Connected++
			terms[i] = t
		})
	}
	wg.Wait()
	login.Seconds = time.Since(start).Seconds()
	var live []*terminal
	for _, t := range terms {
		if t != nil {
			live = append(live, t)
		}
	}
	ws := make([]*workerStats, len(live))
	for i, t := range live {
		ws[i] = t.st
	}
	if len(live) == 0 || ctx.Err() != nil {
		for _, t := range live {
			t.conn.Close()
		}
		return ws, login
	}
	perConn := e.cfg.Rate / float64(len(live))
	// Frames go out in bursts of what the window allows, but at a low rate no more than 20 ms
	// worth, so that the bursts do not eat into the rate at the end of the run.
	burst := e.cfg.Window
	if perConn > 0 {
		burst = max(1, min(burst, int(perConn*0.02)))
	}
	e.phase(ctx, ws, func(i int) { live[i].run(newPacer(perConn, e.start), burst) })
	return ws, login
}

// terminal is one JT/T 808 connection and the device on it.
type terminal struct {
	env *runEnv
	st  *workerStats
	rng *rand.Rand
	device

	conn   net.Conn
	br     *bufio.Reader
	fr     *gps.FrameReader
	hdr    gps.Header
	serial uint16

	// window holds a token per frame in flight: the writer puts, the reader takes.
	window chan struct{}
	// sentAt holds, by serial modulo its length, the time each frame in flight was written (in
	// nanoseconds since the run started, plus one; 0 when the slot is free).
	sentAt  []atomic.Int64
	mask    uint16
	dead    chan struct{} // closed when the connection failed
	dieOnce sync.Once
	closing atomic.Bool

	wbuf, body, extra []byte
}

// loginError is a refusal by the server during register and auth: its own kind in the report.
func loginError(format string, args ...any) error { return kindError(fmt.Sprintf(format, args...)) }

var registerResults = map[byte]string{
	gps.RegisterVehicleTaken:   "vehicle taken",
	gps.RegisterNoSuchVehicle:  "no such vehicle",
	gps.RegisterTerminalTaken:  "terminal taken",
	gps.RegisterNoSuchTerminal: "no such terminal",
}

var ackResults = map[byte]string{
	gps.ResultFailed:      "failure",
	gps.ResultBadMessage:  "bad message",
	gps.ResultUnsupported: "unsupported",
}

func resultName(names map[byte]string, r byte) string {
	if n, ok := names[r]; ok {
		return "result " + strconv.Itoa(int(r)) + " (" + n + ")"
	}
	return "result " + strconv.Itoa(int(r))
}

// login dials, registers and authenticates.
func (t *terminal) login(ctx context.Context) error {
	cfg := t.env.cfg
	ctx, cancel := context.WithTimeout(ctx, loginTimeout)
	defer cancel()
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", cfg.JT808Addr)
	if err != nil {
		return err
	}
	ok := false
	defer func() {
		if !ok {
			conn.Close()
		}
	}()
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	t.conn = conn
	t.br = bufio.NewReaderSize(conn, 4096)
	t.fr = gps.NewFrameReader(t.br, 0)
	if t.hdr, err = gps.NewHeader(cfg.JT808Version, gps.MsgRegister, 0, t.ID); err != nil {
		return err
	}

	code, err := t.register()
	if err != nil {
		return err
	}
	t.body = gps.AppendAuth(t.body[:0], cfg.JT808Version, &gps.Auth{Code: code, IMEI: "8600" + t.ID, Software: "loadgen"})
	authSerial := t.send(gps.MsgAuth)
	if _, err := conn.Write(t.wbuf); err != nil {
		return err
	}
	for {
		p, err := t.readPacket()
		if err != nil {
			return fmt.Errorf("auth: %w", err)
		}
		if p.MsgID != gps.MsgPlatformAck {
			continue
		}
		gr, err := gps.ParseGeneralResponse(p.Body)
		if err != nil || gr.MsgID != gps.MsgAuth || gr.Serial != authSerial {
			continue
		}
		if gr.Result != gps.ResultOK {
			return loginError("auth refused: %s", resultName(ackResults, gr.Result))
		}
		break
	}
	conn.SetDeadline(time.Time{})
	ok = true
	return nil
}

// register sends the register message and returns the auth code of the answer; with
// JT808NoRegister it returns the device secret, as a terminal configured with its code has it.
func (t *terminal) register() (string, error) {
	cfg := t.env.cfg
	if cfg.JT808NoRegister {
		return t.Secret, nil
	}
	t.body = registerBody(t.body[:0], cfg.JT808Version, t.env.area.District, t.ID, t.Plate)
	regSerial := t.send(gps.MsgRegister)
	if _, err := t.conn.Write(t.wbuf); err != nil {
		return "", err
	}
	for {
		p, err := t.readPacket()
		if err != nil {
			return "", fmt.Errorf("register: %w", err)
		}
		switch p.MsgID {
		case gps.MsgRegisterAck:
			rr, err := gps.ParseRegisterResponse(p.Body)
			if err != nil || rr.Serial != regSerial {
				continue
			}
			if rr.Result != gps.RegisterOK {
				return "", loginError("register refused: %s", resultName(registerResults, rr.Result))
			}
			if rr.AuthCode == "" {
				return "", loginError("register answered without an auth code")
			}
			return rr.AuthCode, nil
		case gps.MsgPlatformAck:
			if gr, err := gps.ParseGeneralResponse(p.Body); err == nil && gr.MsgID == gps.MsgRegister && gr.Serial == regSerial {
				return "", loginError("register refused: %s", resultName(ackResults, gr.Result))
			}
		}
	}
}

// send puts the frame of a message with t.body in t.wbuf and returns its serial.
func (t *terminal) send(id uint16) uint16 {
	s := t.nextSerial()
	t.hdr.MsgID, t.hdr.Serial = id, s
	t.wbuf = gps.AppendMessage(t.wbuf[:0], &t.hdr, t.body)
	return s
}

func (t *terminal) nextSerial() uint16 {
	s := t.serial
	t.serial++
	return s
}

// readPacket reads the next frame the server sends, skipping frames it cannot read.
func (t *terminal) readPacket() (gps.Packet, error) {
	for {
		frame, err := t.fr.Next()
		var fe *gps.FrameError
		if errors.As(err, &fe) {
			continue
		}
		if err != nil {
			return gps.Packet{}, err
		}
		p, err := gps.ParsePacket(frame)
		if err == nil {
			return p, nil
		}
	}
}

// run sends location reports until the deadline, keeping up to the window in flight, then waits
// for the answers to the last ones.
func (t *terminal) run(pace *pacer, burst int) {
	e, st := t.env, t.st
	window := cap(t.window)
	size := 1 << bits.Len(uint(window-1))
	t.sentAt = make([]atomic.Int64, size)
	t.mask = uint16(size - 1)
	t.dead = make(chan struct{})
	t.conn.SetWriteDeadline(e.deadline.Add(drainGrace))
	var rwg sync.WaitGroup
	rwg.Go(t.read)
	defer func() {
		t.closing.Store(true)
		t.conn.Close()
		rwg.Wait()
		st.unanswered.Store(st.sent.Load() - st.accepted.Load() - st.rejected.Load())
	}()
	for {
		select {
		case t.window <- struct{}{}:
		case <-e.stop:
			t.drain()
			return
		case <-t.dead:
			return
		}
		k := 1
	more:
		for k < burst {
			select {
			case t.window <- struct{}{}:
				k++
			default:
				break more
			}
		}
		if !t.heartbeats(pace, k) || !pace.take(k, e.deadline, e.stop) {
			for range k {
				<-t.window
			}
			t.drain()
			return
		}
		now := time.Now()
		t.wbuf = t.wbuf[:0]
		for range k {
			t.wbuf = t.appendLocation(t.wbuf, now)
		}
		st.sent.Add(int64(k))
		st.requests.Add(int64(k))
		if _, err := t.conn.Write(t.wbuf); err != nil {
			t.die(err)
			return
		}
	}
}

// heartbeats sends a heartbeat every heartbeatEvery while the next k tokens are further away. It
// returns false when the run ended meanwhile.
func (t *terminal) heartbeats(pace *pacer, k int) bool {
	for pace.dueIn(k) > heartbeatEvery {
		if !sleep(heartbeatEvery, t.env.stop) {
			return false
		}
		t.body = t.body[:0]
		t.send(gps.MsgHeartbeat)
		if _, err := t.conn.Write(t.wbuf); err != nil {
			t.die(err)
			return false
		}
	}
	return true
}

// appendLocation appends a location report frame of the device at now and marks it in flight.
func (t *terminal) appendLocation(dst []byte, now time.Time) []byte {
	t.step(now, t.env.area, t.rng)
	r := t.rng.Uint32()
	t.extra = append(t.extra[:0], 0x01, 4) // mileage, 0.1 km
	km := uint32(t.odometer / 100)
	t.extra = append(t.extra, byte(km>>24), byte(km>>16), byte(km>>8), byte(km))
	t.extra = append(t.extra, 0x30, 1, byte(15+r%16), 0x31, 1, byte(6+r>>8%10)) // signal, satellites
	l := gps.Location{
		Status:    gps.StatusACC | gps.StatusLocated,
		Lat:       t.lat,
		Lon:       t.lon,
		AltitudeM: int16(t.altitude),
		Speed:     uint16(math.Round(t.speed * 10)),
		Direction: uint16(math.Round(t.heading)) % 360,
		Time:      now,
		Extra:     t.extra,
	}
	t.body = gps.AppendLocation(t.body[:0], &l)
	s := t.nextSerial()
	t.hdr.MsgID, t.hdr.Serial = gps.MsgLocation, s
	t.sentAt[s&t.mask].Store(int64(time.Since(t.env.start)) + 1)
	return gps.AppendMessage(dst, &t.hdr, t.body)
}

// drain waits until every frame in flight is answered, for drainGrace at most.
func (t *terminal) drain() {
	timer := time.NewTimer(drainGrace)
	defer timer.Stop()
	for range cap(t.window) {
		select {
		case t.window <- struct{}{}:
		case <-timer.C:
			return
		case <-t.dead:
			return
		}
	}
}

func (t *terminal) die(err error) {
	t.dieOnce.Do(func() {
		if !t.closing.Load() {
			t.st.fail(err, 0)
		}
		close(t.dead)
	})
}

// read counts the answers to location reports until the connection ends. The window slots of
// the answers that came in one read are given back together, so that the writer sends the next
// frames in one write rather than waking for each.
func (t *terminal) read() {
	st, start := t.st, t.env.start
	pending := 0
	for {
		if pending > 0 && t.br.Buffered() == 0 {
			for range pending {
				<-t.window
			}
			pending = 0
		}
		frame, err := t.fr.Next()
		if err != nil {
			var fe *gps.FrameError
			if errors.As(err, &fe) {
				continue
			}
			t.die(err)
			return
		}
		p, err := gps.ParsePacket(frame)
		if err != nil || p.MsgID != gps.MsgPlatformAck {
			continue // a platform command (0x8103…) a real terminal would answer; not counted
		}
		gr, err := gps.ParseGeneralResponse(p.Body)
		if err != nil || gr.MsgID != gps.MsgLocation {
			continue
		}
		at := t.sentAt[gr.Serial&t.mask].Swap(0)
		if at == 0 {
			st.mu.Lock()
			st.errorsBy.add("answer to no frame in flight", 1)
			st.mu.Unlock()
			continue
		}
		now := time.Now()
		st.answered(start.Add(time.Duration(at-1)), now)
		switch gr.Result {
		case gps.ResultOK, gps.ResultAlarmAck:
			st.accepted.Add(1)
		default:
			st.reject(resultName(ackResults, gr.Result), 1)
		}
		pending++
	}
}

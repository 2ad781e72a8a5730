package gps

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/liftrescue/liftrescue"
)

// JT/T 808 server defaults.
const (
	// DefaultJT808IdleTimeout closes a connection that sent no valid frame for this long: the
	// standard heartbeat interval is 60 s.
	DefaultJT808IdleTimeout = 5 * time.Minute
	// DefaultJT808WriteTimeout bounds the write of the answers to one read.
	DefaultJT808WriteTimeout = 10 * time.Second
	// DefaultJT808MaxConns bounds the connections open at once.
	DefaultJT808MaxConns = 10_000
	// jt808ReadBuffer is each connection's read buffer: many frames of a pipelining terminal, and
	// a whole 0x0704 batch (DefaultMaxFrame) without copying.
	jt808ReadBuffer = 4096
)

// ErrServerClosed is what JT808Server.Serve returns after Shutdown. It wraps net.ErrClosed.
var ErrServerClosed = fmt.Errorf("gps: server shut down: %w", net.ErrClosed)

// JT808Server serves JT/T 808 terminals over TCP (2011, 2013 and 2019 headers) and gives their
// fixes to the pipeline. Its zero value, with a Pipeline, is ready to use: registration over the
// air is on, and every limit has its default.
//
// A terminal registers (0x0100) to receive its auth code, the device secret, unless registration
// is disabled; it authenticates (0x0102) with that code, and the connection is then a session of
// that terminal: its location reports (0x0200) and batches (0x0704) are given to the pipeline as
// trusted. Locations from a session not authenticated for the terminal named in their header are
// answered with failure, upon which terminals authenticate again. Heartbeats (0x0002) and logouts
// (0x0003) are answered with success, a logout then closes the connection; other messages are
// answered "unsupported".
//
// A location message is answered with failure when the pipeline refused any of its fixes for its
// backlog, its shutdown or the device's rate limit (PipelineConfig.DeviceRate): the terminal keeps
// the fixes in its blind-area storage and sends them again. Fixes refused as invalid are answered
// with success: sending them again helps nobody.
//
// Frames that cannot be read (checksum, escape, length) are dropped and counted, and the
// connection stays up; a message whose body cannot be read is answered "bad message". A
// connection is closed when it sends no valid frame for IdleTimeout (garbage does not count), and
// when it has not authenticated within IdleTimeout of opening, so that connections that never
// authenticate cannot hold the MaxConns places.
//
// Each connection has one goroutine, which decodes every complete frame already received, gives
// all their fixes to one Accept call and writes all the answers at once.
type JT808Server struct {
	Pipeline *Pipeline
	// IdleTimeout closes a connection that sent no valid frame for so long, or that has not
	// authenticated so long after it opened; 0 means DefaultJT808IdleTimeout.
	IdleTimeout time.Duration
	// WriteTimeout bounds writing the answers; 0 means DefaultJT808WriteTimeout.
	WriteTimeout time.Duration
	// MaxConns bounds the connections open at once: beyond it a new connection is closed at once
	// and counted. 0 means DefaultJT808MaxConns, a negative number no bound.
	MaxConns int
	// MaxConnsPerAddr bounds the connections open at once from one remote address, so that one
	// client cannot take all of MaxConns: beyond it a new connection is closed at once and
	// counted. IPv6 addresses count by /64, what one subscriber gets. 0 or less means no bound.
	// Carriers put many terminals behind one NAT address: set it well above the terminals one
	// address may carry.
	MaxConnsPerAddr int
	// DisableRegistration answers every registration (0x0100) with "terminal not in the database",
	// for deployments that configure terminals with their auth codes. Registration over the air
	// hands the device secret to whoever names a known terminal (and its plate, if it sends one):
	// that is all the standard offers.
	DisableRegistration bool
	// Logger gets connection opens and closes at debug level and accept errors; slog.Default()
	// when nil.
	Logger *slog.Logger
	// Now is the clock of the logs; time.Now when nil. Deadlines use the system clock, as the
	// network does.
	Now func() time.Time

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	conns     map[*jtConn]struct{}
	perAddr   map[netip.Addr]int // connections open by remote address (see connAddr)
	wg        sync.WaitGroup
	down      atomic.Bool
	downCh    chan struct{} // closed by Shutdown; under mu
	c         jtCounters
}

// JT808Stats are the server's counters since it started.
type JT808Stats struct {
	Open     int   // connections open now
	Accepted int64 // connections accepted, the refused ones included
	Refused  int64 // connections closed at once because MaxConns were open
	Timeouts int64 // connections closed after IdleTimeout without a valid frame or an auth
	// RefusedPerAddr counts connections closed at once because MaxConnsPerAddr were open from
	// their address.
	RefusedPerAddr int64
	// Rounds counts the reads whose frames were handled together, in one Accept call and one
	// write (those with a valid frame): Frames/Rounds says how well a busy server batches.
	Rounds int64
	Frames int64 // frames with a good checksum and header
	// BadFrames counts frames dropped (FaultShort, FaultTooLarge, FaultEscape, FaultChecksum,
	// FaultLength) and messages answered as malformed (FaultBody) or unsupported
	// (FaultUnsupported: encrypted or subpackaged), by fault.
	BadFrames map[Fault]int64
	Skipped   int64 // bytes outside frames
	// Fixes and FixesRejected count the fixes the pipeline kept and refused; Pipeline.Stats says why.
	Fixes, FixesRejected int64
	// RateLimited counts location messages answered with failure because their terminal sent more
	// fixes than its rate limit allows (PipelineConfig.DeviceRate).
	RateLimited int64
	// Unauthenticated counts location messages from a session not authenticated for their
	// terminal, answered with failure.
	Unauthenticated int64
	AuthFailures    int64 // auth messages with a wrong code or from an unknown terminal
	Registered      int64 // registrations answered with the auth code
	RegisterRefused int64 // registrations refused (unknown terminal, plate mismatch, disabled)
	Unsupported     int64 // messages of ids the platform does not handle, answered "unsupported"
}

// jtCounters are the shared counters; connections add to them once per read.
type jtCounters struct {
	accepted, refused, refusedPerAddr, timeouts, rounds, frames, skipped, fixes, fixesRejected, rateLimited,
	unauthenticated, authFailures, registered, registerRefused, unsupported atomic.Int64
	bad [len(faultNames)]atomic.Int64
}

// Stats returns the counters.
func (s *JT808Server) Stats() JT808Stats {
	st := JT808Stats{
		Accepted: s.c.accepted.Load(), Refused: s.c.refused.Load(), Timeouts: s.c.timeouts.Load(),
		RefusedPerAddr: s.c.refusedPerAddr.Load(), Rounds: s.c.rounds.Load(), Frames: s.c.frames.Load(),
		Skipped: s.c.skipped.Load(), Fixes: s.c.fixes.Load(), FixesRejected: s.c.fixesRejected.Load(),
		RateLimited: s.c.rateLimited.Load(), Unauthenticated: s.c.unauthenticated.Load(),
		AuthFailures: s.c.authFailures.Load(), Registered: s.c.registered.Load(),
		RegisterRefused: s.c.registerRefused.Load(), Unsupported: s.c.unsupported.Load(),
		BadFrames: map[Fault]int64{},
	}
	for f := range s.c.bad {
		if n := s.c.bad[f].Load(); n != 0 {
			st.BadFrames[Fault(f)] = n
		}
	}
	s.mu.Lock()
	st.Open = len(s.conns)
	s.mu.Unlock()
	return st
}

func (s *JT808Server) idleTimeout() time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return DefaultJT808IdleTimeout
}

func (s *JT808Server) writeTimeout() time.Duration {
	if s.WriteTimeout > 0 {
		return s.WriteTimeout
	}
	return DefaultJT808WriteTimeout
}

func (s *JT808Server) maxConns() int {
	switch {
	case s.MaxConns > 0:
		return s.MaxConns
	case s.MaxConns < 0:
		return int(^uint(0) >> 1)
	}
	return DefaultJT808MaxConns
}

func (s *JT808Server) logger() *slog.Logger {
	if s.Logger != nil {
		return s.Logger
	}
	return slog.Default()
}

func (s *JT808Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// Serve accepts connections on ln and serves each in a goroutine of its own until Shutdown, after
// which it returns ErrServerClosed. It closes ln when it returns.
func (s *JT808Server) Serve(ln net.Listener) error {
	if s.Pipeline == nil {
		return errors.New("gps: JT/T 808 server without a pipeline")
	}
	s.mu.Lock()
	if s.down.Load() {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners, s.conns, s.downCh = map[net.Listener]struct{}{}, map[*jtConn]struct{}{}, make(chan struct{})
		s.perAddr = map[netip.Addr]int{}
	}
	s.listeners[ln] = struct{}{}
	down := s.downCh
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.down.Load() {
				return ErrServerClosed
			}
			if errors.Is(err, net.ErrClosed) {
				return err
			}
			// Out of file descriptors, a connection reset before it was accepted: wait and go on,
			// as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logger().Error("JT/T 808 accept failed; retrying", "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-down:
			}
			continue
		}
		backoff = 0
		s.c.accepted.Add(1)
		addr, capped := connAddr(nc.RemoteAddr())
		capped = capped && s.MaxConnsPerAddr > 0
		s.mu.Lock()
		switch {
		case s.down.Load():
			s.mu.Unlock()
			nc.Close()
			continue
		case len(s.conns) >= s.maxConns():
			s.mu.Unlock()
			s.c.refused.Add(1)
			nc.Close()
			continue
		case capped && s.perAddr[addr] >= s.MaxConnsPerAddr:
			s.mu.Unlock()
			s.c.refusedPerAddr.Add(1)
			nc.Close()
			// Debug only: a client that opens connections without end would fill the log.
			s.logger().Debug("JT/T 808 connection refused: too many open from its address",
				"remote", nc.RemoteAddr(), "max_conns_per_addr", s.MaxConnsPerAddr)
			continue
		}
		c := s.newConn(nc)
		s.conns[c] = struct{}{}
		if capped {
			c.addr = addr
			s.perAddr[addr]++
		}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			defer s.forget(c) // serve has done it, unless it panicked before
			// A bug met by one terminal's bytes ends its connection, not the server, as net/http
			// does with a request.
			defer func() {
				if r := recover(); r != nil {
					nc.Close()
					s.logger().Error("JT/T 808 connection handler panicked", "remote", nc.RemoteAddr(),
						"panic", r, "stack", string(debug.Stack()))
				}
			}()
			c.serve()
		}()
	}
}

// connAddr returns the address by which MaxConnsPerAddr counts a connection from remote: its IP
// address, IPv4 the same whether mapped into IPv6 or not, and for IPv6 its /64, which a carrier
// gives to one subscriber whole. It reports false for a remote that is no IP address.
func connAddr(remote net.Addr) (netip.Addr, bool) {
	tcp, ok := remote.(*net.TCPAddr)
	if !ok {
		return netip.Addr{}, false
	}
	ip, ok := netip.AddrFromSlice(tcp.IP)
	if !ok {
		return netip.Addr{}, false
	}
	ip = ip.Unmap()
	if ip.Is6() {
		p, _ := ip.Prefix(64)
		ip = p.Addr()
	}
	return ip, true
}

// forget takes a connection that ends out of the server's count, so that its places are free. It
// may be called more than once.
func (s *JT808Server) forget(c *jtConn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if c.addr.IsValid() {
		if s.perAddr[c.addr]--; s.perAddr[c.addr] <= 0 {
			delete(s.perAddr, c.addr)
		}
	}
}

// aLongTimeAgo is a deadline in the past, which wakes a blocked read at once.
var aLongTimeAgo = time.Unix(1, 0)

// Shutdown stops accepting connections, closes those waiting for their terminal and waits for the
// others to finish the messages they have read. When ctx ends first it closes them all and
// returns ctx's error.
func (s *JT808Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.down.Load() {
		s.down.Store(true)
		if s.downCh != nil {
			close(s.downCh)
		}
	}
	for ln := range s.listeners {
		ln.Close()
	}
	// A connection waiting for its terminal wakes and, seeing the server down, closes; one
	// handling frames finishes them first. See jtConn.serve for why no wake-up is missed.
	for c := range s.conns {
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.nc.Close()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

// jtConn is one terminal connection, used by its goroutine only.
type jtConn struct {
	s       *JT808Server
	nc      net.Conn
	addr    netip.Addr // its place in JT808Server.perAddr; the zero Addr for none
	br      *bufio.Reader
	fr      *FrameReader
	serial  uint16 // of the platform's next message
	session string // DeviceID of the terminal the connection is authenticated for; "" for none

	// The DeviceID of the last header seen, so that a terminal's id is made once, not per frame.
	lastPhone    [10]byte
	lastPhoneLen uint8
	lastID       string

	fixes   []liftrescue.Fix // of the frames read in this round
	answers []jtAnswer
	out     []byte
	n       jtDelta // counts of this round, added to the server's at its end
	skipped int64   // fr.Skipped() already counted

	readSet, writeSet time.Time // when the deadlines were last set
}

// jtAnswer is the answer to one message of a round, written once the round's fixes are accepted.
type jtAnswer struct {
	h        Header
	register bool   // a register response (0x8100) rather than a general response
	result   byte   // ResultOK… or RegisterOK…
	code     string // with RegisterOK
	from, to int    // the message's fixes in jtConn.fixes
}

type jtDelta struct {
	frames, unauthenticated, authFailures, registered, registerRefused, unsupported, rateLimited int64
	bad                                                                                          [len(faultNames)]int64
}

func (s *JT808Server) newConn(nc net.Conn) *jtConn {
	c := &jtConn{s: s, nc: nc, br: bufio.NewReaderSize(nc, jt808ReadBuffer)}
	c.fr = NewFrameReader(c.br, DefaultMaxFrame)
	return c
}

// serve reads rounds of frames until the terminal leaves, times out, logs out or the server
// shuts down. A round is every complete frame received: their fixes go to one Accept call and
// their answers out in one write.
func (c *jtConn) serve() {
	s := c.s
	start := s.now()
	log := s.logger()
	log.Debug("JT/T 808 connection opened", "remote", c.nc.RemoteAddr())
	why := "closed by the terminal"
	defer func() {
		// The places are freed before the connection is closed: a terminal that sees its
		// connection end may open another at once.
		s.forget(c)
		c.nc.Close()
		log.Debug("JT/T 808 connection closed", "remote", c.nc.RemoteAddr(), "terminal", c.session,
			"why", why, "duration", s.now().Sub(start))
	}()

	idle, refresh := s.idleTimeout(), true
	for {
		// The deadline moves on only after a valid frame of an authenticated session: garbage,
		// and heartbeats of a terminal that never authenticates, do not keep a connection. It is
		// set before the server's state is read, and Shutdown marks the server down before it
		// sets the deadline in the past: either this sees the server down, or Shutdown's deadline
		// comes after this one and wakes the read below.
		if refresh {
			c.deadlines(idle, 0)
		}
		if s.down.Load() {
			why = "server shutting down"
			return
		}
		frame, err := c.fr.Next()
		valid, logout := false, false
		for {
			if err != nil {
				fe, ok := err.(*FrameError)
				if !ok {
					break
				}
				c.n.bad[fe.Fault]++
				err = nil
			} else {
				ok, stop := c.frame(frame)
				valid = valid || ok
				if stop {
					logout = true
					break
				}
			}
			if !c.frameReady() {
				break
			}
			frame, err = c.fr.Next()
		}
		if werr := c.finishRound(); werr != nil {
			why = "write: " + werr.Error()
			return
		}
		switch {
		case logout:
			why = "logout"
			return
		case err == nil:
		case s.down.Load():
			why = "server shutting down"
			return
		case isTimeout(err):
			s.c.timeouts.Add(1)
			why = "idle timeout"
			return
		case err == io.EOF:
			return
		default:
			why = "read: " + err.Error()
			return
		}
		refresh = valid && c.session != ""
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// frameReady reports whether the bytes already received hold the end of a frame, so that the
// next FrameReader.Next returns without reading the connection (it may return sooner: noise
// between flags that turns out to be a frame).
func (c *jtConn) frameReady() bool {
	n := c.br.Buffered()
	if n == 0 {
		return false
	}
	b, _ := c.br.Peek(n)
	in := c.fr.inFrame
	for {
		i := bytes.IndexByte(b, flagByte)
		if i < 0 {
			return false
		}
		if in && i > 0 {
			return true
		}
		in = true
		b = b[i+1:]
	}
}

// deviceID returns the header's DeviceID, made once per terminal rather than per frame.
func (c *jtConn) deviceID(h *Header) string {
	if h.phoneLen != c.lastPhoneLen || h.phone != c.lastPhone || c.lastID == "" {
		c.lastPhone, c.lastPhoneLen, c.lastID = h.phone, h.phoneLen, h.DeviceID()
	}
	return c.lastID
}

// frame handles one frame: a fix-carrying message adds its fixes to the round, every message but a
// terminal's own answer gets its answer queued. ok is false for a frame that cannot be read; stop
// is true after a logout.
func (c *jtConn) frame(frame []byte) (ok, stop bool) {
	p, err := ParsePacket(frame)
	if err != nil {
		if fe, isFE := err.(*FrameError); isFE {
			c.n.bad[fe.Fault]++
		}
		return false, false
	}
	c.n.frames++
	h := &p.Header
	if h.MsgID == MsgTerminalAck {
		return true, false // the terminal's answer to a platform message: none sent, none expected
	}
	if p.Encryption() != 0 || p.Subpackage() {
		c.n.bad[FaultUnsupported]++
		c.answer(h, ResultUnsupported)
		return true, false
	}
	switch h.MsgID {
	case MsgHeartbeat:
		c.answer(h, ResultOK)
	case MsgLogout:
		c.answer(h, ResultOK)
		return true, true
	case MsgRegister:
		c.register(&p)
	case MsgAuth:
		c.auth(&p)
	case MsgLocation, MsgLocationBatch:
		id := c.deviceID(h)
		if c.session == "" || id != c.session {
			c.n.unauthenticated++
			c.answer(h, ResultFailed)
			break
		}
		from := len(c.fixes)
		result := ResultOK
		if err := c.appendFixes(&p, id); err != nil {
			// The fixes read before the fault are kept: sending the message again would not mend it.
			fault := err.(*FrameError).Fault
			c.n.bad[fault]++
			result = ResultBadMessage
			if fault == FaultUnsupported {
				result = ResultUnsupported
			}
		}
		c.answers = append(c.answers, jtAnswer{h: *h, result: result, from: from, to: len(c.fixes)})
	default:
		c.n.unsupported++
		c.answer(h, ResultUnsupported)
	}
	return true, false
}

func (c *jtConn) answer(h *Header, result byte) {
	c.answers = append(c.answers, jtAnswer{h: *h, result: result})
}

// appendFixes adds the fixes of a location report or batch to the round, as AppendFixes does but
// with the connection's device id instead of one made per frame.
func (c *jtConn) appendFixes(p *Packet, id string) error {
	if p.MsgID == MsgLocation {
		l, err := ParseLocation(p.Body)
		if err != nil {
			return err
		}
		c.fixes = append(c.fixes, l.Fix(id))
		return nil
	}
	var count int
	var typ byte
	return forEachLocation(p.Body, &count, &typ, func(l *Location) { c.fixes = append(c.fixes, l.Fix(id)) })
}

// register answers a registration with the auth code, the device secret, of a known terminal.
func (c *jtConn) register(p *Packet) {
	r, err := ParseRegister(p.Body, p.Version)
	if err != nil {
		c.n.bad[FaultBody]++
		c.answer(&p.Header, ResultBadMessage)
		return
	}
	result, code := RegisterNoSuchTerminal, ""
	if !c.s.DisableRegistration {
		_, code, err = c.s.Pipeline.Register(c.deviceID(&p.Header), r.Plate)
		switch {
		case err == nil:
			result = RegisterOK
		case errors.Is(err, ErrPlateMismatch):
			result = RegisterNoSuchVehicle
		}
	}
	if result == RegisterOK {
		c.n.registered++
	} else {
		c.n.registerRefused++
	}
	c.answers = append(c.answers, jtAnswer{h: p.Header, register: true, result: result, code: code})
}

// auth checks the auth code; the connection is then the session of that terminal, or of none.
func (c *jtConn) auth(p *Packet) {
	a, _ := ParseAuth(p.Body, p.Version) // never fails: a short body is an empty code
	id := c.deviceID(&p.Header)
	if _, err := c.s.Pipeline.Authenticate(id, a.Code); err != nil {
		c.session = ""
		c.n.authFailures++
		c.answer(&p.Header, ResultFailed)
		return
	}
	c.session = id
	c.answer(&p.Header, ResultOK)
}

// finishRound gives the round's fixes to the pipeline, answers its messages in one write and adds
// its counts to the server's.
func (c *jtConn) finishRound() error {
	s := c.s
	if len(c.fixes) > 0 {
		res := s.Pipeline.Accept(context.Background(), c.fixes, Proof{Trusted: true})
		s.c.fixes.Add(int64(res.Accepted))
		if len(res.Rejected) > 0 {
			s.c.fixesRejected.Add(int64(len(res.Rejected)))
			// A message with a fix the ingest could not take now is answered with failure: the
			// terminal keeps its fixes and sends them again. Rejected is in index order, and so
			// are the answers.
			a := 0
			for _, d := range res.Rejected {
				limited := d.Reason == ReasonRateLimited
				if !limited && d.Reason != ReasonHistoryBacklog && d.Reason != ReasonClosed || d.Index == nil {
					continue
				}
				for a < len(c.answers) && c.answers[a].to <= *d.Index {
					a++
				}
				if a < len(c.answers) && c.answers[a].from <= *d.Index {
					if limited && c.answers[a].result != ResultFailed {
						c.n.rateLimited++
					}
					c.answers[a].result = ResultFailed
				}
			}
		}
		clear(c.fixes)
		c.fixes = c.fixes[:0]
	}

	c.out = c.out[:0]
	for i := range c.answers {
		a := &c.answers[i]
		if a.register {
			c.out = AppendRegisterResponse(c.out, &a.h, c.serial, a.result, a.code)
		} else {
			c.out = AppendGeneralResponse(c.out, &a.h, c.serial, a.result)
		}
		c.serial++
	}
	clear(c.answers)
	c.answers = c.answers[:0]
	c.count()

	if len(c.out) == 0 {
		return nil
	}
	c.deadlines(0, s.writeTimeout())
	_, err := c.nc.Write(c.out)
	if cap(c.out) > 64<<10 {
		c.out = nil
	}
	return err
}

// deadlines moves the read deadline to idle from now and the write deadline to write from now,
// each that is not 0. Setting a deadline takes a lock and moves a timer, so a deadline is moved
// only once 1/16 of its timeout has passed since it was last set: a connection is closed after
// between 15/16 of the idle timeout and the whole of it, which is as good.
func (c *jtConn) deadlines(idle, write time.Duration) {
	now := time.Now()
	if idle > 0 && now.Sub(c.readSet) >= idle/16 {
		c.readSet = now
		c.nc.SetReadDeadline(now.Add(idle))
	}
	if write > 0 && now.Sub(c.writeSet) >= write/16 {
		c.writeSet = now
		c.nc.SetWriteDeadline(now.Add(write))
	}
}

// count adds the round's counts to the server's.
func (c *jtConn) count() {
	s, n := &c.s.c, &c.n
	add := func(dst *atomic.Int64, v int64) {
		if v != 0 {
			dst.Add(v)
		}
	}
	if n.frames > 0 {
		s.rounds.Add(1)
	}
	add(&s.frames, n.frames)
	add(&s.unauthenticated, n.unauthenticated)
	add(&s.authFailures, n.authFailures)
	add(&s.registered, n.registered)
	add(&s.registerRefused, n.registerRefused)
	add(&s.unsupported, n.unsupported)
	add(&s.rateLimited, n.rateLimited)
	for f, v := range n.bad {
		add(&s.bad[f], v)
	}
	sk := c.fr.Skipped()
	add(&s.skipped, sk-c.skipped)
	c.skipped = sk
	*n = jtDelta{}
}

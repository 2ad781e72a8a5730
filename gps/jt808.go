package gps

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"io"
	"iter"
	"math"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/text/encoding/simplifiedchinese"

	"github.com/liftrescue/liftrescue"
)

// JT/T 808 is the Chinese standard protocol of vehicle trackers: binary messages over TCP, each
// framed by 0x7e flags, with 0x7e and 0x7d inside escaped as 0x7d 0x02 and 0x7d 0x01 and an XOR
// checksum at the end. The decoders below take a frame through three steps, each usable alone:
// FrameReader splits a stream into unescaped frames, ParsePacket checks the checksum and reads the
// header, and ParseLocation, ParseRegister… read the body of one message id.

// Message ids the platform handles.
const (
	MsgTerminalAck   uint16 = 0x0001 // terminal general response
	MsgHeartbeat     uint16 = 0x0002 // empty body
	MsgLogout        uint16 = 0x0003 // empty body
	MsgRegister      uint16 = 0x0100
	MsgAuth          uint16 = 0x0102
	MsgLocation      uint16 = 0x0200
	MsgLocationBatch uint16 = 0x0704
	MsgPlatformAck   uint16 = 0x8001 // platform general response
	MsgRegisterAck   uint16 = 0x8100
)

// Results of a platform general response (0x8001).
const (
	ResultOK          byte = 0
	ResultFailed      byte = 1
	ResultBadMessage  byte = 2
	ResultUnsupported byte = 3
	ResultAlarmAck    byte = 4 // alarm handling confirmed
)

// Results of a register response (0x8100). Only RegisterOK carries an auth code.
const (
	RegisterOK             byte = 0
	RegisterVehicleTaken   byte = 1 // the vehicle is registered to another terminal
	RegisterNoSuchVehicle  byte = 2
	RegisterTerminalTaken  byte = 3 // the terminal is registered to another vehicle
	RegisterNoSuchTerminal byte = 4
)

// Bits of a location report's status and alarm words, as kept in liftrescue.Fix.Flags: the alarm
// word in the high 32 bits, the status word in the low 32.
const (
	StatusACC     uint32 = 1 << 0 // ignition on
	StatusLocated uint32 = 1 << 1 // the position is a current GNSS fix, not the last known one
	StatusSouth   uint32 = 1 << 2
	StatusWest    uint32 = 1 << 3
	AlarmSOS      uint32 = 1 << 0 // the emergency button
)

const (
	flagByte = 0x7e
	escByte  = 0x7d

	header2013    = 12 // id 2, properties 2, BCD phone 6, serial 2
	header2019    = 17 // id 2, properties 2, protocol version 1, BCD phone 10, serial 2
	subpackageLen = 4  // packet count 2, packet number 2
	maxBody       = 0x3ff
	locationLen   = 28 // the basic information of a location report

	propVersion2019 = 1 << 14
	propSubpackage  = 1 << 13
)

// DefaultMaxFrame is the largest frame the standard allows, counted as received between the flags
// (every byte escaped): a 2019 header with subpackage fields, a 1023-byte body and the checksum.
const DefaultMaxFrame = 2 * (header2019 + subpackageLen + maxBody + 1)

// MaxAuthCode is the longest auth code a register response can carry.
const MaxAuthCode = maxBody - 3

// Version is the header layout a terminal uses.
type Version uint8

const (
	// Version2013 is the header of JT/T 808-2011 and -2013: 12 bytes with a 6-byte BCD phone.
	Version2013 Version = iota
	// Version2019 is the header of JT/T 808-2019: bit 14 of the properties set, a protocol
	// version byte and a 10-byte BCD phone, 17 bytes.
	Version2019
)

func (v Version) String() string {
	if v == Version2019 {
		return "2019"
	}
	return "2013"
}

// Fault says what is wrong with a frame.
type Fault uint8

const (
	FaultShort       Fault = iota + 1 // shorter than the smallest header
	FaultTooLarge                     // longer than the reader's maximum; skipped unread
	FaultEscape                       // 0x7d followed by neither 0x01 nor 0x02, or a bare 0x7e
	FaultChecksum                     // the XOR of the frame does not match its last byte
	FaultLength                       // the body length in the header exceeds the bytes present
	FaultBody                         // the body is malformed for its message id
	FaultUnsupported                  // an encrypted or subpackaged body the platform cannot read
)

var faultNames = [...]string{"", "short frame", "frame too large", "bad escape", "bad checksum",
	"bad length", "bad body", "unsupported"}

func (f Fault) String() string {
	if int(f) < len(faultNames) && f != 0 {
		return faultNames[f]
	}
	return "fault " + strconv.Itoa(int(f))
}

// FrameError reports a frame, or the body of one message, that cannot be used. The frames around
// it are unaffected: a server drops it, counts it by Fault and keeps the connection. For a body
// fault (FaultBody, FaultUnsupported) the header was read, and the terminal can be answered with
// ResultBadMessage or ResultUnsupported.
type FrameError struct {
	Fault Fault
	Msg   string
}

func (e *FrameError) Error() string {
	if e.Msg == "" {
		return "jt808: " + e.Fault.String()
	}
	return "jt808: " + e.Fault.String() + ": " + e.Msg
}

// Is makes errors.Is(err, ErrChecksum) true for every checksum fault, whatever its message.
func (e *FrameError) Is(target error) bool {
	t, ok := target.(*FrameError)
	return ok && t.Msg == "" && t.Fault == e.Fault
}

// Sentinels to match with errors.Is.
var (
	ErrShort       = &FrameError{Fault: FaultShort}
	ErrTooLarge    = &FrameError{Fault: FaultTooLarge}
	ErrEscape      = &FrameError{Fault: FaultEscape}
	ErrChecksum    = &FrameError{Fault: FaultChecksum}
	ErrLength      = &FrameError{Fault: FaultLength}
	ErrBody        = &FrameError{Fault: FaultBody}
	ErrUnsupported = &FrameError{Fault: FaultUnsupported}
)

func frameErr(f Fault, format string, args ...any) *FrameError {
	return &FrameError{Fault: f, Msg: fmt.Sprintf(format, args...)}
}

// ---------------------------------------------------------------------------------------------
// Framing and escaping

// FrameReader splits a JT/T 808 byte stream into frames. Bytes outside frames (line noise, a
// partial frame at the start of a connection) are skipped and counted. Frames that share one flag
// between them (7e…7e…7e), as some terminals send, are recognised too.
//
// A server calls Next in a loop: a *FrameError is one bad frame, to count and go on from; any other
// error comes from the reader (io.EOF, a deadline) and ends the connection.
type FrameReader struct {
	r       *bufio.Reader
	max     int
	buf     []byte
	inFrame bool // an opening flag was read and its frame not yet
	skipped int64
}

// NewFrameReader returns a reader of the frames in r, each at most maxFrame bytes as received
// between its flags; maxFrame <= 0 means DefaultMaxFrame.
func NewFrameReader(r *bufio.Reader, maxFrame int) *FrameReader {
	if maxFrame <= 0 {
		maxFrame = DefaultMaxFrame
	}
	return &FrameReader{r: r, max: maxFrame}
}

// Skipped returns how many bytes outside frames the reader has skipped.
func (fr *FrameReader) Skipped() int64 { return fr.skipped }

// Next returns the next frame, unescaped and without its flags, ready for ParsePacket. The frame
// lives in the reader's buffers: it is valid until the next call, and whatever is kept of it
// (a Packet's Body, a Location's Extra) must be copied.
func (fr *FrameReader) Next() ([]byte, error) {
	for {
		seg, n, err := fr.segment()
		if err != nil {
			fr.skipped += int64(n)
			if err == io.EOF && fr.inFrame && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if fr.inFrame {
			if n == 0 {
				continue // 7e 7e: a frame's closing flag, then the next one's opening flag
			}
			fr.inFrame = false
			if n > fr.max {
				return nil, frameErr(FaultTooLarge, "%d bytes, the limit is %d", n, fr.max)
			}
			frame, err := Unescape(seg[:0], seg)
			if err != nil {
				return nil, err
			}
			return frame, nil
		}
		if n == 0 {
			fr.inFrame = true
			continue
		}
		// Bytes between a frame's closing flag and the next flag are noise, unless the terminal
		// shares flags between frames; then they are a whole frame, which the checksum and the
		// header lengths recognise.
		if n <= fr.max {
			if frame, err := Unescape(seg[:0], seg); err == nil {
				if _, err := ParsePacket(frame); err == nil {
					return frame, nil
				}
			}
		}
		fr.skipped += int64(n)
		fr.inFrame = true
	}
}

// segment reads up to the next flag, which it consumes, and returns the bytes before it and their
// count n. Past the maximum it stops keeping bytes: then seg is nil and only n tells the length.
func (fr *FrameReader) segment() (seg []byte, n int, err error) {
	fr.buf = fr.buf[:0]
	for {
		b, err := fr.r.ReadSlice(flagByte)
		if err == nil {
			b = b[:len(b)-1]
		}
		n += len(b)
		switch {
		case n > fr.max:
			fr.buf = fr.buf[:0]
		case err == nil && len(fr.buf) == 0:
			return b, n, nil // the whole segment in the bufio buffer: no copy
		default:
			fr.buf = append(fr.buf, b...)
		}
		switch err {
		case nil:
			if n > fr.max {
				return nil, n, nil
			}
			return fr.buf, n, nil
		case bufio.ErrBufferFull:
		default:
			return fr.buf, n, err
		}
	}
}

// Unescape appends src with its escapes undone to dst and returns the result; dst may be src[:0]
// to unescape in place. It fails with FaultEscape on a 0x7d followed by anything but 0x01 or 0x02
// and on a bare 0x7e.
func Unescape(dst, src []byte) ([]byte, error) {
	for {
		i := bytes.IndexByte(src, escByte)
		if i < 0 {
			if bytes.IndexByte(src, flagByte) >= 0 {
				return dst, frameErr(FaultEscape, "0x7e inside a frame")
			}
			return append(dst, src...), nil
		}
		if bytes.IndexByte(src[:i], flagByte) >= 0 {
			return dst, frameErr(FaultEscape, "0x7e inside a frame")
		}
		dst = append(dst, src[:i]...)
		if i+1 >= len(src) {
			return dst, frameErr(FaultEscape, "0x7d at the end of a frame")
		}
		switch src[i+1] {
		case 0x01:
			dst = append(dst, escByte)
		case 0x02:
			dst = append(dst, flagByte)
		default:
			return dst, frameErr(FaultEscape, "0x7d followed by %#02x", src[i+1])
		}
		src = src[i+2:]
	}
}

// AppendEscaped appends src to dst with 0x7e and 0x7d escaped.
func AppendEscaped(dst, src []byte) []byte {
	dst, _ = appendEscapedXor(dst, src, 0)
	return dst
}

// appendEscapedXor escapes src onto dst and folds its bytes into the checksum x.
func appendEscapedXor(dst, src []byte, x byte) ([]byte, byte) {
	for _, c := range src {
		x ^= c
		switch c {
		case flagByte:
			dst = append(dst, escByte, 0x02)
		case escByte:
			dst = append(dst, escByte, 0x01)
		default:
			dst = append(dst, c)
		}
	}
	return dst, x
}

// ---------------------------------------------------------------------------------------------
// Header

// Header is the header of one JT/T 808 message.
type Header struct {
	MsgID uint16
	// Props are the message body properties as sent: body length (bits 0–9), encryption
	// (10–12), subpackage (13), the 2019 version flag (14).
	Props   uint16
	Version Version // the layout actually used, which some terminals' version flag belies
	// ProtoVersion is the protocol version byte of a 2019 header (1 for JT/T 808-2019).
	ProtoVersion byte
	Serial       uint16
	// PacketCount and PacketSeq number the packets of a subpackaged message (Subpackage true).
	PacketCount, PacketSeq uint16

	phone    [10]byte // BCD terminal phone number, 6 bytes in a 2013 header and 10 in a 2019 one
	phoneLen uint8
}

// NewHeader returns the header of a message to or from the terminal with the phone number, given
// in decimal digits (left-padded with zeros to 12 digits in a 2013 header, 20 in a 2019 one).
func NewHeader(v Version, msgID, serial uint16, phone string) (Header, error) {
	h := Header{MsgID: msgID, Version: v, Serial: serial, phoneLen: 6}
	if v == Version2019 {
		h.phoneLen, h.ProtoVersion, h.Props = 10, 1, propVersion2019
	}
	width := 2 * int(h.phoneLen)
	if len(phone) == 0 || len(phone) > width {
		return Header{}, fmt.Errorf("jt808: phone %q: want 1 to %d digits", phone, width)
	}
	var digits [20]byte
	for i := range width - len(phone) {
		digits[i] = '0'
	}
	copy(digits[width-len(phone):], phone)
	for i := 0; i < width; i += 2 {
		hi, lo := digits[i]-'0', digits[i+1]-'0'
		if hi > 9 || lo > 9 {
			return Header{}, fmt.Errorf("jt808: phone %q: want decimal digits", phone)
		}
		h.phone[i/2] = hi<<4 | lo
	}
	return h, nil
}

// BodyLen returns the body length the header declares.
func (h *Header) BodyLen() int { return int(h.Props & maxBody) }

// Encryption returns the encryption bits: 0 for none, 1 for RSA.
func (h *Header) Encryption() int { return int(h.Props>>10) & 7 }

// Subpackage reports whether the message is one packet of several.
func (h *Header) Subpackage() bool { return h.Props&propSubpackage != 0 }

// Phone returns the terminal phone number as sent: 12 or 20 BCD digits, in hexadecimal when a
// terminal puts non-decimal bytes there.
func (h *Header) Phone() string { return hex.EncodeToString(h.phone[:h.phoneLen]) }

// DeviceID returns the identifier of the terminal as liftrescue.Fix.DeviceID carries it: the phone
// number without leading zeros, so that a terminal has the same id in 2013 and 2019 headers. A
// terminal that puts the first 14 digits of its IMEI there as a binary number (as some do) gets its
// IMEI, check digit included, as Traccar gives it.
func (h *Header) DeviceID() string {
	p := h.phone[:h.phoneLen]
	var buf [20]byte
	digits := hex.AppendEncode(buf[:0], p)
	if isDecimal(digits) {
		i := 0
		for i < len(digits)-1 && digits[i] == '0' {
			i++
		}
		return string(digits[i:])
	}
	if len(p) == 6 {
		v := uint64(p[0])<<40 | uint64(p[1])<<32 | uint64(p[2])<<24 | uint64(p[3])<<16 | uint64(p[4])<<8 | uint64(p[5])
		s := strconv.AppendUint(buf[:0], v, 10)
		return string(append(s, luhnDigit(s)))
	}
	return string(digits)
}

// Reply returns the header of a platform message to the terminal h came from: the same phone and
// header layout, the platform's message id and serial.
func (h Header) Reply(msgID, serial uint16) Header {
	r := h
	r.MsgID, r.Serial, r.PacketCount, r.PacketSeq = msgID, serial, 0, 0
	r.Props = 0
	if h.Version == Version2019 {
		r.Props = propVersion2019
	}
	return r
}

func isDecimal(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// luhnDigit returns the check digit the Luhn algorithm appends to the decimal digits.
func luhnDigit(digits []byte) byte {
	sum, double := 0, true
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			if d *= 2; d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return byte('0' + (10-sum%10)%10)
}

// Packet is one message: its header and its body.
type Packet struct {
	Header
	// Body aliases the frame given to ParsePacket.
	Body []byte
	// Trailing counts bytes between the declared body and the checksum, which were ignored. Only
	// a few terminals send them (their checksum covers them).
	Trailing int
}

// ParsePacket checks the checksum of an unescaped frame (without its flags) and reads its header.
// Some terminals set the 2019 version flag but send a 2013 header: the header is taken to be the
// one whose length fits the body length declared and the bytes present.
func ParsePacket(frame []byte) (Packet, error) {
	var p Packet
	if len(frame) < header2013+1 {
		return p, frameErr(FaultShort, "%d bytes", len(frame))
	}
	var x byte
	for _, c := range frame {
		x ^= c
	}
	n := len(frame) - 1 // without the checksum
	if x != 0 {
		return p, frameErr(FaultChecksum, "frame says %#02x, bytes give %#02x", frame[n], x^frame[n])
	}
	props := uint16(frame[2])<<8 | uint16(frame[3])
	body := int(props & maxBody)
	extra := 0
	if props&propSubpackage != 0 {
		extra = subpackageLen
	}
	// Bytes past the declared body are tolerated (a few terminals send them), except that a frame
	// with the 2019 flag is taken for a 2013 header only when the lengths fit it exactly.
	v, hl := Version2013, header2013+extra
	if props&propVersion2019 != 0 && n != hl+body {
		v, hl = Version2019, header2019+extra
	}
	if n < hl+body {
		return p, frameErr(FaultLength, "header declares a %d-byte body, %d bytes follow the %s header", body, n-hl, v)
	}
	p.Header = readHeader(frame, v)
	p.Body = frame[hl : hl+body : hl+body]
	p.Trailing = n - hl - body
	return p, nil
}

// readHeader reads a header of layout v from b, which must be long enough.
func readHeader(b []byte, v Version) Header {
	h := Header{MsgID: be16(b), Props: be16(b[2:]), Version: v}
	i := 4
	if v == Version2019 {
		h.ProtoVersion = b[4]
		h.phoneLen = 10
		i = 5
	} else {
		h.phoneLen = 6
	}
	copy(h.phone[:], b[i:i+int(h.phoneLen)])
	i += int(h.phoneLen)
	h.Serial = be16(b[i:])
	if h.Subpackage() {
		h.PacketCount, h.PacketSeq = be16(b[i+2:]), be16(b[i+4:])
	}
	return h
}

// DecodeFrame unescapes and parses one frame as sent on the wire, with or without its flags,
// into a new buffer: a convenience for tools and tests; servers use FrameReader.
func DecodeFrame(wire []byte) (Packet, error) {
	if len(wire) > 0 && wire[0] == flagByte {
		wire = wire[1:]
	}
	if len(wire) > 0 && wire[len(wire)-1] == flagByte {
		wire = wire[:len(wire)-1]
	}
	frame, err := Unescape(make([]byte, 0, len(wire)), wire)
	if err != nil {
		return Packet{}, err
	}
	return ParsePacket(frame)
}

// AppendMessage appends a whole frame to dst: the header h (its body length set from body, and no
// subpackage or encryption), the body and the checksum, escaped and between flags.
func AppendMessage(dst []byte, h *Header, body []byte) []byte {
	var hb [header2019]byte
	props := uint16(len(body)) & maxBody
	hb[0], hb[1] = byte(h.MsgID>>8), byte(h.MsgID)
	n := 4
	if h.Version == Version2019 {
		props |= propVersion2019
		hb[4] = h.ProtoVersion
		n = 5
		copy(hb[n:], h.phone[:10])
		n += 10
	} else {
		copy(hb[n:], h.phone[:6])
		n += 6
	}
	hb[2], hb[3] = byte(props>>8), byte(props)
	hb[n], hb[n+1] = byte(h.Serial>>8), byte(h.Serial)
	n += 2
	dst = append(dst, flagByte)
	dst, x := appendEscapedXor(dst, hb[:n], 0)
	dst, x = appendEscapedXor(dst, body, x)
	dst, _ = appendEscapedXor(dst, []byte{x}, 0)
	return append(dst, flagByte)
}

// AppendGeneralResponse appends the platform general response (0x8001) to the message of to: the
// platform's own serial, to's serial and id, and the result (ResultOK…).
func AppendGeneralResponse(dst []byte, to *Header, serial uint16, result byte) []byte {
	h := to.Reply(MsgPlatformAck, serial)
	body := [5]byte{byte(to.Serial >> 8), byte(to.Serial), byte(to.MsgID >> 8), byte(to.MsgID), result}
	return AppendMessage(dst, &h, body[:])
}

// AppendRegisterResponse appends the register response (0x8100) to the register message of to.
// The auth code, which the terminal then sends in 0x0102, goes only with RegisterOK; one longer
// than MaxAuthCode is cut.
func AppendRegisterResponse(dst []byte, to *Header, serial uint16, result byte, authCode string) []byte {
	h := to.Reply(MsgRegisterAck, serial)
	var buf [64]byte
	body := append(buf[:0], byte(to.Serial>>8), byte(to.Serial), result)
	if result == RegisterOK {
		body = append(body, authCode[:min(len(authCode), MaxAuthCode)]...)
	}
	return AppendMessage(dst, &h, body)
}

// GeneralResponse is the body of a general response: the platform's (0x8001) or a terminal's
// (0x0001) answer to one message.
type GeneralResponse struct {
	Serial uint16 // of the message answered
	MsgID  uint16 // of the message answered
	Result byte   // ResultOK…
}

// ParseGeneralResponse reads the body of a general response.
func ParseGeneralResponse(body []byte) (GeneralResponse, error) {
	if len(body) < 5 {
		return GeneralResponse{}, frameErr(FaultBody, "general response of %d bytes, want 5", len(body))
	}
	return GeneralResponse{Serial: be16(body), MsgID: be16(body[2:]), Result: body[4]}, nil
}

// RegisterResponse is the body of a register response (0x8100).
type RegisterResponse struct {
	Serial   uint16 // of the register message answered
	Result   byte   // RegisterOK…
	AuthCode string // with RegisterOK only
}

// ParseRegisterResponse reads the body of a register response.
func ParseRegisterResponse(body []byte) (RegisterResponse, error) {
	if len(body) < 3 {
		return RegisterResponse{}, frameErr(FaultBody, "register response of %d bytes, want at least 3", len(body))
	}
	return RegisterResponse{Serial: be16(body), Result: body[2], AuthCode: string(body[3:])}, nil
}

// ---------------------------------------------------------------------------------------------
// Location report 0x0200 and batch 0x0704

// Location is the body of a location report (0x0200), as sent.
type Location struct {
	Alarm, Status uint32
	Lat, Lon      float64 // degrees, negative when the south and west status bits say so
	AltitudeM     int16
	Speed         uint16 // 0.1 km/h
	Direction     uint16 // degrees clockwise from north, 0–359
	// Time is the device's time converted from UTC+8 to UTC; zero when the device sent none
	// (all zeros, as before its first fix).
	Time time.Time

	// Additional information items decoded here; NaN or -1 when absent.
	MileageKm        float64 // 0x01, odometer
	FuelL            float64 // 0x02
	RecorderSpeedKmh float64 // 0x03, the speed of the tachograph
	Signal           int     // 0x30, mobile network signal strength
	Satellites       int     // 0x31, GNSS satellites in use

	// Extra holds the additional information items as sent (id, length, value…); it aliases the
	// body. Items iterates over them.
	Extra []byte
	// ExtraBroken reports an item that claims more bytes than the body has; Items stops before it.
	ExtraBroken bool
}

// ParseLocation reads the body of a location report. Its additional information items are kept
// raw; a broken one does not make the report unreadable.
func ParseLocation(body []byte) (Location, error) {
	if len(body) < locationLen {
		return Location{}, frameErr(FaultBody, "location of %d bytes, want at least %d", len(body), locationLen)
	}
	l := Location{
		Alarm:     be32(body),
		Status:    be32(body[4:]),
		AltitudeM: int16(be16(body[16:])),
		Speed:     be16(body[18:]),
		Direction: be16(body[20:]),
		MileageKm: math.NaN(), FuelL: math.NaN(), RecorderSpeedKmh: math.NaN(),
		Signal: -1, Satellites: -1,
		Extra: body[locationLen:],
	}
	lat, lon := be32(body[8:]), be32(body[12:])
	l.Lat, l.Lon = float64(lat)/1e6, float64(lon)/1e6
	if l.Status&StatusSouth != 0 && lat != 0 {
		l.Lat = -l.Lat
	}
	if l.Status&StatusWest != 0 && lon != 0 {
		l.Lon = -l.Lon
	}
	t, ok := bcdTime(body[22:28])
	if !ok {
		return Location{}, frameErr(FaultBody, "location time %x is not a BCD date and time", body[22:28])
	}
	l.Time = t
	for b := l.Extra; len(b) > 0; {
		if len(b) < 2 || 2+int(b[1]) > len(b) {
			l.ExtraBroken = true
			break
		}
		id, v := b[0], b[2:2+int(b[1])]
		b = b[2+len(v):]
		switch {
		case id == 0x01 && len(v) == 4:
			l.MileageKm = float64(be32(v)) / 10
		case id == 0x02 && len(v) == 2:
			l.FuelL = float64(be16(v)) / 10
		case id == 0x03 && len(v) == 2:
			l.RecorderSpeedKmh = float64(be16(v)) / 10
		case id == 0x30 && len(v) == 1:
			l.Signal = int(v[0])
		case id == 0x31 && len(v) == 1:
			l.Satellites = int(v[0])
		}
	}
	return l, nil
}

// Items returns the additional information items, id and value, up to the first broken one.
func (l *Location) Items() iter.Seq2[byte, []byte] {
	return func(yield func(byte, []byte) bool) {
		for b := l.Extra; len(b) >= 2 && 2+int(b[1]) <= len(b); b = b[2+int(b[1]):] {
			if !yield(b[0], b[2:2+int(b[1])]) {
				return
			}
		}
	}
}

// Fix returns the report as a fix of the device. The SOS alarm bit raises the alarm "sos"; the
// alarm and status words go to Flags (alarm<<32 | status), the not-located bit included, for the
// pipeline to judge. Accuracy and battery are unknown in this protocol.
func (l *Location) Fix(deviceID string) liftrescue.Fix {
	f := liftrescue.Fix{
		DeviceID:  deviceID,
		Time:      l.Time,
		Lat:       l.Lat,
		Lon:       l.Lon,
		SpeedKmh:  float64(l.Speed) / 10,
		Heading:   float64(l.Direction),
		AccuracyM: liftrescue.Unknown,
		AltitudeM: float64(l.AltitudeM),
		Battery:   liftrescue.Unknown,
		Flags:     uint64(l.Alarm)<<32 | uint64(l.Status),
		Unlocated: l.Status&StatusLocated == 0,
	}
	if l.Direction > 360 {
		f.Heading = liftrescue.Unknown
	}
	if l.Alarm&AlarmSOS != 0 {
		f.Alarm = "sos"
	}
	return f
}

// AppendLocation appends the body of a location report of l to dst: the basic information from
// its fields and then Extra as it is. Lat and Lon set the south and west status bits by their sign.
func AppendLocation(dst []byte, l *Location) []byte {
	status := l.Status &^ (StatusSouth | StatusWest)
	if l.Lat < 0 {
		status |= StatusSouth
	}
	if l.Lon < 0 {
		status |= StatusWest
	}
	dst = append32(dst, l.Alarm)
	dst = append32(dst, status)
	dst = append32(dst, uint32(math.Round(math.Abs(l.Lat)*1e6)))
	dst = append32(dst, uint32(math.Round(math.Abs(l.Lon)*1e6)))
	dst = append16(dst, uint16(l.AltitudeM))
	dst = append16(dst, l.Speed)
	dst = append16(dst, l.Direction)
	dst = appendBCDTime(dst, l.Time)
	return append(dst, l.Extra...)
}

// LocationBatch is the body of a batch location upload (0x0704).
type LocationBatch struct {
	Count int  // the number of items declared
	Type  byte // 0 for a normal batch, 1 for positions stored while out of coverage
	Items []Location
}

// ParseLocationBatch reads a batch location upload. An item that cannot be read ends it: the
// items before it are returned with the error.
func ParseLocationBatch(body []byte) (LocationBatch, error) {
	var b LocationBatch
	err := forEachLocation(body, &b.Count, &b.Type, func(l *Location) { b.Items = append(b.Items, *l) })
	return b, err
}

func forEachLocation(body []byte, count *int, typ *byte, f func(*Location)) error {
	if len(body) < 3 {
		return frameErr(FaultBody, "batch of %d bytes", len(body))
	}
	*count, *typ = int(be16(body)), body[2]
	b := body[3:]
	for i := range *count {
		if len(b) < 2 || 2+int(be16(b)) > len(b) {
			return frameErr(FaultBody, "batch declares %d items, item %d is cut short", *count, i)
		}
		n := int(be16(b))
		l, err := ParseLocation(b[2 : 2+n])
		if err != nil {
			return frameErr(FaultBody, "batch item %d: %s", i, err.(*FrameError).Msg)
		}
		f(&l)
		b = b[2+n:]
	}
	return nil
}

// AppendFixes appends the fixes a location report or batch upload carries to dst; other messages
// carry none. On a body that cannot be read it returns the fixes read before the fault and a
// *FrameError.
func AppendFixes(dst []liftrescue.Fix, p *Packet) ([]liftrescue.Fix, error) {
	if p.MsgID != MsgLocation && p.MsgID != MsgLocationBatch {
		return dst, nil
	}
	if p.Encryption() != 0 || p.Subpackage() {
		return dst, frameErr(FaultUnsupported, "message %#04x: encrypted or subpackaged body", p.MsgID)
	}
	id := p.DeviceID()
	if p.MsgID == MsgLocation {
		l, err := ParseLocation(p.Body)
		if err != nil {
			return dst, err
		}
		return append(dst, l.Fix(id)), nil
	}
	var count int
	var typ byte
	err := forEachLocation(p.Body, &count, &typ, func(l *Location) { dst = append(dst, l.Fix(id)) })
	return dst, err
}

// ---------------------------------------------------------------------------------------------
// Register 0x0100 and auth 0x0102

// Register is the body of a terminal register message (0x0100). Texts are converted from GBK.
type Register struct {
	Province, City uint16 // administrative division codes
	Maker          string
	Model          string
	TerminalID     string
	PlateColor     byte // 0 when the vehicle has no plate
	Plate          string
	// Layout is the edition of the standard whose field widths the body has: 2011 (model 8
	// bytes), 2013 (model 20 bytes) or 2019 (maker 11, model 30, terminal id 30 bytes).
	Layout int
}

// ParseRegister reads a register body. The field widths follow the header version and, between
// 2011 and 2013, the body length.
func ParseRegister(body []byte, v Version) (Register, error) {
	var maker, model, id int
	r := Register{}
	switch {
	case v == Version2019 && len(body) >= 2+2+11+30+30+1:
		maker, model, id, r.Layout = 11, 30, 30, 2019
	case len(body) >= 2+2+5+20+7+1:
		maker, model, id, r.Layout = 5, 20, 7, 2013
	case len(body) >= 2+2+5+8+7+1:
		maker, model, id, r.Layout = 5, 8, 7, 2011
	default:
		return Register{}, frameErr(FaultBody, "register body of %d bytes", len(body))
	}
	r.Province, r.City = be16(body), be16(body[2:])
	b := body[4:]
	r.Maker, b = gbkText(b[:maker]), b[maker:]
	r.Model, b = gbkText(b[:model]), b[model:]
	r.TerminalID, b = gbkText(b[:id]), b[id:]
	r.PlateColor, r.Plate = b[0], gbkText(b[1:])
	return r, nil
}

// AppendRegister appends the body of a register message with r's fields in the layout of v (2013
// or 2019; r.Layout is not looked at), texts in GBK as terminals send them, cut or NUL-padded to
// their widths. It is what a terminal sends: for clients, load generators and tests.
func AppendRegister(dst []byte, v Version, r *Register) []byte {
	maker, model, id := 5, 20, 7
	if v == Version2019 {
		maker, model, id = 11, 30, 30
	}
	dst = append(dst, byte(r.Province>>8), byte(r.Province), byte(r.City>>8), byte(r.City))
	dst = appendGBK(dst, r.Maker, maker)
	dst = appendGBK(dst, r.Model, model)
	dst = appendGBK(dst, r.TerminalID, id)
	dst = append(dst, r.PlateColor)
	return appendGBK(dst, r.Plate, -1)
}

// AppendAuth appends the body of an auth message in the layout of v: the code alone in 2013; in
// 2019 its length, the code, the IMEI (15 bytes) and the software version (20 bytes).
func AppendAuth(dst []byte, v Version, a *Auth) []byte {
	if v != Version2019 {
		return append(dst, a.Code...)
	}
	dst = append(dst, byte(len(a.Code)))
	dst = append(dst, a.Code...)
	dst = appendGBK(dst, a.IMEI, 15)
	return appendGBK(dst, a.Software, 20)
}

// appendGBK appends s in GBK, cut or NUL-padded to n bytes (n < 0: as long as it is). Characters
// GBK lacks become '?'.
func appendGBK(dst []byte, s string, n int) []byte {
	b, err := simplifiedchinese.GBK.NewEncoder().Bytes([]byte(s))
	if err != nil {
		b = []byte(strings.Map(func(r rune) rune {
			if r >= utf8.RuneSelf {
				return '?'
			}
			return r
		}, s))
	}
	if n < 0 {
		return append(dst, b...)
	}
	dst = append(dst, b[:min(len(b), n)]...)
	for range n - min(len(b), n) {
		dst = append(dst, 0)
	}
	return dst
}

// Auth is the body of a terminal auth message (0x0102).
type Auth struct {
	Code     string
	IMEI     string // 2019 only
	Software string // 2019 only: the software version
}

// ParseAuth reads an auth body: the whole body is the code in 2013; in 2019 a length-prefixed code,
// the IMEI (15 bytes) and the software version (20 bytes). A 2019 header with a body that does not
// fit the 2019 layout is read as 2013.
func ParseAuth(body []byte, v Version) (Auth, error) {
	if v == Version2019 && len(body) > 0 && 1+int(body[0]) <= len(body) {
		n := int(body[0])
		a := Auth{Code: string(trimNUL(body[1 : 1+n]))}
		rest := body[1+n:]
		imei := rest[:min(15, len(rest))]
		a.IMEI, rest = gbkText(imei), rest[len(imei):]
		a.Software = gbkText(rest[:min(20, len(rest))])
		return a, nil
	}
	return Auth{Code: string(trimNUL(body))}, nil
}

// gbkText converts a NUL-padded GBK field to UTF-8.
func gbkText(b []byte) string {
	b = trimNUL(b)
	ascii := true
	for _, c := range b {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return string(b)
	}
	s, err := simplifiedchinese.GBK.NewDecoder().Bytes(b)
	if err != nil {
		return string(bytes.ToValidUTF8(b, []byte("\uFFFD")))
	}
	return string(s)
}

func trimNUL(b []byte) []byte { return bytes.Trim(b, "\x00") }

// ---------------------------------------------------------------------------------------------
// Bytes

func be16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func be32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

func append16(dst []byte, v uint16) []byte { return append(dst, byte(v>>8), byte(v)) }

func append32(dst []byte, v uint32) []byte {
	return append(dst, byte(v>>24), byte(v>>16), byte(v>>8), byte(v))
}

// beijing is the offset of the terminals' clocks: UTC+8.
const beijing = 8 * time.Hour

var daysIn = [13]int{0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31}

// bcdTime reads YYMMDDhhmmss in BCD, in UTC+8, as UTC. All zeros is the zero time; ok is false for
// a byte that is not two decimal digits or an impossible date.
func bcdTime(b []byte) (t time.Time, ok bool) {
	var d [6]int
	zero := true
	for i, c := range b[:6] {
		hi, lo := c>>4, c&0x0f
		if hi > 9 || lo > 9 {
			return time.Time{}, false
		}
		d[i] = int(hi)*10 + int(lo)
		zero = zero && c == 0
	}
	if zero {
		return time.Time{}, true
	}
	y, mo, da := 2000+d[0], d[1], d[2]
	if mo < 1 || mo > 12 || da < 1 || da > daysIn[mo] || (mo == 2 && da == 29 && y%4 != 0) ||
		d[3] > 23 || d[4] > 59 || d[5] > 59 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), da, d[3], d[4], d[5], 0, time.UTC).Add(-beijing), true
}

// appendBCDTime appends t in UTC+8 as YYMMDDhhmmss BCD; the zero time and times outside 2000–2099
// as all zeros.
func appendBCDTime(dst []byte, t time.Time) []byte {
	if t.IsZero() {
		return append(dst, 0, 0, 0, 0, 0, 0)
	}
	t = t.UTC().Add(beijing)
	if t.Year() < 2000 || t.Year() > 2099 {
		return append(dst, 0, 0, 0, 0, 0, 0)
	}
	for _, v := range [6]int{t.Year() - 2000, int(t.Month()), t.Day(), t.Hour(), t.Minute(), t.Second()} {
		dst = append(dst, byte(v/10)<<4|byte(v%10))
	}
	return dst
}

package iot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/liftrescue/liftrescue"
)

const (
	// MaxBatch is the most reports one batch may carry.
	MaxBatch = 10_000
	// MaxBatchBody is the largest batch body to read: 10,000 pretty-printed reports with their
	// running state take about 4 MiB.
	MaxBatchBody = 16 << 20
	// MaxMessage is the largest MQTT payload to read: one report is a few hundred bytes.
	MaxMessage = 16 << 10
	// MaxSkew allows for terminals whose clocks run a little ahead.
	MaxSkew = 5 * time.Minute
	// MaxAge is how old a report may be. Terminals keep what they could not send and send it when
	// they are back, but a report older than a day is no longer something to act on, and is far
	// more often a terminal whose clock restarted in 1970 or 2000.
	MaxAge = 24 * time.Hour
	// TopicPattern is the MQTT topic scheme DecodeMessage reads the terminal id from; there is no
	// standard one (see ParseTopic).
	TopicPattern = "lift/{terminal}/alarm"
)

// Batch is a body of POST /api/v1/alarms as DecodeBatch reads it.
type Batch struct {
	// Alarms are the reports that passed, normalised, in the order of the body.
	Alarms []liftrescue.Alarm
	// Rejected has one Detail for each report left out, by its Index in the body, with its first
	// problem.
	Rejected []liftrescue.Detail
}

// DecodeBatch reads a batch of terminal reports of at most maxBytes (MaxBatchBody when maxBytes is
// not positive) from r:
//
//	{"alarms":[{"equipment_code":"…","namespace":"gbt24476","code":"4","time":"RFC 3339",
//	            "state":{"service_mode":1,"running":0,"door_zone":2,"passenger_present":1}}, …]}
//
// Each report is read as DecodeMessage reads one, and is normalised (liftrescue.Alarm.Normalize
// with MaxSkew and MaxAge) on its own: a report that cannot be read or breaks a rule is left out
// and named in Rejected, and the others pass, so that one bad report never holds back a trapped
// passenger's. Reports past the first MaxBatch are not read.
//
// err is EBADREQUEST for a body that is not JSON or not such an object (a member beside alarms
// included, with its name in the details), ETOOLARGE for more than maxBytes or more than
// MaxBatch reports; then the batch is empty.
func DecodeBatch(r io.Reader, maxBytes int64, now time.Time) (Batch, error) {
	if maxBytes <= 0 {
		maxBytes = MaxBatchBody
	}
	body, err := readBody(r, maxBytes)
	if err != nil {
		return Batch{}, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return Batch{}, liftrescue.Errorf(liftrescue.EBADREQUEST, `the body is empty: want {"alarms":[…]}`)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := delim(dec, '{', `want a JSON object {"alarms":[…]}`); err != nil {
		return Batch{}, err
	}
	var b Batch
	seen := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return Batch{}, malformed(err)
		}
		switch name, _ := tok.(string); {
		case name != "alarms":
			return Batch{}, &liftrescue.Error{Code: liftrescue.EBADREQUEST,
				Message: fmt.Sprintf("unknown member %.64q: the body has only alarms", name),
				Details: []liftrescue.Detail{{Field: shorten(name), Reason: "unknown member"}}}
		case seen:
			return Batch{}, &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: "alarms: given twice",
				Details: []liftrescue.Detail{{Field: "alarms", Reason: "given twice"}}}
		}
		seen = true
		if err := delim(dec, '[', "alarms: want an array of reports"); err != nil {
			return Batch{}, err
		}
		for n := 0; dec.More(); n++ {
			if n == MaxBatch {
				return Batch{}, liftrescue.Errorf(liftrescue.ETOOLARGE, "more than %d reports in one batch: send them in several", MaxBatch)
			}
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return Batch{}, malformed(err)
			}
			a, err := decodeAlarm(raw, "", "", now)
			if err != nil {
				b.Rejected = append(b.Rejected, rejection(n, err))
				continue
			}
			b.Alarms = append(b.Alarms, a)
		}
		if err := delim(dec, ']', "want , or ] after a report"); err != nil {
			return Batch{}, err
		}
	}
	if err := delim(dec, '}', "want , or } after a member"); err != nil {
		return Batch{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return Batch{}, liftrescue.Errorf(liftrescue.EBADREQUEST, "malformed JSON at byte %d: data after the JSON object", dec.InputOffset())
	}
	if !seen {
		return Batch{}, liftrescue.Errorf(liftrescue.EBADREQUEST, `alarms: missing: want {"alarms":[…]}`)
	}
	return b, nil
}

// DecodeMessage reads one report published over MQTT on topic, whose terminal it takes from the
// topic when the topic matches TopicPattern. See DecodeMessageWith.
func DecodeMessage(topic string, payload []byte, now time.Time) (liftrescue.Alarm, error) {
	return DecodeMessageWith(TopicPattern, topic, payload, now)
}

// DecodeMessageWith reads one report, a JSON object of at most MaxMessage bytes, published on
// topic, and normalises it (liftrescue.Alarm.Normalize with MaxSkew and MaxAge).
//
// The object has liftrescue.Alarm's members, read as terminals write them: code a string or a
// whole number; the state's running true/false or 1/0, door_zone, doors_locked and
// passenger_present true/false or 1 (yes) / 2 (no) as GB/T 24476 platforms code them,
// service_mode a name or its number 0..7, direction a name or 0 (none), 1 (up), 2 (down), floor a
// string or a whole number ("" is not reported). null is a member not given. kind and priority
// may be present, as Alarm's JSON has them, and are worked out again: a terminal does not choose
// its own priority. Any other member, a member given twice or a value of another type is
// EBADREQUEST, with the member's path ("state.door_zone") in the details.
//
// When the topic matches pattern (see ParseTopic) and names a terminal, the report is that
// terminal's: a payload naming no elevator gets its terminal id, one naming the elevator by
// equipment code keeps it (the elevator is what dispatch needs), and one naming another terminal
// is EINVALID, as a terminal reports only for itself. A topic that does not match says nothing.
//
// err is ETOOLARGE for a larger payload, EBADREQUEST for one that cannot be read, EINVALID for a
// report that breaks a rule of liftrescue.Alarm.Normalize.
func DecodeMessageWith(pattern, topic string, payload []byte, now time.Time) (liftrescue.Alarm, error) {
	if len(payload) > MaxMessage {
		return liftrescue.Alarm{}, liftrescue.Errorf(liftrescue.ETOOLARGE, "the message is larger than %d bytes", MaxMessage)
	}
	if len(bytes.TrimSpace(payload)) == 0 {
		return liftrescue.Alarm{}, liftrescue.Errorf(liftrescue.EBADREQUEST, "the message is empty: want a JSON object")
	}
	var raw json.RawMessage
	if err := json.Unmarshal(payload, &raw); err != nil {
		return liftrescue.Alarm{}, malformed(err)
	}
	terminal, _ := ParseTopic(pattern, topic)
	return decodeAlarm(raw, terminal, topic, now)
}

// decodeAlarm reads and normalises one report, which came on the topic of terminal when terminal
// is not "".
func decodeAlarm(raw json.RawMessage, terminal, topic string, now time.Time) (liftrescue.Alarm, error) {
	a, p := readAlarm(raw)
	if p != nil {
		return liftrescue.Alarm{}, &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: p.message(),
			Details: []liftrescue.Detail{{Field: p.field, Value: p.value, Reason: p.reason}}}
	}
	switch {
	case terminal == "":
	case a.TerminalID != "" && a.TerminalID != terminal:
		return liftrescue.Alarm{}, liftrescue.Invalid("terminal_id",
			fmt.Sprintf("the topic %.64q is terminal %.64q's: a terminal reports only for itself", topic, terminal))
	case a.EquipmentCode == "":
		a.TerminalID = terminal
	}
	if err := a.Normalize(now, MaxSkew, MaxAge); err != nil {
		return liftrescue.Alarm{}, err
	}
	return a, nil
}

// rejection is the Detail of a batch's report n that err left out: its first problem.
func rejection(n int, err error) liftrescue.Detail {
	d := liftrescue.Detail{Reason: liftrescue.ErrorMessage(err)}
	if details := liftrescue.ErrorDetails(err); len(details) > 0 {
		d = details[0]
	}
	d.Index = &n
	return d
}

// problem is what is wrong with a report as read: the member's path, its value and why.
type problem struct{ field, value, reason string }

func (p *problem) message() string {
	if p.field == "" {
		return p.reason
	}
	return p.field + ": " + p.reason
}

// bad is the problem of the member at field whose value v is wrong.
func bad(field string, v json.RawMessage, reason string) *problem {
	return &problem{field: shorten(field), value: shorten(string(v)), reason: reason}
}

// readAlarm reads one report as DecodeMessageWith describes; it does not check its rules.
func readAlarm(raw json.RawMessage) (a liftrescue.Alarm, p *problem) {
	p = members(raw, "", func(name string, v json.RawMessage) *problem {
		switch name {
		case "equipment_code":
			return text(name, v, &a.EquipmentCode)
		case "terminal_id":
			return text(name, v, &a.TerminalID)
		case "namespace":
			return text(name, v, (*string)(&a.Namespace))
		case "code":
			if isNumber(v) {
				if !isWhole(v, false) {
					return bad(name, v, "want a string or a whole number")
				}
				a.Code = string(v)
				return nil
			}
			return text(name, v, &a.Code)
		case "time":
			var s string
			if p := text(name, v, &s); p != nil || isNull(v) {
				return p
			}
			t, err := time.Parse(time.RFC3339, s)
			if err != nil {
				return bad(name, v, "want an RFC 3339 time like 2026-11-21T08:30:00+08:00")
			}
			a.Time = t
		case "state":
			if isNull(v) {
				return nil
			}
			a.State = new(liftrescue.RunningState)
			return readState(v, a.State)
		case "kind": // Alarm's own JSON, read back: Normalize works it out again
			var s string
			return text(name, v, &s)
		case "priority":
			if !isNull(v) && !isWhole(v, true) {
				return bad(name, v, "want a whole number")
			}
		default:
			return bad(name, v, "unknown member")
		}
		return nil
	})
	return a, p
}

// readState reads the running state in v into s.
func readState(v json.RawMessage, s *liftrescue.RunningState) *problem {
	return members(v, "state", func(name string, v json.RawMessage) *problem {
		field := "state." + name
		switch name {
		case "service_mode":
			if isNumber(v) {
				n, err := strconv.Atoi(string(v))
				mode, ok := liftrescue.ServiceMode(n)
				if err != nil || !ok {
					return bad(field, v, "want a mode name or its number 0..7")
				}
				s.ServiceMode = &mode
				return nil
			}
			return optText(field, v, &s.ServiceMode)
		case "direction":
			if isNumber(v) {
				dir, ok := map[string]string{"0": liftrescue.DirectionNone, "1": liftrescue.DirectionUp, "2": liftrescue.DirectionDown}[string(v)]
				if !ok {
					return bad(field, v, "want none, up, down or their numbers 0, 1, 2")
				}
				s.Direction = &dir
				return nil
			}
			return optText(field, v, &s.Direction)
		case "running":
			return flag(field, v, &s.Running, "1", "0") // GB/T 24476 car status: 0 stopped, 1 running
		case "door_zone":
			return flag(field, v, &s.DoorZone, "1", "2")
		case "doors_locked":
			return flag(field, v, &s.DoorsLocked, "1", "2")
		case "passenger_present":
			return flag(field, v, &s.PassengerPresent, "1", "2")
		case "floor":
			if isNumber(v) {
				if !isWhole(v, true) {
					return bad(field, v, "want a string or a whole number")
				}
				floor := string(v)
				s.Floor = &floor
				return nil
			}
			if p := optText(field, v, &s.Floor); p != nil {
				return p
			}
			if s.Floor != nil && *s.Floor == "" {
				s.Floor = nil // terminals that do not know the floor send it empty
			}
			return nil
		}
		return bad(field, v, "unknown member")
	})
}

// members calls f with each member of the object v in order, and returns the first problem: v is
// not an object, a member is given twice, or what f says. path names v in problems.
func members(v json.RawMessage, path string, f func(name string, value json.RawMessage) *problem) *problem {
	dec := json.NewDecoder(bytes.NewReader(v))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return bad(path, v, "want an object")
	}
	seen := make(map[string]bool)
	for dec.More() {
		tok, err := dec.Token()
		var value json.RawMessage
		if err == nil {
			err = dec.Decode(&value)
		}
		if err != nil { // v was read as JSON already: this would be a bug
			return bad(path, v, "cannot be read")
		}
		name, _ := tok.(string)
		if seen[name] {
			return bad(join(path, name), value, "given twice")
		}
		seen[name] = true
		if p := f(name, value); p != nil {
			return p
		}
	}
	return nil
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// text reads a string member; null leaves dst as it is.
func text(field string, v json.RawMessage, dst *string) *problem {
	switch {
	case isNull(v):
		return nil
	case len(v) > 0 && v[0] == '"' && json.Unmarshal(v, dst) == nil:
		return nil
	}
	return bad(field, v, "want a string")
}

// optText reads a string member of the running state; null is not reported.
func optText(field string, v json.RawMessage, dst **string) *problem {
	if isNull(v) {
		*dst = nil
		return nil
	}
	var s string
	if p := text(field, v, &s); p != nil {
		return p
	}
	*dst = &s
	return nil
}

// flag reads a boolean of the running state: true or false, or the numbers yes and no that
// the terminals use for them; null is not reported.
func flag(field string, v json.RawMessage, dst **bool, yes, no string) *problem {
	var b bool
	switch string(v) {
	case "null":
		*dst = nil
		return nil
	case "true", yes:
		b = true
	case "false", no:
		b = false
	default:
		return bad(field, v, fmt.Sprintf("want true, false, %s (yes) or %s (no)", yes, no))
	}
	*dst = &b
	return nil
}

func isNull(v json.RawMessage) bool { return string(v) == "null" }

func isNumber(v json.RawMessage) bool {
	return len(v) > 0 && (v[0] == '-' || v[0] >= '0' && v[0] <= '9')
}

// isWhole reports whether the number v is written as a whole number, signed when signed allows.
func isWhole(v json.RawMessage, signed bool) bool {
	if signed && len(v) > 1 && v[0] == '-' {
		v = v[1:]
	}
	return len(v) > 0 && strings.Trim(string(v), "0123456789") == ""
}

// delim reads the delimiter c, or returns an EBADREQUEST error that says what was wanted.
func delim(dec *json.Decoder, c json.Delim, want string) error {
	tok, err := dec.Token()
	switch {
	case err != nil:
		return malformed(err)
	case tok != c:
		return liftrescue.Errorf(liftrescue.EBADREQUEST, "malformed JSON at byte %d: %s", dec.InputOffset(), want)
	}
	return nil
}

// malformed is the EBADREQUEST error of JSON that cannot be read.
func malformed(err error) error {
	var syntax *json.SyntaxError
	msg := "malformed JSON"
	switch {
	case errors.As(err, &syntax):
		msg = fmt.Sprintf("malformed JSON at byte %d: %s", syntax.Offset, syntax.Error())
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		msg = "malformed JSON: it ends too early"
	}
	return &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: msg, Err: err}
}

// readBody reads r whole, refusing more than max bytes.
func readBody(r io.Reader, max int64) ([]byte, error) {
	if r == nil {
		return nil, nil
	}
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, &liftrescue.Error{Code: liftrescue.EBADREQUEST, Message: "the request body could not be read", Err: err}
	}
	if int64(len(b)) > max {
		return nil, liftrescue.Errorf(liftrescue.ETOOLARGE, "the request body is larger than %d bytes", max)
	}
	return b, nil
}

// shorten cuts a value quoted back to a client to 64 characters.
func shorten(s string) string { return fmt.Sprintf("%.64s", s) }

// ParseTopic matches an MQTT topic against pattern and returns the terminal id it carries. The
// pattern is an MQTT topic filter whose levels are literal, "+" for any one level, "#" (last) for
// any number of levels, or "{terminal}" for the one level that holds the terminal id, as in
// "lift/{terminal}/alarm" or "+/elevators/{terminal}/#"; replacing {terminal} by "+" gives the
// filter to subscribe with. ok is false when the topic does not match, is not a topic one can
// publish on (it has wildcards), or gives an empty terminal id; a pattern without {terminal}
// matches with terminalID "". As in MQTT, wildcards do not match a first level starting with "$".
func ParseTopic(pattern, topic string) (terminalID string, ok bool) {
	if pattern == "" || topic == "" || strings.ContainsAny(topic, "+#\x00") {
		return "", false
	}
	pl, tl := strings.Split(pattern, "/"), strings.Split(topic, "/")
	if strings.HasPrefix(topic, "$") && (pl[0] == "+" || pl[0] == "#" || pl[0] == "{terminal}") {
		return "", false
	}
	for i, p := range pl {
		if p == "#" {
			return terminalID, i == len(pl)-1 // "a/#" matches "a" too
		}
		if i >= len(tl) {
			return "", false
		}
		switch p {
		case "+":
		case "{terminal}":
			if tl[i] == "" || terminalID != "" && terminalID != tl[i] {
				return "", false
			}
			terminalID = tl[i]
		default:
			if p != tl[i] {
				return "", false
			}
		}
	}
	if len(tl) != len(pl) {
		return "", false
	}
	return terminalID, true
}

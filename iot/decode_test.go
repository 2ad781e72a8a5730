package iot_test

import (
	"bytes"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/iot"
)

var testNow = time.Date(2026, 11, 21, 8, 30, 0, 0, time.UTC)

const equipment = "31103704022015000001"

func ptr[T any](v T) *T { return &v }

// Terminals write the same facts in several ways; each reads as the one alarm it means.
func TestDecodeMessageTolerant(t *testing.T) {
	at := testNow.Add(-time.Minute)
	tests := []struct {
		name    string
		payload string
		want    liftrescue.Alarm
	}{
		{"as Alarm writes it",
			`{"equipment_code":"` + equipment + `","namespace":"gbt24476","code":"4","time":"2026-11-21T08:29:00Z",` +
				`"state":{"service_mode":"normal","running":false,"direction":"none","door_zone":false,"doors_locked":true,"passenger_present":true,"floor":"3"},` +
				`"kind":"stopped_outside_door_zone","priority":1}`,
			liftrescue.Alarm{EquipmentCode: equipment, Namespace: "gbt24476", Code: "4", Time: at,
				State: &liftrescue.RunningState{ServiceMode: ptr("normal"), Running: ptr(false), Direction: ptr("none"),
					DoorZone: ptr(false), DoorsLocked: ptr(true), PassengerPresent: ptr(true), Floor: ptr("3")},
				Kind: liftrescue.AlarmStoppedOutsideDoorZone, Priority: 1}},
		{"as GB/T 24476 platforms code it",
			`{"equipment_code":"` + equipment + `","namespace":"gbt24476","code":4,"time":"2026-11-21T16:29:00+08:00",` +
				`"state":{"service_mode":1,"running":0,"direction":0,"door_zone":2,"doors_locked":1,"passenger_present":1,"floor":3}}`,
			liftrescue.Alarm{EquipmentCode: equipment, Namespace: "gbt24476", Code: "4", Time: at,
				State: &liftrescue.RunningState{ServiceMode: ptr("normal"), Running: ptr(false), Direction: ptr("none"),
					DoorZone: ptr(false), DoorsLocked: ptr(true), PassengerPresent: ptr(true), Floor: ptr("3")},
				Kind: liftrescue.AlarmStoppedOutsideDoorZone, Priority: 1}},
		{"yes is 1, no is 2; running is 1",
			`{"terminal_id":"MX3737","time":"2026-11-21T08:29:00Z","state":{"service_mode":3,"running":1,"direction":2,"door_zone":1,"doors_locked":2,"passenger_present":2,"floor":-2}}`,
			liftrescue.Alarm{TerminalID: "MX3737", Time: at,
				State: &liftrescue.RunningState{ServiceMode: ptr("fire_return"), Running: ptr(true), Direction: ptr("down"),
					DoorZone: ptr(true), DoorsLocked: ptr(false), PassengerPresent: ptr(false), Floor: ptr("-2")}}},
		{"numeric code with zeros kept as sent",
			`{"terminal_id":"MX3737","namespace":"shmashine","code":"07","time":"2026-11-21T08:29:00.000000Z"}`,
			liftrescue.Alarm{TerminalID: "MX3737", Namespace: "shmashine", Code: "07", Time: at, Kind: liftrescue.AlarmTrapped, Priority: 1}},
		{"nulls and an empty floor are not reported",
			`{"terminal_id":"MX3737","equipment_code":null,"namespace":"tcpjson","code":2,"time":null,"kind":null,"priority":null,` +
				`"state":{"service_mode":null,"running":null,"direction":null,"door_zone":null,"doors_locked":null,"passenger_present":null,"floor":""}}`,
			liftrescue.Alarm{TerminalID: "MX3737", Namespace: "tcpjson", Code: "2", Time: testNow, State: &liftrescue.RunningState{},
				Kind: liftrescue.AlarmTrapped, Priority: 1}},
		{"a terminal cannot choose its priority",
			`{"terminal_id":"MX3737","namespace":"gbt24476","code":"2","kind":"trapped","priority":1}`,
			liftrescue.Alarm{TerminalID: "MX3737", Namespace: "gbt24476", Code: "2", Time: testNow, Kind: liftrescue.AlarmDoorCloseFault, Priority: 3}},
		{"unknown code kept", ` {"terminal_id":"MX3737","namespace":"shmashine","code":"42"} `,
			liftrescue.Alarm{TerminalID: "MX3737", Namespace: "shmashine", Code: "42", Time: testNow, Kind: liftrescue.AlarmUnknown, Priority: 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := iot.DecodeMessage("", []byte(tt.payload), testNow)
			if err != nil {
				t.Fatalf("DecodeMessage: %v %+v", err, liftrescue.ErrorDetails(err))
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %s\nwant %s", show(got), show(tt.want))
			}
		})
	}
}

func show(a liftrescue.Alarm) string {
	s := fmt.Sprintf("%+v", a)
	if a.State != nil {
		st := a.State
		s += fmt.Sprintf(" state{mode %v running %v dir %v zone %v locked %v passenger %v floor %v}", val(st.ServiceMode), val(st.Running),
			val(st.Direction), val(st.DoorZone), val(st.DoorsLocked), val(st.PassengerPresent), val(st.Floor))
	}
	return s
}

func val[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

// refusal is an input a decoder refuses, with the error code and the field the details name first.
type refusal struct{ input, code, field string }

// check fails unless err is the refusal's.
func (r refusal) check(t *testing.T, err error) {
	t.Helper()
	field := ""
	if details := liftrescue.ErrorDetails(err); len(details) > 0 {
		field = details[0].Field
	}
	if liftrescue.ErrorCode(err) != r.code || field != r.field {
		t.Errorf("%.60s: %v, field %q; want %s on %q", r.input, err, field, r.code, r.field)
	}
}

// What cannot be read is EBADREQUEST naming the member; what breaks a rule is EINVALID.
func TestDecodeMessageRefused(t *testing.T) {
	tests := []refusal{
		{``, liftrescue.EBADREQUEST, ""},
		{`{"terminal_id":"T1"`, liftrescue.EBADREQUEST, ""},
		{`{"terminal_id":"T1"} {}`, liftrescue.EBADREQUEST, ""},
		{`[{"terminal_id":"T1"}]`, liftrescue.EBADREQUEST, ""},
		{`{"terminal_id":"T1","fault_type":7}`, liftrescue.EBADREQUEST, "fault_type"},
		{`{"terminal_id":"T1","state":{"car_status":1}}`, liftrescue.EBADREQUEST, "state.car_status"},
		{`{"terminal_id":"T1","terminal_id":"T2"}`, liftrescue.EBADREQUEST, "terminal_id"},
		{`{"terminal_id":"T1","state":{"floor":1,"floor":2}}`, liftrescue.EBADREQUEST, "state.floor"},
		{`{"terminal_id":7}`, liftrescue.EBADREQUEST, "terminal_id"},
		{`{"terminal_id":"T1","code":4.0}`, liftrescue.EBADREQUEST, "code"},
		{`{"terminal_id":"T1","code":-4}`, liftrescue.EBADREQUEST, "code"},
		{`{"terminal_id":"T1","code":true}`, liftrescue.EBADREQUEST, "code"},
		{`{"terminal_id":"T1","time":"2026-11-21 08:30:00"}`, liftrescue.EBADREQUEST, "time"},
		{`{"terminal_id":"T1","time":""}`, liftrescue.EBADREQUEST, "time"},
		{`{"terminal_id":"T1","time":1795250000}`, liftrescue.EBADREQUEST, "time"},
		{`{"terminal_id":"T1","state":[]}`, liftrescue.EBADREQUEST, "state"},
		{`{"terminal_id":"T1","state":{"door_zone":0}}`, liftrescue.EBADREQUEST, "state.door_zone"},
		{`{"terminal_id":"T1","state":{"doors_locked":"1"}}`, liftrescue.EBADREQUEST, "state.doors_locked"},
		{`{"terminal_id":"T1","state":{"running":2}}`, liftrescue.EBADREQUEST, "state.running"},
		{`{"terminal_id":"T1","state":{"service_mode":8}}`, liftrescue.EBADREQUEST, "state.service_mode"},
		{`{"terminal_id":"T1","state":{"service_mode":1.5}}`, liftrescue.EBADREQUEST, "state.service_mode"},
		{`{"terminal_id":"T1","state":{"direction":3}}`, liftrescue.EBADREQUEST, "state.direction"},
		{`{"terminal_id":"T1","state":{"floor":1.5}}`, liftrescue.EBADREQUEST, "state.floor"},
		{`{"terminal_id":"T1","state":{"floor":true}}`, liftrescue.EBADREQUEST, "state.floor"},
		{`{"terminal_id":"T1","priority":"1"}`, liftrescue.EBADREQUEST, "priority"},

		{`{}`, liftrescue.EINVALID, "equipment_code"},
		{`{"equipment_code":"` + equipment + `","terminal_id":"T1"}`, liftrescue.EINVALID, "terminal_id"},
		{`{"equipment_code":"3110370402201500000"}`, liftrescue.EINVALID, "equipment_code"},
		{`{"terminal_id":"T1","code":"4"}`, liftrescue.EINVALID, "namespace"},
		{`{"terminal_id":"T1","namespace":"gb","code":"4"}`, liftrescue.EINVALID, "namespace"},
		{`{"terminal_id":"T1","time":"2026-11-21T08:36:00Z"}`, liftrescue.EINVALID, "time"},
		{`{"terminal_id":"T1","time":"1970-01-01T00:00:00Z"}`, liftrescue.EINVALID, "time"},
		{`{"terminal_id":"T1","state":{"service_mode":"fire"}}`, liftrescue.EINVALID, "state.service_mode"},
		{`{"terminal_id":"T1","state":{"direction":"UP"}}`, liftrescue.EINVALID, "state.direction"},
	}
	for _, tt := range tests {
		_, err := iot.DecodeMessage("", []byte(tt.input), testNow)
		tt.check(t, err)
	}
	big := []byte(`{"terminal_id":"T1","code":"` + strings.Repeat("1", iot.MaxMessage) + `"}`)
	if _, err := iot.DecodeMessage("", big, testNow); liftrescue.ErrorCode(err) != liftrescue.ETOOLARGE {
		t.Errorf("a payload of %d bytes: %v, want ETOOLARGE", len(big), err)
	}
}

func TestDecodeMessageTopic(t *testing.T) {
	tests := []struct {
		topic, payload string
		terminal       string // "" for refused
		equipment      string
	}{
		{"lift/MX3737/alarm", `{"namespace":"gbt24476","code":"90"}`, "MX3737", ""},
		{"lift/MX3737/alarm", `{"terminal_id":"MX3737","namespace":"gbt24476","code":"90"}`, "MX3737", ""},
		{"lift/MX3737/alarm", `{"equipment_code":"` + equipment + `","namespace":"gbt24476","code":"90"}`, "", equipment},
		{"lift/MX3737/alarm", `{"terminal_id":"MX0001","namespace":"gbt24476","code":"90"}`, "", ""},
		{"lift/MX3737/status", `{"terminal_id":"MX0001"}`, "MX0001", ""}, // not the pattern: the topic says nothing
		{"other/MX3737/alarm", `{"namespace":"gbt24476","code":"90"}`, "", ""},
	}
	for _, tt := range tests {
		a, err := iot.DecodeMessage(tt.topic, []byte(tt.payload), testNow)
		switch {
		case tt.terminal == "" && tt.equipment == "":
			if liftrescue.ErrorCode(err) != liftrescue.EINVALID {
				t.Errorf("%s %s: %v, want EINVALID", tt.topic, tt.payload, err)
			}
		case err != nil || a.TerminalID != tt.terminal || a.EquipmentCode != tt.equipment:
			t.Errorf("%s %s: %v, %+v; want terminal %q, equipment %q", tt.topic, tt.payload, err, a, tt.terminal, tt.equipment)
		}
	}
	a, err := iot.DecodeMessageWith("site/+/elevators/{terminal}/#", "site/7/elevators/E-12/up/alarm", []byte(`{"namespace":"tcpjson","code":1}`), testNow)
	if err != nil || a.TerminalID != "E-12" || a.Kind != liftrescue.AlarmTrapped {
		t.Errorf("DecodeMessageWith: %v, %+v", err, a)
	}
}

func TestParseTopic(t *testing.T) {
	tests := []struct {
		pattern, topic string
		id             string
		ok             bool
	}{
		{"lift/{terminal}/alarm", "lift/MX3737/alarm", "MX3737", true},
		{"lift/{terminal}/alarm", "lift//alarm", "", false},
		{"lift/{terminal}/alarm", "lift/MX3737/alarm/x", "", false},
		{"lift/{terminal}/alarm", "lift/MX3737", "", false},
		{"lift/{terminal}/alarm", "Lift/MX3737/alarm", "", false},
		{"lift/{terminal}/alarm", "lift/+/alarm", "", false},
		{"lift/{terminal}/alarm", "lift/#", "", false},
		{"+/{terminal}/+", "a/T/b", "T", true},
		{"+/{terminal}/+", "$SYS/T/b", "", false},
		{"{terminal}/#", "T", "T", true},
		{"{terminal}/#", "T/a/b", "T", true},
		{"lift/#", "lift", "", true},
		{"lift/#/x", "lift/a/x", "", false},
		{"{terminal}/x/{terminal}", "T/x/T", "T", true},
		{"{terminal}/x/{terminal}", "T/x/U", "", false},
		{"lift/alarm", "lift/alarm", "", true},
		{"", "lift/alarm", "", false},
		{"lift/{terminal}", "", "", false},
		{"lift/{terminal}", "lift/终端", "终端", true}, // Normalize refuses it later, with a reason
	}
	for _, tt := range tests {
		id, ok := iot.ParseTopic(tt.pattern, tt.topic)
		if id != tt.id || ok != tt.ok {
			t.Errorf("ParseTopic(%q, %q) = %q, %v; want %q, %v", tt.pattern, tt.topic, id, ok, tt.id, tt.ok)
		}
	}
}

// A batch with good and bad reports: the good pass, each bad one is named by its index.
func TestDecodeBatch(t *testing.T) {
	body := `{"alarms":[
		{"equipment_code":"` + equipment + `","namespace":"gbt24476","code":"04","state":{"passenger_present":1}},
		{"terminal_id":"T1","namespace":"gbt24476","code":"4","fault_type":7},
		42,
		{"terminal_id":"T2","namespace":"shmashine","code":8},
		{"terminal_id":"T3","code":"8"},
		{"terminal_id":"T4","state":{"door_zone":1,"doors_locked":2}},
		{"terminal_id":"T5","time":"2099-01-01T00:00:00Z"},
		{"terminal_id":"T6","state":{"door_zone":3}}
	]}`
	b, err := iot.DecodeBatch(strings.NewReader(body), 0, testNow)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range b.Alarms {
		got = append(got, fmt.Sprintf("%s%s %s %d", a.EquipmentCode, a.TerminalID, a.Kind, a.Priority))
	}
	want := []string{equipment + " stopped_outside_door_zone 1", "T2 trapped 1", "T4  0"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("alarms %q, want %q", got, want)
	}
	got = nil
	for _, d := range b.Rejected {
		got = append(got, fmt.Sprintf("%d %s", *d.Index, d.Field))
	}
	want = []string{"1 fault_type", "2 ", "4 namespace", "6 time", "7 state.door_zone"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rejected %q, want %q", got, want)
	}
	if b.Alarms[2].State == nil || !b.Alarms[2].State.Released() {
		t.Errorf("T4's state %+v: want released", b.Alarms[2].State)
	}
}

func TestDecodeBatchRefused(t *testing.T) {
	tests := []refusal{
		{``, liftrescue.EBADREQUEST, ""},
		{`  `, liftrescue.EBADREQUEST, ""},
		{`[]`, liftrescue.EBADREQUEST, ""},
		{`{}`, liftrescue.EBADREQUEST, ""},
		{`{"alarms":null}`, liftrescue.EBADREQUEST, ""},
		{`{"alarms":{}}`, liftrescue.EBADREQUEST, ""},
		{`{"alarms":[],"alarms":[]}`, liftrescue.EBADREQUEST, "alarms"},
		{`{"alarms":[],"positions":[]}`, liftrescue.EBADREQUEST, "positions"},
		{`{"alarms":[]}{}`, liftrescue.EBADREQUEST, ""},
		{`{"alarms":[]} x`, liftrescue.EBADREQUEST, ""},
		{`{"alarms":[{]}`, liftrescue.EBADREQUEST, ""},
		{`{"alarms":[{"terminal_id":"T1"}`, liftrescue.EBADREQUEST, ""},
		{`{"alarms":[{"terminal_id":"T1"},]}`, liftrescue.EBADREQUEST, ""},
		{`{"alarms":[1}`, liftrescue.EBADREQUEST, ""},
		{`{"alarms":[] ,}`, liftrescue.EBADREQUEST, ""},
		{`{"alarms":[` + strings.Repeat("[", 20000) + `]}`, liftrescue.EBADREQUEST, ""},
	}
	for _, tt := range tests {
		b, err := iot.DecodeBatch(strings.NewReader(tt.input), 0, testNow)
		tt.check(t, err)
		if b.Alarms != nil || b.Rejected != nil {
			t.Errorf("%.60s: %+v with the error", tt.input, b)
		}
	}
	if _, err := iot.DecodeBatch(nil, 0, testNow); liftrescue.ErrorCode(err) != liftrescue.EBADREQUEST {
		t.Errorf("no body: %v, want EBADREQUEST", err)
	}
}

func TestDecodeBatchLimits(t *testing.T) {
	batch := func(n int) []byte {
		var b bytes.Buffer
		b.WriteString(`{"alarms":[`)
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"terminal_id":"T%d","namespace":"gbt24476","code":%d}`, i, i%100)
		}
		b.WriteString(`]}`)
		return b.Bytes()
	}
	full := batch(iot.MaxBatch)
	b, err := iot.DecodeBatch(bytes.NewReader(full), 0, testNow)
	if err != nil || len(b.Alarms) != iot.MaxBatch || len(b.Rejected) != 0 {
		t.Fatalf("%d reports: %v, %d alarms, %d rejected", iot.MaxBatch, err, len(b.Alarms), len(b.Rejected))
	}
	if _, err := iot.DecodeBatch(bytes.NewReader(batch(iot.MaxBatch+1)), 0, testNow); liftrescue.ErrorCode(err) != liftrescue.ETOOLARGE {
		t.Errorf("%d reports: %v, want ETOOLARGE", iot.MaxBatch+1, err)
	}
	if _, err := iot.DecodeBatch(bytes.NewReader(full), int64(len(full)), testNow); err != nil {
		t.Errorf("a body of exactly maxBytes: %v", err)
	}
	if _, err := iot.DecodeBatch(bytes.NewReader(full), int64(len(full)-1), testNow); liftrescue.ErrorCode(err) != liftrescue.ETOOLARGE {
		t.Errorf("a body of maxBytes+1: %v, want ETOOLARGE", err)
	}
	if _, err := iot.DecodeBatch(iotest{}, 0, testNow); liftrescue.ErrorCode(err) != liftrescue.EBADREQUEST {
		t.Errorf("a body that fails to read: %v, want EBADREQUEST", err)
	}
}

// iotest is a body whose reading fails, as when the client goes away.
type iotest struct{}

func (iotest) Read([]byte) (int, error) { return 0, fmt.Errorf("connection reset") }

// The code tables of liftrescue.ClassifyAlarm say what ELEVATOR_ALARMS.md says: every code the
// document lists, read from its text, classifies as its meaning.
func TestClassifyAlarmMatchesDocument(t *testing.T) {
	doc, err := os.ReadFile("testdata/ELEVATOR_ALARMS.md")
	if err != nil {
		t.Fatal(err)
	}
	// Each meaning as the document words it, in English (the standard's table) or Chinese (the
	// aftermarket lists).
	meanings := map[string]liftrescue.AlarmKind{
		"no fault": liftrescue.AlarmNoFault, "safety circuit": liftrescue.AlarmSafetyCircuit,
		"door-close fault": liftrescue.AlarmDoorCloseFault, "door-open fault": liftrescue.AlarmDoorOpenFault,
		"car stopped outside unlocking zone": liftrescue.AlarmStoppedOutsideDoorZone,
		"unintended car movement":            liftrescue.AlarmUnintendedMovement,
		"motor run-time limiter tripped":     liftrescue.AlarmRunTimeLimiter,
		"floor position lost":                liftrescue.AlarmFloorLost, "fault preventing re-run": liftrescue.AlarmRestartPrevented,
		"back to normal": liftrescue.AlarmBackToNormal, "main power lost": liftrescue.AlarmPowerLost,
		"enter": liftrescue.AlarmModeChange, "inspection": liftrescue.AlarmModeChange, "fire return": liftrescue.AlarmModeChange,
		"firefighter": liftrescue.AlarmModeChange, "emergency power": liftrescue.AlarmModeChange, "earthquake": liftrescue.AlarmModeChange,
		"alarm button pressed": liftrescue.AlarmButton,
		"top overtravel":       liftrescue.AlarmOvertravelTop, "bottom": liftrescue.AlarmOvertravelBottom,
		"entrapment": liftrescue.AlarmTrapped, "overspeed": liftrescue.AlarmOverspeed,
		"unintended reversal": liftrescue.AlarmUnintendedReversal, "missing step": liftrescue.AlarmMissingStep,
		"restart prevention": liftrescue.AlarmRestartPrevented,

		"冲顶": liftrescue.AlarmOvertravelTop, "蹲底": liftrescue.AlarmOvertravelBottom, "超速": liftrescue.AlarmOverspeed,
		"运行中开门": liftrescue.AlarmDoorOpenWhileRunning, "开门走车": liftrescue.AlarmUnintendedMovement,
		"门区外停梯": liftrescue.AlarmStoppedOutsideDoorZone, "平层关人": liftrescue.AlarmTrapped, "非平层关人": liftrescue.AlarmTrapped,
		"停电": liftrescue.AlarmPowerLost, "安全回路断路": liftrescue.AlarmSafetyCircuit, "开门故障": liftrescue.AlarmDoorOpenFault,
		"关门故障": liftrescue.AlarmDoorCloseFault, "门锁回路断路": liftrescue.AlarmDoorLockCircuit, "按钮粘连": liftrescue.AlarmButtonStuck,
		"运行速度异常": liftrescue.AlarmSpeedAbnormal, "用户报警": liftrescue.AlarmButton, "电动车乘梯": liftrescue.AlarmEBike,
		"非平层困人": liftrescue.AlarmTrapped, "平层困人": liftrescue.AlarmTrapped,
	}
	meaning := func(text string) liftrescue.AlarmKind {
		text = strings.TrimPrefix(strings.TrimSpace(text), "escalator: ")
		for m, k := range meanings {
			if strings.HasPrefix(text, m) {
				return k
			}
		}
		t.Fatalf("the document's meaning %q is not in the test's list", text)
		return ""
	}
	check := func(ns liftrescue.AlarmNamespace, code, text string) {
		if got, want := liftrescue.ClassifyAlarm(ns, code), meaning(text); got != want {
			t.Errorf("%s %s (%s): %q, want %q", ns, code, text, got, want)
		}
	}
	counts := map[liftrescue.AlarmNamespace]int{}

	// The standard's table: | code | meaning | E1 | E2 | E3 Chongqing | status |
	section := between(t, string(doc), "## Fault / event / alarm codes", "Key consequence")
	row := regexp.MustCompile(`(?m)^\| ([0-9./]+) \| ([^|]+) \|[^|]*\|[^|]*\| ([^|]*) \|`)
	for _, m := range row.FindAllStringSubmatch(section, -1) {
		codes := expand(m[1])
		texts := splitMeanings(m[2], len(codes))
		if len(texts) != len(codes) {
			t.Fatalf("row %q: %d codes, %d meanings", m[0], len(codes), len(texts))
		}
		regional := regexp.MustCompile(`\d+`).FindAllString(m[3], -1)
		for i, code := range codes {
			check(liftrescue.NamespaceGBT24476, code, texts[i])
			counts[liftrescue.NamespaceGBT24476]++
			if strings.HasPrefix(strings.TrimSpace(m[3]), "(") { // Chongqing's own numbers for the same
				check(liftrescue.NamespaceGBT24476, regional[i], texts[i])
				counts[liftrescue.NamespaceGBT24476]++
			}
		}
	}
	// The aftermarket lists: "1 冲顶, 2 蹲底, …".
	pair := regexp.MustCompile(`(\d+) (\p{Han}+)`)
	lists := map[liftrescue.AlarmNamespace]string{
		liftrescue.NamespaceShmashine: between(t, string(doc), "- E3 platform enum", "- E5:"),
		liftrescue.NamespaceTCPJSON:   between(t, string(doc), "- E5:", "So code"),
	}
	for ns, list := range lists {
		for _, m := range pair.FindAllStringSubmatch(list, -1) {
			check(ns, m[1], m[2])
			counts[ns]++
		}
	}
	want := map[liftrescue.AlarmNamespace]int{liftrescue.NamespaceGBT24476: 29, liftrescue.NamespaceShmashine: 17, liftrescue.NamespaceTCPJSON: 8}
	if !reflect.DeepEqual(counts, want) {
		t.Errorf("codes read from the document: %v, want %v", counts, want)
	}
}

// between returns the text of s from the first start to the next end.
func between(t *testing.T, s, start, end string) string {
	t.Helper()
	i := strings.Index(s, start)
	j := strings.Index(s[max(i, 0):], end)
	if i < 0 || j < 0 {
		t.Fatalf("the document has no %q … %q", start, end)
	}
	return s[i : i+j]
}

// expand turns the document's code cells ("7", "42..47", "09/10/11") into codes.
func expand(cell string) []string {
	if from, to, ok := strings.Cut(cell, ".."); ok {
		var a, b int
		fmt.Sscan(from, &a)
		fmt.Sscan(to, &b)
		var codes []string
		for n := a; n <= b; n++ {
			codes = append(codes, fmt.Sprint(n))
		}
		return codes
	}
	return strings.Split(cell, "/")
}

// splitMeanings splits a cell into the meanings of its n codes: "a / b / c", or "a, b, c" where a
// meaning has a slash of its own.
func splitMeanings(cell string, n int) []string {
	switch {
	case n == 1:
		return []string{cell}
	case strings.Contains(cell, ", "):
		return strings.Split(cell, ", ")
	}
	return strings.Split(cell, " / ")
}

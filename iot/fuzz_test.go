package iot_test

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/iot"
)

// The decoders read what any terminal or platform sends: they must never panic, never accept what
// is not JSON, and whatever alarm they accept must pass its own rules again and read back the same
// from its own JSON. Run one with, for example,
//
//	go test -run '^$' -fuzz FuzzDecodeBatch -fuzztime 20s ./iot

// checkAccepted fails when an accepted alarm does not hold together.
func checkAccepted(t *testing.T, a liftrescue.Alarm) {
	t.Helper()
	again := a
	if err := again.Normalize(testNow, iot.MaxSkew, iot.MaxAge); err != nil || !reflect.DeepEqual(again, a) {
		t.Fatalf("normalising %s again: %v, %s", show(a), err, show(again))
	}
	if a.Time.Location() != time.UTC || a.Time.Before(testNow.Add(-iot.MaxAge)) || a.Time.After(testNow.Add(iot.MaxSkew)) {
		t.Fatalf("time %v", a.Time)
	}
	switch {
	case a.Code == "" && (a.Kind != "" || a.Priority != 0):
		t.Fatalf("a status report with kind %q, priority %d", a.Kind, a.Priority)
	case a.Code != "" && (a.Kind != liftrescue.ClassifyAlarm(a.Namespace, a.Code) || a.Priority < 1 || a.Priority > 3):
		t.Fatalf("%s %s: kind %q, priority %d", a.Namespace, a.Code, a.Kind, a.Priority)
	}
	b, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	back, err := iot.DecodeMessage("", b, testNow)
	if err != nil || !reflect.DeepEqual(back, a) {
		t.Fatalf("%s read back from %s: %v, %s", show(a), b, err, show(back))
	}
}

func FuzzDecodeBatch(f *testing.F) {
	f.Add([]byte(`{"alarms":[{"equipment_code":"` + equipment + `","namespace":"gbt24476","code":"04","time":"2026-11-21T16:29:00+08:00",` +
		`"state":{"service_mode":1,"running":0,"direction":0,"door_zone":2,"doors_locked":1,"passenger_present":1,"floor":-1}}]}`))
	f.Add([]byte(`{"alarms":[{"terminal_id":"T1","namespace":"shmashine","code":7,"kind":"x","priority":9},42,null,[],{"terminal_id":"T2","x":1},` +
		`{"terminal_id":"T3","state":{"door_zone":true,"doors_locked":false,"floor":""}},{"terminal_id":"T4","time":"2099-01-01T00:00:00Z"}]}`))
	f.Add([]byte(`{"alarms":[{"terminal_id":"T1","terminal_id":"T1"}],"alarms":[]}`))
	f.Add([]byte(`{"alarm\u0073":[{"terminal_id":"\ud83d\u0041","namespace":"liftrescue","code":"trapped","time":null,"state":null}]}`))
	f.Add([]byte("{\"alarms\":[{\"terminal_id\":\"\xff\",\"code\":1e2},{\"state\":{\"service_mode\":\"fire_return\",\"direction\":\"up\",\"floor\":\"\\u8d1f\\u4e00\"}}]}"))
	f.Add([]byte(`{"alarms":[{"terminal_id":"T1","namespace":"tcpjson","code":"0001","state":{"service_mode":7,"running":1,"passenger_present":2}}]} `))
	f.Fuzz(func(t *testing.T, body []byte) {
		b, err := iot.DecodeBatch(bytes.NewReader(body), 0, testNow)
		if err != nil {
			if code := liftrescue.ErrorCode(err); code != liftrescue.EBADREQUEST && code != liftrescue.ETOOLARGE || b.Alarms != nil || b.Rejected != nil {
				t.Fatalf("%v with %+v", err, b)
			}
			return
		}
		var ref map[string][]json.RawMessage
		if json.Unmarshal(body, &ref) != nil || len(ref) != 1 || ref["alarms"] == nil && len(b.Alarms)+len(b.Rejected) > 0 {
			t.Fatalf("accepted %q", body)
		}
		items := len(ref["alarms"])
		if len(b.Alarms)+len(b.Rejected) != items {
			t.Fatalf("%d alarms and %d rejected of %d reports", len(b.Alarms), len(b.Rejected), items)
		}
		for _, a := range b.Alarms {
			checkAccepted(t, a)
		}
		last := -1
		for _, d := range b.Rejected {
			if d.Index == nil || *d.Index <= last || *d.Index >= items || d.Reason == "" {
				t.Fatalf("rejected %+v of %d reports", d, items)
			}
			last = *d.Index
		}
	})
}

func FuzzDecodeMessage(f *testing.F) {
	f.Add("lift/MX3737/alarm", []byte(`{"namespace":"gbt24476","code":90,"state":{"passenger_present":1,"door_zone":2}}`))
	f.Add("lift/MX3737/alarm", []byte(`{"terminal_id":"MX0001","namespace":"gbt24476","code":"4"}`))
	f.Add("lift/MX3737/alarm", []byte(`{"equipment_code":"`+equipment+`","namespace":"shmashine","code":"8","time":"2026-11-21T08:29:59.9999999Z"}`))
	f.Add("$SYS/x/alarm", []byte(`{"terminal_id":"MX0001","state":{"service_mode":"normal","running":false,"doors_locked":2}}`))
	f.Add("lift/+/alarm", []byte(`{"terminal_id":"A B","code":"1"}`))
	f.Add("lift/T/alarm", []byte(`{"namespace":"liftrescue","code":"mode_change","state":{"service_mode":6,"floor":12}}`))
	f.Add("", []byte(`{"terminal_id":"T","namespace":"tcpjson","code":"1"} x`))
	f.Fuzz(func(t *testing.T, topic string, payload []byte) {
		a, err := iot.DecodeMessage(topic, payload, testNow)
		if err != nil {
			switch liftrescue.ErrorCode(err) {
			case liftrescue.EBADREQUEST, liftrescue.EINVALID, liftrescue.ETOOLARGE:
			default:
				t.Fatalf("error %v", err)
			}
			if !reflect.DeepEqual(a, liftrescue.Alarm{}) {
				t.Fatalf("%+v with the error %v", a, err)
			}
			return
		}
		if !json.Valid(payload) {
			t.Fatalf("accepted %q", payload)
		}
		if id, ok := iot.ParseTopic(iot.TopicPattern, topic); ok && a.TerminalID != id && a.EquipmentCode == "" {
			t.Fatalf("topic %q: terminal %q", topic, a.TerminalID)
		}
		checkAccepted(t, a)
	})
}

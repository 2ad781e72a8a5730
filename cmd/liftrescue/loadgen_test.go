package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/iot"
	"github.com/liftrescue/liftrescue/loadgen"
)

func TestLoadgenBadFlags(t *testing.T) {
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"no duration", nil, []string{"--duration", "0"}, "bounded"},
		{"too long", nil, []string{"--duration", "11m"}, "at most 10m"},
		{"not a duration", nil, []string{"--duration", "ten"}, "--duration"},
		{"unknown protocol", nil, []string{"--protocol", "amqp"}, "unknown protocol"},
		{"unknown protocol from the environment", map[string]string{"LIFTRESCUE_PROTOCOL": "coap"}, nil, "unknown protocol"},
		{"trapped share", nil, []string{"--protocol", "alarms", "--trapped", "1.5"}, "trapped share"},
		{"shares", nil, []string{"--protocol", "alarms", "--trapped", "0.5", "--faulty", "0.6"}, "together at most 1"},
		{"no heartbeat", nil, []string{"--protocol", "alarms", "--heartbeat", "0"}, "--heartbeat"},
		{"heartbeat too short", nil, []string{"--protocol", "mqtt", "--heartbeat", "1ms"}, "heartbeat 1ms"},
		{"not a repeat", nil, []string{"--protocol", "mqtt", "--repeat", "often"}, "--repeat"},
		{"mqtt broker", nil, []string{"--protocol", "mqtt", "--mqtt-broker", "localhost:1883"}, "MQTT broker"},
		{"mqtt pattern", nil, []string{"--protocol", "mqtt", "--mqtt-pattern", "lift/#"}, "MQTT pattern"},
		{"jt808 version", nil, []string{"--jt808-version", "2020"}, "--jt808-version"},
		{"center", nil, []string{"--center", "117.5"}, "--center"},
		{"method", nil, []string{"--method", "PUT"}, "method"},
		{"no devices", nil, []string{"--devices", "0"}, "--devices"},
		{"argument", nil, []string{"extra"}, "unexpected argument"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			err := run(context.Background(), append([]string{"loadgen"}, tt.args...), io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("loadgen %v = %v, want an error mentioning %q", tt.args, err, tt.want)
			}
		})
	}
	var stderr bytes.Buffer
	if err := run(context.Background(), []string{"loadgen", "--help"}, io.Discard, &stderr); err == nil ||
		!strings.Contains(stderr.String(), "LIFTRESCUE_INGEST_KEY") || !strings.Contains(stderr.String(), "--by-equipment-code") ||
		!strings.Contains(stderr.String(), "lift/LG-<id>/alarm") {
		t.Errorf("loadgen --help: %v\n%s", err, stderr.String())
	}
}

// The command prints its report, as text or as JSON, and fails when the server accepted nothing.
func TestLoadgenReport(t *testing.T) {
	var accept atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/v1/districts":
			io.WriteString(w, `{"items":[{"code":"370402","name":"市中区","outline":null}]}`)
		case r.URL.Path == "/api/v1/positions" && accept.Load():
			io.WriteString(w, `{"accepted":10000,"rejected":[]}`) // a sink: all accepted
		case r.URL.Path == "/api/v1/positions":
			w.WriteHeader(401)
			io.WriteString(w, `{"error":{"code":"unauthorized","message":"no"}}`)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	args := []string{"loadgen", "--url", srv.URL, "--center", "117.55,34.85", "--duration", "200ms",
		"--devices", "10", "--rate", "0", "--progress", "0"}

	var out bytes.Buffer
	err := run(context.Background(), args, &out, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "accepted no fix") || !strings.Contains(out.String(), "HTTP 401 unauthorized") {
		t.Errorf("refused run: %v\n%s", err, out.String())
	}

	accept.Store(true)
	out.Reset()
	if err := run(context.Background(), args, &out, io.Discard); err != nil || !strings.Contains(out.String(), "fixes/s sent") {
		t.Errorf("text report: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), append(args, "--json"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rep loadgen.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.FixesSent == 0 || rep.FixesAccepted != rep.FixesSent || rep.Protocol != loadgen.JSON {
		t.Errorf("JSON report: %v\n%s", err, out.String())
	}
}

// A fleet of IoT terminals: the report as text and as JSON, and the hint when the server does not
// know the terminals.
func TestLoadgenFleetReport(t *testing.T) {
	var mu sync.Mutex
	opened := map[string]bool{}
	var known atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/elevators":
			io.WriteString(w, `{"items":[{"id":1,"equipment_code":"31013704020000000001","district":"370402","floors":9},`+
				`{"id":2,"equipment_code":"31013704020000000002","district":"370402","floors":9}],"next_cursor":""}`)
		case "/api/v1/incidents":
			io.WriteString(w, `{"items":[],"next_cursor":""}`)
		case "/api/v1/alarms":
			b, err := iot.DecodeBatch(r.Body, 0, time.Now())
			if err != nil || len(b.Rejected) > 0 {
				t.Errorf("batch: %v %v", err, b.Rejected)
			}
			var res []liftrescue.AlarmResult
			mu.Lock()
			for i, a := range b.Alarms {
				out := liftrescue.AlarmRecorded
				switch {
				case !known.Load():
					out = liftrescue.AlarmQuarantined
				case a.Priority == 1 && !opened[a.TerminalID]:
					opened[a.TerminalID], out = true, liftrescue.AlarmOpened
				case opened[a.TerminalID]:
					out = liftrescue.AlarmCounted
				}
				res = append(res, liftrescue.AlarmResult{Index: i, Outcome: out})
			}
			mu.Unlock()
			json.NewEncoder(w).Encode(map[string]any{"accepted": len(res), "results": res, "rejected": []any{}})
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	args := []string{"loadgen", "--protocol", "alarms", "--url", srv.URL, "--devices", "2", "--trapped", "0.5", "--faulty", "0",
		"--heartbeat", "100ms", "--repeat", "50ms", "--duration", "500ms", "--progress", "0"}

	var out bytes.Buffer
	err := run(context.Background(), args, &out, io.Discard)
	if err != nil || !strings.Contains(out.String(), "quarantined") {
		t.Errorf("unknown terminals: %v\n%s", err, out.String())
	}
	out.Reset()
	if err := run(context.Background(), append(args, "--verify"), &out, io.Discard); err == nil || !strings.Contains(err.Error(), "--provision") {
		t.Errorf("unknown terminals, verified: %v\n%s", err, out.String())
	}

	known.Store(true)
	out.Reset()
	if err := run(context.Background(), args, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"loadgen alarms: 2 terminals", "1 trapped", "opened 1", "to incident   round trip", "reports/s sent"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the text report does not say %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), append(args, "--json", "--by-equipment-code"), &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var rep loadgen.FleetReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil || rep.Sent == 0 || rep.Protocol != loadgen.Alarms || rep.NamedBy != "equipment_code" ||
		rep.TerminalStatusNote == "" {
		t.Errorf("JSON report: %v\n%s", err, out.String())
	}
}

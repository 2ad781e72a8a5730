package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/liftrescue/liftrescue"
	"github.com/liftrescue/liftrescue/demo"
	"github.com/liftrescue/liftrescue/iot"
)

// A terminal's trapped alarm published over MQTT opens an incident by itself, and a flood of its
// repeats leaves that one incident. Runs against the broker in LIFTRESCUE_TEST_MQTT; skips without
// it unless LIFTRESCUE_REQUIRE_MQTT=1.
func TestMQTTAlarmOpensOneIncident(t *testing.T) {
	broker := os.Getenv("LIFTRESCUE_TEST_MQTT")
	if broker == "" {
		if os.Getenv("LIFTRESCUE_REQUIRE_MQTT") == "1" {
			t.Fatal("LIFTRESCUE_REQUIRE_MQTT=1 but LIFTRESCUE_TEST_MQTT not set")
		}
		t.Skip("LIFTRESCUE_TEST_MQTT not set")
	}
	data := t.TempDir()
	if err := seedDemoFile(context.Background(), filepath.Join(data, "liftrescue.db"), demo.Config{Elevators: 20}, false, io.Discard); err != nil {
		t.Fatal(err)
	}
	// The subscription is to this test's terminal alone, so that runs side by side on one broker
	// never open incidents in each other's cities.
	b := make([]byte, 8)
	rand.Read(b)
	topic := "lift/T-TEST-" + hex.EncodeToString(b) + "/alarm"
	lines, _ := startCommand(t, "alarms", "serve", "--addr", "127.0.0.1:0", "--data", data, "--log-level", "error",
		"--mqtt-broker", broker, "--mqtt-topic", topic)
	if got, want := fieldAfter(lines, "alarms"), "MQTT "+broker+" "+topic; got != want {
		t.Errorf("alarms line %q, want %q", got, want)
	}
	p := &process{url: fieldAfter(lines, "serving on")}
	mqttStats := func() (st iot.SubscriberStats) {
		var ingest struct {
			Servers struct {
				MQTT *iot.SubscriberStats `json:"mqtt"`
			} `json:"servers"`
		}
		p.do(t, "GET", "/api/v1/ingest", nil, &ingest)
		if ingest.Servers.MQTT == nil {
			t.Fatal("GET /api/v1/ingest has no servers.mqtt")
		}
		return *ingest.Servers.MQTT
	}
	poll(t, "the subscriber is connected", func() bool { return mqttStats().Connected })

	var els liftrescue.Page[liftrescue.Elevator]
	p.do(t, "GET", "/api/v1/elevators?limit=1", nil, &els)
	el := els.Items[0]
	pub := mqtt.NewClient(mqtt.NewClientOptions().AddBroker(broker).SetClientID("lr-test-" + hex.EncodeToString(b)))
	if tok := pub.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect to %s: %v", broker, tok.Error())
	}
	defer pub.Disconnect(100)
	publish := func(n int) {
		toks := make([]mqtt.Token, n)
		for i := range toks {
			payload := fmt.Sprintf(`{"equipment_code":%q,"namespace":"gbt24476","code":"93","time":%q}`, el.EquipmentCode, time.Now().Format(time.RFC3339))
			toks[i] = pub.Publish(topic, 1, false, payload)
		}
		for _, tok := range toks {
			if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
				t.Fatalf("publish on %s: %v", topic, tok.Error())
			}
		}
	}
	openOnElevator := func() []*liftrescue.Incident {
		var page liftrescue.Page[*liftrescue.Incident]
		p.do(t, "GET", fmt.Sprintf("/api/v1/incidents?open=true&elevator_id=%d", el.ID), nil, &page)
		return page.Items
	}

	publish(1)
	var open []*liftrescue.Incident
	poll(t, "the alarm has opened an incident", func() bool { open = openOnElevator(); return len(open) > 0 })
	first := open[0]
	if len(open) != 1 || first.Source != liftrescue.SourceIoT || first.ElevatorID != el.ID {
		t.Fatalf("open incidents on elevator %d: %+v, want one from iot", el.ID, open)
	}

	publish(200)
	poll(t, "the subscriber has handled the 200 repeats", func() bool { st := mqttStats(); return st.Accepted+st.Malformed+st.Failed >= 201 })
	if st := mqttStats(); st.Received != 201 || st.Accepted != 201 || st.Malformed != 0 || st.Failed != 0 {
		t.Errorf("MQTT stats %+v, want 201 received and accepted", st)
	}
	if open := openOnElevator(); len(open) != 1 || open[0].ID != first.ID {
		t.Errorf("after 200 repeats, %d incidents open on elevator %d, want incident %d alone", len(open), el.ID, first.ID)
	}
}

// poll checks cond every 20 ms until it holds, for at most 15 s.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("15 s passed waiting until %s", what)
		}
	}
}

func TestMQTTBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--mqtt-broker", "http://127.0.0.1:1883"},
		{"--mqtt-broker", "tcp://127.0.0.1"},
		{"--mqtt-broker", "tcp://127.0.0.1:1883", "--mqtt-topic", "lift/#/alarm"},
		{"--mqtt-broker", "tcp://127.0.0.1:1883", "--mqtt-pattern", "lift/x{terminal}/alarm"},
	} {
		t.Setenv("LIFTRESCUE_DATA", t.TempDir())
		err := run(context.Background(), append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), "--mqtt-") {
			t.Errorf("serve %v = %v, want an error naming the --mqtt- flags", args, err)
		}
	}
}

package iot

import (
	"slices"
	"testing"

	"github.com/eclipse/paho.mqtt.golang/packets"
)

// TestCopyingStoreGivesPacketsOfTheirOwn: what the store gives back after a reconnect is equal to
// what was stored but another packet, so that marking it a duplicate touches nothing a writer of
// the lost connection may be reading.
func TestCopyingStoreGivesPacketsOfTheirOwn(t *testing.T) {
	s := newCopyingStore()
	s.Open()
	pub := packets.NewControlPacket(packets.Publish).(*packets.PublishPacket)
	pub.TopicName, pub.Qos, pub.MessageID, pub.Payload = "lift/T-1", 1, 7, []byte(`{"code":"trapped"}`)
	s.Put("o.7", pub)
	rel := packets.NewControlPacket(packets.Pubrel).(*packets.PubrelPacket)
	rel.MessageID = 9
	s.Put("o.9", rel)

	got, ok := s.Get("o.7").(*packets.PublishPacket)
	if !ok || got == pub {
		t.Fatalf("Get = %#v (the stored packet itself: %v), want a copy", got, got == pub)
	}
	if got.TopicName != pub.TopicName || got.Qos != 1 || got.MessageID != 7 || string(got.Payload) != string(pub.Payload) || got.Dup {
		t.Errorf("Get = %+v, want the packet stored", got)
	}
	got.Dup = true
	if pub.Dup || s.Get("o.7").(*packets.PublishPacket).Dup {
		t.Error("marking the copy a duplicate changed the packet stored")
	}
	if r, ok := s.Get("o.9").(*packets.PubrelPacket); !ok || r.MessageID != 9 {
		t.Errorf("Get(o.9) = %#v, want the pubrel of message 9", s.Get("o.9"))
	}
	if keys := s.All(); !slices.Equal(keys, []string{"o.7", "o.9"}) {
		t.Errorf("All = %v", keys)
	}
	s.Del("o.7")
	if s.Get("o.7") != nil || len(s.All()) != 1 {
		t.Errorf("after Del: %v", s.All())
	}
	s.Reset()
	if len(s.All()) != 0 {
		t.Errorf("after Reset: %v", s.All())
	}
}

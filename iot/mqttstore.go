package iot

import (
	"bytes"
	"slices"
	"sync"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/eclipse/paho.mqtt.golang/packets"
)

// copyingStore is the MQTT client's store of messages in flight, kept as the bytes of each packet,
// so that what it gives back is a packet of its own. paho's MemoryStore gives back the very
// packet stored: after a reconnect the client marks it a duplicate and sends it again while the
// lost connection's writer may still be reading it (a data race inside the library,
// eclipse-paho/paho.mqtt.golang#703, seen once in CI). A packet is stored by Publish before any
// writer has it, so reading it then races with nothing.
type copyingStore struct {
	mu      sync.Mutex
	packets map[string][]byte
}

var _ mqtt.Store = (*copyingStore)(nil)

func newCopyingStore() *copyingStore { return &copyingStore{packets: map[string][]byte{}} }

func (s *copyingStore) Open()  {}
func (s *copyingStore) Close() {}

// Put keeps the packet's bytes; one that cannot be written is not kept, as if lost with the
// connection (QoS 1 is at least once from the sender's retry, not from this store alone).
func (s *copyingStore) Put(key string, p packets.ControlPacket) {
	var b bytes.Buffer
	if err := p.Write(&b); err != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.packets[key] = b.Bytes()
}

// Get returns a packet read from the bytes kept, nil when none are.
func (s *copyingStore) Get(key string) packets.ControlPacket {
	s.mu.Lock()
	b, ok := s.packets[key]
	s.mu.Unlock()
	if !ok {
		return nil
	}
	p, err := packets.ReadPacket(bytes.NewReader(b))
	if err != nil {
		return nil
	}
	return p
}

func (s *copyingStore) All() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := make([]string, 0, len(s.packets))
	for k := range s.packets {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (s *copyingStore) Del(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.packets, key)
}

func (s *copyingStore) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.packets)
}

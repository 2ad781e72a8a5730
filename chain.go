package liftrescue

import (
	"context"
	"fmt"
)

// BrokenLink says where the hash chain of incident events stops holding.
type BrokenLink struct {
	Seq        int64  `json:"seq"`
	IncidentID int64  `json:"incident_id"`
	Reason     string `json:"reason"`
}

// ChainReport is what a walk of the event chain found.
type ChainReport struct {
	Events int64  `json:"events"`
	Head   string `json:"head"` // the hash of the last event
	// Broken is the first link that does not hold, nil when the chain is whole.
	Broken *BrokenLink `json:"broken"`
}

// VerifyChain walks every incident event in order and checks that each names the hash of the one
// before it, that its own hash is right, that no event is missing from the sequence, and that the
// last is the one the chain's head names. It stops at the first broken link: every event after it
// is suspect.
func VerifyChain(ctx context.Context, s IncidentService) (*ChainReport, error) {
	r := &ChainReport{}
	var prevSeq int64
	stop := fmt.Errorf("broken")
	err := s.EachIncidentEvent(ctx, func(ev *IncidentEvent) error {
		broken := func(format string, args ...any) error {
			r.Broken = &BrokenLink{Seq: ev.Seq, IncidentID: ev.IncidentID, Reason: fmt.Sprintf(format, args...)}
			return stop
		}
		switch {
		case ev.Seq != prevSeq+1:
			return broken("event %d follows event %d: events %d to %d are missing", ev.Seq, prevSeq, prevSeq+1, ev.Seq-1)
		case ev.PrevHash != r.Head:
			return broken("it names %.12s… as the hash before it, but event %d's hash is %.12s…", ev.PrevHash, prevSeq, r.Head)
		case ev.ChainHash(ev.PrevHash) != ev.Hash:
			return broken("its content does not match its hash: it was changed after it was written")
		}
		r.Events++
		r.Head = ev.Hash
		prevSeq = ev.Seq
		return nil
	})
	if err == stop {
		return r, nil
	}
	if err != nil {
		return r, err
	}
	// The walk cannot see events cut from the end: the head, kept apart, names the last one.
	seq, hash, err := s.ChainHead(ctx)
	if err != nil {
		return r, err
	}
	if seq != prevSeq || hash != r.Head {
		r.Broken = &BrokenLink{Seq: seq, Reason: fmt.Sprintf("the chain's head names event %d (%.12s…) but the last event is %d (%.12s…): events were removed from its end, or the head was changed", seq, hash, prevSeq, r.Head)}
	}
	return r, nil
}

package liftrescue

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Duration is a time.Duration that reads and writes as text ("5m", "90s") in policy files.
type Duration time.Duration

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText reads a duration as time.ParseDuration does.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration like 5m or 90s", b)
	}
	*d = Duration(v)
	return nil
}

// Policy defaults, from TSG T5002-2017 and the provincial standards (DOMAIN.md).
const (
	DefaultAckTimeout         = 5 * time.Minute
	DefaultArriveTimeout      = 30 * time.Minute
	DefaultRuralArriveTimeout = 60 * time.Minute
	DefaultTier2AckTimeout    = 3 * time.Minute
	DefaultTier3AckTimeout    = 5 * time.Minute
	DefaultArrivalRadiusM     = 100
	DefaultResponderLinkTTL   = 24 * time.Hour
	DefaultCandidateLimit     = 10
)

// DistrictPolicy overrides the deadlines of one district; zero fields keep the policy's.
type DistrictPolicy struct {
	AckTimeout    Duration `json:"ack_timeout"`
	ArriveTimeout Duration `json:"arrive_timeout"`
}

// Policy holds every duration and choice of the escalation, so that a centre sets its own and
// tests and demos run in seconds. Zero fields take the defaults.
type Policy struct {
	// AckTimeout is how long tier 1 has to accept before tier 2 is asked.
	AckTimeout Duration `json:"ack_timeout"`
	// ArriveTimeout is the arrival limit, counted from the report for tier 1 and from the dispatch
	// for a tier-2 unit; RuralArriveTimeout replaces it in districts marked rural.
	ArriveTimeout      Duration `json:"arrive_timeout"`
	RuralArriveTimeout Duration `json:"rural_arrive_timeout"`
	// Tier2AckTimeout is how long a dispatched volunteer unit has to accept before the next one is asked.
	Tier2AckTimeout Duration `json:"tier2_ack_timeout"`
	// Tier3AckTimeout is how long the fire station has to accept before it is reminded.
	Tier3AckTimeout Duration `json:"tier3_ack_timeout"`
	// ManualDispatch makes tier 2 wait for the dispatcher to confirm a unit instead of sending the
	// best candidate at once.
	ManualDispatch bool `json:"manual_dispatch"`
	// NoPrediction turns off starting tier 2 early when tier 1's vehicle cannot arrive in time.
	NoPrediction bool `json:"no_prediction"`
	// ArrivalRadiusM is how near the elevator a dispatched vehicle's fix marks it arrived.
	ArrivalRadiusM float64 `json:"arrival_radius_m"`
	// ResponderLinkTTL is how long a responder's link works after it is sent.
	ResponderLinkTTL Duration `json:"responder_link_ttl"`
	// CandidateLimit is how many tier-2 candidates a ranking lists.
	CandidateLimit int `json:"candidate_limit"`
	// Districts overrides deadlines by district code.
	Districts map[string]DistrictPolicy `json:"districts"`
}

// DefaultPolicy returns the policy with every default filled in.
func DefaultPolicy() Policy {
	var p Policy
	if err := p.Validate(); err != nil {
		panic(err)
	}
	return p
}

// Validate fills in the defaults and checks the values.
func (p *Policy) Validate() error {
	fill := func(d *Duration, def time.Duration) {
		if *d == 0 {
			*d = Duration(def)
		}
	}
	fill(&p.AckTimeout, DefaultAckTimeout)
	fill(&p.ArriveTimeout, DefaultArriveTimeout)
	fill(&p.RuralArriveTimeout, DefaultRuralArriveTimeout)
	fill(&p.Tier2AckTimeout, DefaultTier2AckTimeout)
	fill(&p.Tier3AckTimeout, DefaultTier3AckTimeout)
	fill(&p.ResponderLinkTTL, DefaultResponderLinkTTL)
	if p.ArrivalRadiusM == 0 {
		p.ArrivalRadiusM = DefaultArrivalRadiusM
	}
	if p.CandidateLimit == 0 {
		p.CandidateLimit = DefaultCandidateLimit
	}
	var pr problems
	positive := func(field string, d Duration) {
		if d <= 0 {
			pr.add(field, "must be a positive duration")
		}
	}
	positive("ack_timeout", p.AckTimeout)
	positive("arrive_timeout", p.ArriveTimeout)
	positive("rural_arrive_timeout", p.RuralArriveTimeout)
	positive("tier2_ack_timeout", p.Tier2AckTimeout)
	positive("tier3_ack_timeout", p.Tier3AckTimeout)
	positive("responder_link_ttl", p.ResponderLinkTTL)
	if !(p.ArrivalRadiusM > 0 && p.ArrivalRadiusM <= 5000) {
		pr.add("arrival_radius_m", "must be above 0 and at most 5000 metres")
	}
	if p.CandidateLimit < 1 || p.CandidateLimit > 100 {
		pr.add("candidate_limit", "must be between 1 and 100")
	}
	for code, d := range p.Districts {
		if !isDigits(code, 6, 6) {
			pr.add("districts", "%q is not a 6-digit district code", code)
		}
		if d.AckTimeout < 0 || d.ArriveTimeout < 0 {
			pr.add("districts", "district %s: durations must be positive", code)
		}
	}
	return pr.err("policy")
}

// ReadPolicy reads a policy file (JSON) over the defaults and validates it.
func ReadPolicy(b []byte) (Policy, error) {
	var p Policy
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields() // a misspelt ack_timout must not fall back to the default quietly
	err := dec.Decode(&p)
	if err == nil && dec.More() {
		err = errors.New("data after the policy object")
	}
	if err != nil {
		return p, &Error{Code: EINVALID, Message: "policy: " + err.Error(), Err: err}
	}
	return p, p.Validate()
}

// ackTimeout returns the time a tier has to accept in a district.
func (p *Policy) ackTimeout(tier int, district string) time.Duration {
	switch tier {
	case 2:
		return time.Duration(p.Tier2AckTimeout)
	case 3:
		return time.Duration(p.Tier3AckTimeout)
	}
	if d := p.Districts[district].AckTimeout; d > 0 {
		return time.Duration(d)
	}
	return time.Duration(p.AckTimeout)
}

// arriveTimeout returns the arrival limit in a district.
func (p *Policy) arriveTimeout(district string, rural bool) time.Duration {
	if d := p.Districts[district].ArriveTimeout; d > 0 {
		return time.Duration(d)
	}
	if rural {
		return time.Duration(p.RuralArriveTimeout)
	}
	return time.Duration(p.ArriveTimeout)
}

// ArriveLimit returns the arrival limit in a district, for planning: what a unit must beat.
func (p *Policy) ArriveLimit(district string, rural bool) time.Duration {
	return p.arriveTimeout(district, rural)
}

package liftrescue_test

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	lr "github.com/liftrescue/liftrescue"
)

func TestPolicyValidateDefaults(t *testing.T) {
	var got lr.Policy
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	want := lr.Policy{
		AckTimeout:         lr.Duration(5 * time.Minute),
		ArriveTimeout:      lr.Duration(30 * time.Minute),
		RuralArriveTimeout: lr.Duration(60 * time.Minute),
		Tier2AckTimeout:    lr.Duration(3 * time.Minute),
		Tier3AckTimeout:    lr.Duration(5 * time.Minute),
		ArrivalRadiusM:     100,
		ResponderLinkTTL:   lr.Duration(24 * time.Hour),
		CandidateLimit:     10,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Validate() on zero = %+v, want %+v", got, want)
	}
	if got := lr.DefaultPolicy(); !reflect.DeepEqual(got, want) {
		t.Errorf("DefaultPolicy() = %+v, want %+v", got, want)
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name       string
		p          lr.Policy
		wantFields []string // nil: valid
	}{
		{name: "values kept", p: lr.Policy{AckTimeout: lr.Duration(time.Second), ArriveTimeout: lr.Duration(time.Minute),
			ArrivalRadiusM: 5000, CandidateLimit: 100, Districts: map[string]lr.DistrictPolicy{"370481": {ArriveTimeout: lr.Duration(time.Hour)}}}},
		{name: "district with zero durations", p: lr.Policy{Districts: map[string]lr.DistrictPolicy{"370402": {}}}},
		{name: "negative ack", p: lr.Policy{AckTimeout: -1}, wantFields: []string{"ack_timeout"}},
		{name: "negative arrive", p: lr.Policy{ArriveTimeout: lr.Duration(-time.Minute)}, wantFields: []string{"arrive_timeout"}},
		{name: "negative rural", p: lr.Policy{RuralArriveTimeout: -1}, wantFields: []string{"rural_arrive_timeout"}},
		{name: "negative tier 2", p: lr.Policy{Tier2AckTimeout: -1}, wantFields: []string{"tier2_ack_timeout"}},
		{name: "negative tier 3", p: lr.Policy{Tier3AckTimeout: -1}, wantFields: []string{"tier3_ack_timeout"}},
		{name: "negative link ttl", p: lr.Policy{ResponderLinkTTL: -1}, wantFields: []string{"responder_link_ttl"}},
		{name: "negative radius", p: lr.Policy{ArrivalRadiusM: -5}, wantFields: []string{"arrival_radius_m"}},
		{name: "radius too large", p: lr.Policy{ArrivalRadiusM: 5000.5}, wantFields: []string{"arrival_radius_m"}},
		{name: "negative candidate limit", p: lr.Policy{CandidateLimit: -1}, wantFields: []string{"candidate_limit"}},
		{name: "candidate limit too large", p: lr.Policy{CandidateLimit: 101}, wantFields: []string{"candidate_limit"}},
		{name: "short district code", p: lr.Policy{Districts: map[string]lr.DistrictPolicy{"3704": {}}}, wantFields: []string{"districts"}},
		{name: "district code with letters", p: lr.Policy{Districts: map[string]lr.DistrictPolicy{"37040a": {}}}, wantFields: []string{"districts"}},
		{name: "negative district ack", p: lr.Policy{Districts: map[string]lr.DistrictPolicy{"370402": {AckTimeout: -1}}}, wantFields: []string{"districts"}},
		{name: "negative district arrive", p: lr.Policy{Districts: map[string]lr.DistrictPolicy{"370402": {ArriveTimeout: -1}}}, wantFields: []string{"districts"}},
		{name: "every problem at once", p: lr.Policy{AckTimeout: -1, Tier2AckTimeout: -1, CandidateLimit: 1000},
			wantFields: []string{"ack_timeout", "tier2_ack_timeout", "candidate_limit"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := tt.p
			err := p.Validate()
			if tt.wantFields == nil {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				if again := p; again.Validate() != nil || !reflect.DeepEqual(again, p) {
					t.Errorf("Validate() is not idempotent: %+v -> %+v", p, again)
				}
				return
			}
			if got := lr.ErrorCode(err); got != lr.EINVALID {
				t.Fatalf("Validate() = %v, want code %s", err, lr.EINVALID)
			}
			var got []string
			for _, d := range lr.ErrorDetails(err) {
				got = append(got, d.Field)
			}
			if !slices.Equal(got, tt.wantFields) {
				t.Errorf("problem fields = %q, want %q", got, tt.wantFields)
			}
		})
	}
}

func TestReadPolicy(t *testing.T) {
	withDefaults := func(f func(*lr.Policy)) lr.Policy {
		p := lr.DefaultPolicy()
		f(&p)
		return p
	}
	tests := []struct {
		name     string
		in       string
		want     lr.Policy
		wantCode string
	}{
		{name: "empty object", in: `{}`, want: lr.DefaultPolicy()},
		{name: "null", in: `null`, want: lr.DefaultPolicy()},
		{name: "durations as text", in: `{"ack_timeout":"90s","arrive_timeout":"45m","tier2_ack_timeout":"1m30s","responder_link_ttl":"12h",
			"manual_dispatch":true,"no_prediction":true,"arrival_radius_m":150.5,"candidate_limit":5,
			"districts":{"370481":{"arrive_timeout":"1h"}}}`,
			want: withDefaults(func(p *lr.Policy) {
				p.AckTimeout = lr.Duration(90 * time.Second)
				p.ArriveTimeout = lr.Duration(45 * time.Minute)
				p.Tier2AckTimeout = lr.Duration(90 * time.Second)
				p.ResponderLinkTTL = lr.Duration(12 * time.Hour)
				p.ManualDispatch, p.NoPrediction = true, true
				p.ArrivalRadiusM, p.CandidateLimit = 150.5, 5
				p.Districts = map[string]lr.DistrictPolicy{"370481": {ArriveTimeout: lr.Duration(time.Hour)}}
			})},
		{name: "zero duration takes the default", in: `{"ack_timeout":"0s"}`, want: lr.DefaultPolicy()},
		{name: "duration as a number", in: `{"ack_timeout":300}`, wantCode: lr.EINVALID},
		{name: "duration in words", in: `{"ack_timeout":"5 minutes"}`, wantCode: lr.EINVALID},
		{name: "empty duration", in: `{"ack_timeout":""}`, wantCode: lr.EINVALID},
		{name: "negative duration", in: `{"arrive_timeout":"-30m"}`, wantCode: lr.EINVALID},
		{name: "overflowing duration", in: `{"arrive_timeout":"9999999999h"}`, wantCode: lr.EINVALID},
		{name: "bad district code", in: `{"districts":{"Shizhong":{}}}`, wantCode: lr.EINVALID},
		{name: "negative district duration", in: `{"districts":{"370402":{"ack_timeout":"-1m"}}}`, wantCode: lr.EINVALID},
		{name: "limit as text", in: `{"candidate_limit":"10"}`, wantCode: lr.EINVALID},
		{name: "radius out of range", in: `{"arrival_radius_m":1e9}`, wantCode: lr.EINVALID},
		{name: "truncated", in: `{"ack_timeout":"5m"`, wantCode: lr.EINVALID},
		{name: "an array", in: `[]`, wantCode: lr.EINVALID},
		{name: "trailing data", in: `{} {}`, wantCode: lr.EINVALID},
		{name: "empty", in: ``, wantCode: lr.EINVALID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := lr.ReadPolicy([]byte(tt.in))
			if code := lr.ErrorCode(err); code != tt.wantCode {
				t.Fatalf("ReadPolicy(%s) error = %v, want code %q", tt.in, err, tt.wantCode)
			}
			if tt.wantCode != "" {
				if msg := lr.ErrorMessage(err); msg == "" || msg == "internal error" {
					t.Errorf("message = %q", msg)
				}
				return
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ReadPolicy(%s) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestPolicyJSONRoundTrip(t *testing.T) {
	p := lr.DefaultPolicy()
	p.Districts = map[string]lr.DistrictPolicy{"370481": {AckTimeout: lr.Duration(2 * time.Minute)}}
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	if got, want := fields["ack_timeout"], "5m0s"; got != want {
		t.Errorf("ack_timeout written as %v, want %q", got, want)
	}
	got, err := lr.ReadPolicy(b)
	if err != nil {
		t.Fatalf("ReadPolicy(%s): %v", b, err)
	}
	if !reflect.DeepEqual(got, p) {
		t.Errorf("round trip = %+v, want %+v", got, p)
	}
}

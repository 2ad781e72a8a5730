package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

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
		{"unknown protocol", nil, []string{"--protocol", "mqtt"}, "unknown protocol"},
		{"unknown protocol from the environment", map[string]string{"LIFTRESCUE_PROTOCOL": "mqtt"}, nil, "unknown protocol"},
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
		!strings.Contains(stderr.String(), "LIFTRESCUE_INGEST_KEY") {
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

package loadgen

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue/gps"
)

// sinks are servers that accept everything at the least cost: what a run achieves against them
// is what the generator can produce (with the sink on the same cores).
type sinks struct {
	api, osmand *httptest.Server
	jt808       net.Listener
	wg          sync.WaitGroup
}

func newSinks(tb testing.TB) *sinks {
	s := &sinks{}
	s.api = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"accepted":10000,"rejected":[]}`)
	}))
	s.osmand = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	s.jt808 = ln
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.wg.Go(func() { jt808Sink(c) })
		}
	}()
	tb.Cleanup(func() {
		s.api.Close()
		s.osmand.Close()
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// jt808Sink answers register, auth and every location report with success.
func jt808Sink(c net.Conn) {
	defer c.Close()
	br, bw := bufio.NewReader(c), bufio.NewWriter(c)
	fr := gps.NewFrameReader(br, 0)
	var out []byte
	for {
		frame, err := fr.Next()
		if err != nil {
			if _, ok := err.(*gps.FrameError); ok {
				continue
			}
			return
		}
		p, err := gps.ParsePacket(frame)
		if err != nil {
			continue
		}
		if p.MsgID == gps.MsgRegister {
			out = gps.AppendRegisterResponse(out[:0], &p.Header, 1, gps.RegisterOK, "sink-secret")
		} else {
			out = gps.AppendGeneralResponse(out[:0], &p.Header, 1, gps.ResultOK)
		}
		bw.Write(out)
		if br.Buffered() == 0 && bw.Flush() != nil {
			return
		}
	}
}

// TestSinkThroughput measures the fixes per second the generator produces against the sinks at
// full speed, and the CPU it spends per fix. The sinks run in a child process, so that the CPU
// counted is the generator's alone. It takes a while, so it runs only when
// LIFTRESCUE_LOADGEN_SINK is set to the duration of each run:
//
//	LIFTRESCUE_LOADGEN_SINK=3s go test -run SinkThroughput -v ./loadgen
func TestSinkThroughput(t *testing.T) {
	if os.Getenv("LIFTRESCUE_LOADGEN_SINK_CHILD") != "" {
		serveSinks(t)
		return
	}
	d, err := time.ParseDuration(os.Getenv("LIFTRESCUE_LOADGEN_SINK"))
	if err != nil {
		t.Skip("set LIFTRESCUE_LOADGEN_SINK to a duration to measure the generator against sinks")
	}
	child := exec.Command(os.Args[0], "-test.run=^TestSinkThroughput$")
	child.Env = append(os.Environ(), "LIFTRESCUE_LOADGEN_SINK_CHILD=1")
	stdin, _ := child.StdinPipe()
	stdout, _ := child.StdoutPipe()
	child.Stderr = os.Stderr
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	defer child.Wait()
	defer stdin.Close()
	var api, osmand, jt808 string
	if _, err := fmt.Fscan(stdout, &api, &osmand, &jt808); err != nil {
		t.Fatalf("the sinks did not start: %v", err)
	}
	go io.Copy(io.Discard, stdout)
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"json batch 1000", Config{Protocol: JSON, Devices: 1000, Batch: 1000}},
		{"osmand GET", Config{Protocol: OsmAnd, Devices: 1000}},
		{"osmand POST", Config{Protocol: OsmAnd, Devices: 1000, Method: "POST"}},
		{"jt808 1000 conns window 4", Config{Protocol: JT808, Devices: 1000, Window: 4}},
		{"jt808 1000 conns window 16", Config{Protocol: JT808, Devices: 1000, Window: 16}},
	} {
		t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
			cfg := tc.cfg
			cfg.URL, cfg.OsmAndAddr, cfg.JT808Addr = api, osmand, jt808
			cfg.Duration, cfg.Center = d, &[2]float64{117.55, 34.85}
			before := cpuTime()
			rep, err := Run(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			cpu := cpuTime() - before
			t.Logf("%-27s %8.0f fixes/s %7.0f req/s  p50 %6.2f ms  p99 %6.2f ms  errors %d  generator CPU %.2f cores, %.2f µs/fix, %.2f µs/request",
				tc.name, rep.FixesPerSec, rep.RequestsPerSec, rep.Latency.P50, rep.Latency.P99, rep.Errors,
				cpu.Seconds()/rep.Elapsed, float64(cpu.Microseconds())/float64(rep.FixesSent),
				float64(cpu.Microseconds())/float64(rep.Requests))
		})
	}
}

// serveSinks runs the sinks until stdin closes, after printing their addresses.
func serveSinks(t *testing.T) {
	s := newSinks(t)
	fmt.Println(s.api.URL, strings.TrimPrefix(s.osmand.URL, "http://"), s.jt808.Addr().String())
	io.Copy(io.Discard, os.Stdin)
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/liftrescue/liftrescue/loadgen"
)

// BenchmarkOperatorUI measures what a dispatcher feels of the console, in the browser, against
// the demo city (10,000 elevators):
//
//   - first-load: from the navigation of a signed-in dispatcher (the cookie set) to a console
//     ready to work: the districts drawn and every vehicle in the page's fleet.
//   - idle-100: the frame intervals of the page with the demo's 100 vans driving about.
//   - moving-1000: the same with 900 more vehicles provisioned and reporting a fix a second each
//     over HTTP (package loadgen), about 1,000 moving vehicles on the map.
//
// Frames are timed in the page with requestAnimationFrame for frameWindow: the intervals'
// median, p95, p99 and max, and the share over 50 ms (a frame a person sees as a stutter).
//
//	go test -run '^$' -bench OperatorUI -benchtime 1x ./e2e
//
// Each part measures once whatever b.N is (the load is repeated loadRepeats times, with the
// browser's cache warm from the sign-in): the figures are of a whole page, not of a loop. The
// server, the load generator and the browser share the machine, as on a developer's laptop.
func BenchmarkOperatorUI(b *testing.B) {
	// The key provisions 900 vehicles in a few seconds, far above the default 200 requests/s.
	srv := startDemo(b, "--key-rate", "100000")
	b.Logf("load average before: %s (other processes on the machine share its CPUs with the page)", loadAverage())
	b.Cleanup(func() { b.Logf("load average after: %s", loadAverage()) })
	ctx := newBrowserTimeout(b, 1400, 900, 2*time.Minute)
	vehicles, outlines := cityFigures(b, srv)
	if err := openConsole(ctx, srv); err != nil {
		b.Fatal(err)
	}
	if err := signIn(ctx, "dispatcher", demoPasswords["dispatcher"]); err != nil {
		b.Fatal(err)
	}

	b.Run("first-load", func(b *testing.B) {
		reportLoad(b)
		var ms []float64
		for range loadRepeats {
			t, err := loadConsole(ctx, srv, vehicles, outlines)
			if err != nil {
				b.Fatal(err)
			}
			ms = append(ms, t)
		}
		shot(b, ctx, "first-load")
		slices.Sort(ms)
		b.ReportMetric(0, "ns/op")
		b.ReportMetric(ms[0], "min-ms")
		b.ReportMetric(percentile(ms, 50), "median-ms")
		b.ReportMetric(ms[len(ms)-1], "max-ms")
		b.ReportMetric(float64(vehicles), "vehicles")
	})

	b.Run("idle-100", func(b *testing.B) {
		reportLoad(b)
		f, err := measureFrames(ctx)
		if err != nil {
			b.Fatal(err)
		}
		f.report(b)
	})

	b.Run("moving-1000", func(b *testing.B) {
		reportLoad(b)
		const extra = 900
		run, stop := context.WithCancel(context.Background())
		defer stop()
		done := make(chan struct{})
		var rep *loadgen.Report
		var runErr error
		go func() {
			defer close(done)
			rep, runErr = loadgen.Run(run, loadgen.Config{
				Protocol: loadgen.JSON, URL: srv.URL, APIKey: srv.APIKey, Provision: true,
				Devices: extra, Rate: extra, // a fix a second each
				Duration: 40 * time.Second, // a bound: stopped once the frames are measured
				Seed:     1,
			})
		}()
		before, err := chromedp.Run(ctx, chromedp.Evaluate[int](countMarkers))
		if err != nil {
			b.Fatal(err)
		}
		want := before + extra
		// The new vehicles come into the page over the stream, and onto the map with their
		// first fixes.
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](fmt.Sprintf(`%s >= %d`, countMarkers, want),
			chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(45*time.Second))); err != nil {
			n, _ := chromedp.Run(ctx, chromedp.Evaluate[int](countMarkers))
			stop()
			<-done
			b.Fatalf("the map did not reach %d vehicles (it shows %d): %v (loadgen: %v)", want, n, err, runErr)
		}
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](markPositions)); err != nil {
			b.Fatal(err)
		}
		f, err := measureFrames(ctx)
		if err != nil {
			b.Fatal(err)
		}
		moved, err := chromedp.Run(ctx, chromedp.Evaluate[int](countMoved))
		if err != nil {
			b.Fatal(err)
		}
		size, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.liftrescue.fleet.size`))
		if err != nil {
			b.Fatal(err)
		}
		shot(b, ctx, "moving-1000")
		stop()
		<-done
		if rep == nil {
			b.Fatalf("loadgen: %v", runErr)
		}
		if moved < extra { // every loadgen vehicle moves: else the figures are of a map that does not
			b.Errorf("only %d of the %d vehicles moved on the map in %v", moved, size, frameWindow)
		}
		f.report(b)
		b.ReportMetric(float64(size), "vehicles")
		b.ReportMetric(float64(moved), "moved")
		b.ReportMetric(rep.AcceptedPerSec, "fixes/s")
	})
}

// loadRepeats is how many times first-load loads the console.
const loadRepeats = 5

// frameWindow is how long frames are timed.
const frameWindow = 10 * time.Second

// cityFigures reads how many vehicles the console must show and how many districts have an
// outline to draw.
func cityFigures(tb testing.TB, srv *Server) (vehicles, outlines int) {
	var vs struct {
		Total int `json:"total"`
	}
	srv.MustDo(tb, http.MethodGet, "/api/v1/vehicles", nil, &vs)
	var ds struct {
		Items []struct {
			Outline json.RawMessage `json:"outline"`
		} `json:"items"`
	}
	srv.MustDo(tb, http.MethodGet, "/api/v1/districts", nil, &ds)
	for _, d := range ds.Items {
		if len(d.Outline) > 0 && string(d.Outline) != "null" {
			outlines++
		}
	}
	if vs.Total == 0 || outlines == 0 {
		tb.Fatalf("the demo city has %d vehicles and %d district outlines", vs.Total, outlines)
	}
	return vs.Total, outlines
}

// loadConsole navigates to the console and returns the milliseconds from the navigation's start
// (the page's time origin) to the console being ready: signed in, every district outline drawn
// (each has its name label) and every vehicle in the fleet.
func loadConsole(ctx context.Context, srv *Server, vehicles, outlines int) (float64, error) {
	ready := fmt.Sprintf(`(() => {
		const lr = window.liftrescue;
		if (!lr?.session || !lr.map || lr.fleet.size !== %d) return 0;
		if (document.querySelectorAll(".leaflet-tooltip.district-label").length < %d) return 0;
		return performance.now();
	})()`, vehicles, outlines)
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		return 0, err
	}
	ms, err := chromedp.Run(ctx, chromedp.Poll[float64](ready, chromedp.WithPollingInterval(5*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		return 0, fmt.Errorf("the console was not ready (%d vehicles, %d districts) within 30 s: %w", vehicles, outlines, err)
	}
	return ms, nil
}

// countMarkers counts the vehicles on the map: those of the fleet with a position.
const countMarkers = `[...window.liftrescue.fleet.values()].filter((x) => x.marker).length`

// markPositions remembers where each vehicle's marker is, for countMoved.
const markPositions = `window.e2eMarked = new Map([...window.liftrescue.fleet].filter(([, x]) => x.marker).map(([id, x]) => [id, x.marker.getLatLng()]))`

// countMoved counts the vehicles whose marker moved since markPositions.
const countMoved = `[...window.liftrescue.fleet].filter(([id, x]) => {
	const was = window.e2eMarked.get(id);
	return was && x.marker && !x.marker.getLatLng().equals(was);
}).length`

// frames are the figures of a frame measurement.
type frames struct {
	n                           int     // frames
	median, p95, p99, max, slow float64 // ms, ms, ms, ms, % over 50 ms
	busy                        float64 // % of the window in long tasks (over 50 ms) of the main thread
}

// measureFrames times the page's frames with requestAnimationFrame for frameWindow; a
// PerformanceObserver adds up the main thread's long tasks meanwhile.
func measureFrames(ctx context.Context) (frames, error) {
	js := fmt.Sprintf(`new Promise((resolve) => {
		const times = [];
		let long = 0;
		const obs = new PerformanceObserver((list) => { for (const e of list.getEntries()) long += e.duration; });
		obs.observe({ type: "longtask" });
		const start = performance.now();
		const step = (now) => {
			times.push(now);
			if (now - start < %d) { requestAnimationFrame(step); return; }
			obs.disconnect();
			resolve({ times, long });
		};
		requestAnimationFrame(step);
	})`, frameWindow.Milliseconds())
	res, err := chromedp.Run(ctx, chromedp.Evaluate[struct {
		Times []float64 `json:"times"`
		Long  float64   `json:"long"`
	}](js, chromedp.EvalAwaitPromise))
	if err != nil {
		return frames{}, err
	}
	if len(res.Times) < 2 {
		return frames{}, fmt.Errorf("%d frames in %v", len(res.Times), frameWindow)
	}
	var iv []float64
	slow := 0
	for i := 1; i < len(res.Times); i++ {
		d := res.Times[i] - res.Times[i-1]
		iv = append(iv, d)
		if d > 50 {
			slow++
		}
	}
	span := res.Times[len(res.Times)-1] - res.Times[0]
	slices.Sort(iv)
	return frames{n: len(iv), median: percentile(iv, 50), p95: percentile(iv, 95), p99: percentile(iv, 99),
		max: iv[len(iv)-1], slow: 100 * float64(slow) / float64(len(iv)), busy: 100 * res.Long / span}, nil
}

func (f frames) report(b *testing.B) {
	b.ReportMetric(0, "ns/op")
	b.ReportMetric(float64(f.n), "frames")
	b.ReportMetric(float64(f.n)/frameWindow.Seconds(), "fps")
	b.ReportMetric(f.median, "median-ms")
	b.ReportMetric(f.p95, "p95-ms")
	b.ReportMetric(f.p99, "p99-ms")
	b.ReportMetric(f.max, "max-ms")
	b.ReportMetric(f.slow, "over50ms-%")
	b.ReportMetric(f.busy, "longtask-%")
}

// percentile returns the p-th percentile of sorted values, by nearest rank.
func percentile(sorted []float64, p float64) float64 {
	i := int(math.Ceil(p/100*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// loadAverage is the machine's load average over 1, 5 and 15 minutes (Linux), for the log: the
// frame figures mean little when other work took the CPUs.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	return strings.Join(f[:min(3, len(f))], " ")
}

// reportLoad reports the 1-minute load average as the metric load1, beside the figures it
// clouds: above the CPU count, other processes waited for the CPUs (and so did the page).
func reportLoad(b *testing.B) {
	if f := strings.Fields(loadAverage()); len(f) > 0 {
		if v, err := strconv.ParseFloat(f[0], 64); err == nil {
			b.ReportMetric(v, "load1")
		}
	}
}

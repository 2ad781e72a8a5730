package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/liftrescue/liftrescue"
)

// startCommand runs a serving command line and returns the lines it printed up to and including
// the first that contains marker, and a function that stops the command and waits for it. The
// command is stopped at the end of the test in any case.
func startCommand(t *testing.T, marker string, args ...string) (lines []string, stop func()) {
	t.Helper()
	// Tracker ports too are picked free, so that tests never meet a running demo.
	t.Setenv("LIFTRESCUE_OSMAND_ADDR", "127.0.0.1:0")
	t.Setenv("LIFTRESCUE_JT808_ADDR", "127.0.0.1:0")
	var key string
	if args[0] == "serve" {
		key = provisionKey(t, args[1:])
	}
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, args, pw, io.Discard)
		pw.CloseWithError(io.EOF)
		done <- err
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("%v: %v", args, err)
				}
			case <-time.After(15 * time.Second):
				t.Errorf("%v did not stop within 15 s of its context ending", args)
			}
		})
	}
	t.Cleanup(stop)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if strings.Contains(sc.Text(), marker) {
			go io.Copy(io.Discard, pr) // the command goes on printing; never block it
			if demoKey := fieldAfter(lines, "API key"); args[0] == "demo" && demoKey != "" {
				key, _, _ = strings.Cut(demoKey, " ")
			}
			if base := fieldAfter(lines, "http://"); key != "" && base != "" {
				trust(t, "http://"+strings.Fields(base)[0], key)
			}
			return lines, stop
		}
	}
	t.Fatalf("%v ended before printing %q: %v\n%s", args, marker, <-done, strings.Join(lines, "\n"))
	return nil, nil
}

func fieldAfter(lines []string, prefix string) string {
	for _, l := range lines {
		if _, rest, ok := strings.Cut(l, prefix); ok {
			return strings.TrimSpace(rest)
		}
	}
	return ""
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return doJSON(t, req, v)
}

// doJSON sends req and decodes the answer into v (when not nil); it returns the status.
func doJSON(t *testing.T, req *http.Request, v any) int {
	t.Helper()
	url := req.URL.String()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if v != nil {
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return res.StatusCode
}

// The newcomer's path: `liftrescue demo` seeds a city, prints a curl line, and that line works.
func TestDemo(t *testing.T) {
	data := t.TempDir()
	lines, _ := startCommand(t, "try", "demo", "--addr", "127.0.0.1:0", "--data", data, "--elevators", "2000", "--log-level", "error")
	curl := fieldAfter(lines, "try")
	// curl -H 'Authorization: Bearer KEY' URL
	_, header, _ := strings.Cut(curl, "-H '")
	header, url, _ := strings.Cut(header, "' ")
	if !strings.HasPrefix(header, "Authorization: Bearer lrk_") {
		t.Fatalf("the curl line sends no API key: %s", curl)
	}
	var e struct {
		RescueCode      string `json:"rescue_code"`
		Address         string `json:"address"`
		MaintenanceUnit struct {
			Name string `json:"name"`
		} `json:"maintenance_unit"`
	}
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", strings.TrimPrefix(header, "Authorization: "))
	if status := doJSON(t, req, &e); status != 200 || e.Address == "" || e.MaintenanceUnit.Name == "" {
		t.Fatalf("%s = %d %+v", curl, status, e)
	}
	// Without the key the lookup is refused; the public one shows no phone numbers.
	anon, _ := http.NewRequest("GET", url, nil)
	anon.Header.Set("Authorization", "Bearer not-a-key")
	if status := doJSON(t, anon, nil); status != 401 {
		t.Errorf("lookup without a key = %d, want 401", status)
	}
	// A newcomer signs in with a printed account.
	signIn := fieldAfter(lines, "sign in")
	fields := strings.Fields(signIn) // admin / admin-demo-2026 admin, city
	if len(fields) < 3 {
		t.Fatalf("the demo printed no account: %q", signIn)
	}
	body := strings.NewReader(`{"username":"` + fields[0] + `","password":"` + fields[2] + `"}`)
	res, err := http.Post(strings.Split(url, "/api/")[0]+"/api/v1/session", "application/json", body)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 200 || len(res.Cookies()) == 0 {
		t.Errorf("signing in as the printed %s = %d", fields[0], res.StatusCode)
	}
	base := fieldAfter(lines, "open")
	var page liftrescue.Page[json.RawMessage]
	if getJSON(t, base+"api/v1/elevators?limit=1", &page); page.Total != 2000 {
		t.Fatalf("demo holds %d elevators, want 2000", page.Total)
	}
	// Ready once dispatch and the terminals are loaded, a moment after the demo is announced.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		status := getJSON(t, base+"readyz", nil)
		if status == 200 {
			break
		}
		if status != 503 || time.Now().After(deadline) {
			t.Fatalf("readyz = %d", status)
		}
	}
	res, err = http.Get(base)
	if err != nil {
		t.Fatal(err)
	}
	page2, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Contains(page2, []byte(`lang="zh-CN"`)) {
		t.Fatalf("GET / = %d, want the UI", res.StatusCode)
	}
}

// A second start reuses the seeded demo database instead of seeding it again.
func TestDemoReusesItsDatabase(t *testing.T) {
	data := t.TempDir()
	args := []string{"demo", "--addr", "127.0.0.1:0", "--data", data, "--elevators", "300", "--log-level", "error"}
	first, stop := startCommand(t, "try", args...)
	stop()
	if !strings.Contains(strings.Join(first, "\n"), "seeding") {
		t.Fatalf("first start did not seed:\n%s", strings.Join(first, "\n"))
	}
	second, _ := startCommand(t, "try", args...)
	if out := strings.Join(second, "\n"); strings.Contains(out, "seeding") || !strings.Contains(out, "already") {
		t.Fatalf("second start seeded again:\n%s", out)
	}
}

func TestServeAddressFromEnvironment(t *testing.T) {
	t.Setenv("LIFTRESCUE_ADDR", "127.0.0.1:0")
	t.Setenv("LIFTRESCUE_DATA", t.TempDir())
	lines, _ := startCommand(t, "serving on", "serve", "--log-level", "error")
	base := fieldAfter(lines, "serving on")
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("serving on %q", base)
	}
	if status := getJSON(t, base+"/api/v1/elevators/123456", nil); status != 404 {
		t.Fatalf("lookup on an empty registry = %d, want 404", status)
	}
}

func TestBadConfiguration(t *testing.T) {
	ctx := context.Background()
	for _, tt := range []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"unknown command", nil, []string{"fly"}, "unknown command"},
		{"bad time zone", nil, []string{"serve", "--tz", "Mars/Olympus"}, "time zone"},
		{"bad address", nil, []string{"serve", "--addr", "8080"}, "host:port"},
		{"tiles without their place", nil, []string{"serve", "--tiles", "https://tiles.example.cn/map.png"}, "{z}"},
		{"tiles of another scheme", nil, []string{"serve", "--tiles", "ftp://tiles.example.cn/{z}/{x}/{y}.png"}, "http(s)"},
		{"not a postgres URL", nil, []string{"migrate", "--db", "mysql://x"}, "postgres://"},
		{"bad environment integer", map[string]string{"LIFTRESCUE_ELEVATORS": "many"}, []string{"demo"}, "LIFTRESCUE_ELEVATORS"},
		{"too many elevators", nil, []string{"demo", "--elevators", "2000000"}, "--elevators"},
		{"import without a file", nil, []string{"import", "elevators"}, "FILE"},
		{"import of an unknown kind", nil, []string{"import", "lifts", "x.csv"}, "districts|organizations|elevators"},
		{"import of a missing file", nil, []string{"import", "elevators", "/nonexistent.csv"}, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			t.Setenv("LIFTRESCUE_DATA", t.TempDir())
			err := run(ctx, tt.args, io.Discard, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("run(%v) = %v, want an error mentioning %q", tt.args, err, tt.want)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	for _, cmd := range []string{"serve", "demo", "migrate", "import"} {
		var stderr bytes.Buffer
		err := run(context.Background(), []string{cmd, "--help"}, io.Discard, &stderr)
		if err == nil || !strings.Contains(stderr.String(), "LIFTRESCUE_") {
			t.Errorf("%s --help: %v\n%s", cmd, err, stderr.String())
		}
	}
}

// A new installation fills its registry with the import command alone: district outlines from
// GeoJSON, then organisations, then elevators; bad rows are reported by line.
func TestImportCommand(t *testing.T) {
	data := t.TempDir()
	ctx := context.Background()
	districts := filepath.Join(data, "districts.geojson")
	writeFile(t, districts, `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"adcode":370402,"name":"市中区"},
		"geometry":{"type":"Polygon","coordinates":[[[117.5,34.8],[117.6,34.8],[117.6,34.9],[117.5,34.8]]]}}]}`)
	var out bytes.Buffer
	if err := run(ctx, []string{"import", "districts", districts, "--data", data}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}

	orgs := filepath.Join(data, "orgs.csv")
	writeFile(t, orgs, "code,kind,name,district\nU1,user_unit,阳光物业,370402\nM1,maintenance,枣庄电梯,370402\n")
	if err := run(ctx, []string{"import", "organizations", orgs, "--data", data}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	elevators := filepath.Join(data, "elevators.csv")
	writeFile(t, elevators, "rescue_code,equipment_code,address,district,lat,lon,kind,user_unit_code,maintenance_unit_code\n"+
		"100001,31103704022015000001,光明路1号,370402,34.86,117.55,traction,U1,M1\n"+
		"100002,31103704022015000002,光明路2号,370402,34.86,117.55,traction,U9,M1\n")
	var stderr bytes.Buffer
	err := run(ctx, []string{"import", "--data", data, "elevators", elevators}, &out, &stderr)
	if err == nil || !strings.Contains(stderr.String(), "elevators.csv:3: user_unit_code") {
		t.Fatalf("import with a bad row: %v\n%s", err, stderr.String())
	}
	out.Reset()
	if err := run(ctx, []string{"import", "elevators", elevators, "--partial", "--data", data}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	var res liftrescue.ImportResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil || res.Created != 1 || res.Rejected != 1 {
		t.Fatalf("partial import printed %s", out.String())
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

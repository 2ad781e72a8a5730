package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	h := Handler()
	for _, tt := range []struct {
		path                        string
		status                      int
		contentType, bodyContaining string
	}{
		{"/", 200, "text/html", `id="code"`},
		{"/?code=414743", 200, "text/html", `id="map"`},
		{"/incidents/42", 200, "text/html", `lang="zh-CN"`}, // the page owns its other paths
		{"/app.js", 200, "text/javascript", "EventSource"},
		{"/main.js", 200, "text/javascript", "start()"},
		{"/vendor/leaflet/leaflet.js", 200, "text/javascript", "Leaflet 1.9.4"},
		{"/vendor/leaflet/leaflet.css", 200, "text/css", ".leaflet-container"},
		{"/vendor/leaflet/images/marker-icon.png", 200, "image/png", ""},
		{"/vendor/leaflet-geoman/leaflet-geoman.min.js", 200, "text/javascript", `version:"2.20.2"`},
		{"/vendor/leaflet-geoman/leaflet-geoman.css", 200, "text/css", ".leaflet-pm-toolbar"},
		{"/vendor/leaflet/missing.js", 404, "", ""},
	} {
		t.Run(tt.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, tt.path, nil))
			body, _ := io.ReadAll(rec.Body)
			if rec.Code != tt.status {
				t.Fatalf("GET %s = %d, want %d", tt.path, rec.Code, tt.status)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("GET %s: Content-Type %q, want %s", tt.path, ct, tt.contentType)
			}
			if !strings.Contains(string(body), tt.bodyContaining) {
				t.Errorf("GET %s: body lacks %q", tt.path, tt.bodyContaining)
			}
		})
	}
}

// The page must work offline and from any of its paths: every file it loads is embedded and named
// from the root, never from a CDN.
func TestPageIsSelfContained(t *testing.T) {
	index := mustRead(t, "static/index.html")
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(index, -1)
	if len(refs) == 0 {
		t.Fatal("index.html loads nothing")
	}
	for _, m := range refs {
		ref := m[1]
		switch {
		case strings.HasPrefix(ref, "data:"):
		case !strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "//"):
			t.Errorf("index.html loads %q: want a path from the root of this server", ref)
		default:
			if _, err := fs.Stat(files, "static"+ref); err != nil {
				t.Errorf("index.html loads %q, which is not embedded: %v", ref, err)
			}
		}
	}
	// Leaflet's stylesheet names its images relative to itself.
	css := mustRead(t, "static/vendor/leaflet/leaflet.css")
	for _, m := range regexp.MustCompile(`url\((images/[^)]+)\)`).FindAllStringSubmatch(css, -1) {
		if _, err := fs.Stat(files, "static/vendor/leaflet/"+m[1]); err != nil {
			t.Errorf("leaflet.css uses %s, which is not embedded", m[1])
		}
	}
}

// Every vendored library ships with its licence.
func TestVendoredLicences(t *testing.T) {
	libs, err := fs.ReadDir(files, "static/vendor")
	if err != nil || len(libs) == 0 {
		t.Fatalf("no vendored libraries: %v", err)
	}
	for _, lib := range libs {
		if _, err := fs.Stat(files, "static/vendor/"+lib.Name()+"/LICENSE"); err != nil {
			t.Errorf("static/vendor/%s has no LICENSE", lib.Name())
		}
	}
}

// Every string the page shows exists in both languages, and every key the page names exists. The
// core's table is in app.js (const text = {…}); each other module adds its own with addText({…}).
func TestStringsInBothLanguages(t *testing.T) {
	var keys []string
	var uses [][]string
	for _, name := range ownModules(t) {
		src := mustRead(t, "static/"+name)
		uses = append(uses, regexp.MustCompile(`(?:\bt\(|dataset\.i18n = )"(\w+)"`).FindAllStringSubmatch(src, -1)...)
		zh := strings.Index(src, `"zh-CN": {`)
		if zh < 0 {
			continue // a module with no words of its own
		}
		en := strings.Index(src, "\n  en: {")
		end := strings.Index(src[max(en, 0):], "\n}") + max(en, 0)
		if en < zh || end <= en {
			t.Fatalf("%s: cannot find its strings table ({ \"zh-CN\": {…},\n  en: {…}\n})", name)
		}
		zhKeys, enKeys := tableKeys(src[zh+len(`"zh-CN": {`):en]), tableKeys(src[en+len("\n  en: {"):end])
		if !slices.Equal(zhKeys, enKeys) {
			t.Errorf("%s: the languages differ:\nzh-CN %v\nen    %v", name, zhKeys, enKeys)
		}
		keys = append(keys, zhKeys...)
	}
	slices.Sort(keys)
	uses = append(uses, regexp.MustCompile(`data-i18n="(\w+)"`).FindAllStringSubmatch(mustRead(t, "static/index.html"), -1)...)
	if len(uses) < 10 {
		t.Fatalf("found only %d uses of the strings", len(uses))
	}
	for _, m := range uses {
		if _, found := slices.BinarySearch(keys, m[1]); !found {
			t.Errorf("the page uses the string %q, which is in no table", m[1])
		}
	}
}

// ownModules lists the page's own scripts (not the vendored ones).
func ownModules(t *testing.T) []string {
	entries, err := fs.ReadDir(files, "static")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".js") {
			names = append(names, e.Name())
		}
	}
	if !slices.Contains(names, "app.js") || !slices.Contains(names, "main.js") {
		t.Fatalf("static holds %v: where are app.js and main.js?", names)
	}
	return names
}

// tableKeys returns the sorted keys of a JavaScript object literal's text, nested ones included.
func tableKeys(src string) []string {
	literals := regexp.MustCompile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`")
	src = "{" + literals.ReplaceAllString(src, `""`)
	var keys []string
	for _, m := range regexp.MustCompile(`[{,]\s*(\w+)\s*:`).FindAllStringSubmatch(src, -1) {
		keys = append(keys, m[1])
	}
	slices.Sort(keys)
	return keys
}

func mustRead(tb testing.TB, name string) string {
	tb.Helper()
	b, err := fs.ReadFile(files, name)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// Every API call goes through api(), which carries the CSRF token and brings back the sign-in
// panel when the session ends: app.js calls fetch in that one place, the other modules never.
func TestOneFetch(t *testing.T) {
	app := mustRead(t, "static/app.js")
	for _, name := range ownModules(t) {
		want := 0
		if name == "app.js" || name == "responder.js" { // the responder's page has no session: it reads the version alone
			want = 1
		}
		if n := len(regexp.MustCompile(`\bfetch\(`).FindAllString(mustRead(t, "static/"+name), -1)); n != want {
			t.Errorf("%s calls fetch %d times, want %d (every call goes through app.js's api)", name, n, want)
		}
	}
	if !strings.Contains(app, "async function api(") {
		t.Error("app.js has no api() wrapper")
	}
}

// Password managers fill the sign-in form by its autocomplete attributes.
func TestSignInForm(t *testing.T) {
	index := mustRead(t, "static/index.html")
	for _, want := range []string{
		`id="username" name="username" autocomplete="username"`,
		`id="password" name="password" type="password" autocomplete="current-password"`,
	} {
		if !strings.Contains(index, want) {
			t.Errorf("index.html lacks %s", want)
		}
	}
}

// Every alarm kind of the normalised vocabulary (the root package's alarm.go) has a name in the
// core's table, which the desk and the supervision view show the faults by.
func TestAlarmKindsNamed(t *testing.T) {
	src, err := os.ReadFile("../alarm.go")
	if err != nil {
		t.Skipf("the vocabulary is not beside the UI: %v", err)
	}
	kinds := regexp.MustCompile(`(?m)^\s+Alarm\w+\s+AlarmKind = "(\w+)"`).FindAllStringSubmatch(string(src), -1)
	if len(kinds) < 20 {
		t.Fatalf("found only %d alarm kinds in alarm.go", len(kinds))
	}
	app := mustRead(t, "static/app.js")
	for _, table := range regexp.MustCompile(`alarmKind: \{([^}]*)\}`).FindAllStringSubmatch(app, -1) {
		names := tableKeys(table[1])
		for _, k := range kinds {
			if _, found := slices.BinarySearch(names, k[1]); !found {
				t.Errorf("app.js names no alarm kind %q", k[1])
			}
		}
	}
	if n := strings.Count(app, "alarmKind: {"); n != 2 {
		t.Errorf("app.js has %d alarmKind tables, want one per language", n)
	}
}

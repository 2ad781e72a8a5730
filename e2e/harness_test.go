package e2e

// The harness: the real binary on a random port, a fresh Chromium per test, and the few page
// steps every test takes (sign in, wait for text, screenshot). A test starts the server first,
// then the browser, so that at the end the browser goes first and the page never sees the server
// vanish under it.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/liftrescue/liftrescue/loadgen"
)

// demoKey is the demo's admin API key in every test: the demo makes LIFTRESCUE_DEMO_API_KEY its
// admin key, so the tests know it without reading the banner.
const demoKey = "e2e-demo-admin-key-0123456789abcdef"

// demoPasswords are the demo's accounts (cmd/liftrescue/accounts.go), which the demo sets to
// these passwords on every start.
var demoPasswords = map[string]string{
	"admin":      "admin-demo-2026",
	"dispatcher": "dispatch-demo-2026",
	"planner":    "planner-demo-2026",
	"supervisor": "supervisor-demo-2026",
}

// testTimeout bounds each test's browser context: a page that never shows what a test waits for
// fails the test in a minute instead of hanging the suite until go test's own timeout.
const testTimeout = 60 * time.Second

var (
	moduleRoot string // the directory of go.mod, found from the package's directory
	binary     string // the liftrescue binary TestMain built; "" without a browser (the tests skip)
)

// TestMain builds the binary once for every test. It is a plain build, without -race even when
// the tests run with it: the server's races are the business of its own tests, and a race build
// would make the timings of the UI (and the benchmark) those of a much slower server.
func TestMain(m *testing.M) { os.Exit(testMain(m)) }

func testMain(m *testing.M) int {
	root, err := findModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	moduleRoot = root
	if _, err := chromiumPath(); err == nil { // without a browser the tests skip or fail: no build
		dir, err := os.MkdirTemp("", "liftrescue-e2e-")
		if err != nil {
			fmt.Fprintln(os.Stderr, "e2e:", err)
			return 1
		}
		defer os.RemoveAll(dir)
		binary = filepath.Join(dir, "liftrescue")
		cmd := exec.Command("go", "build", "-o", binary, "./cmd/liftrescue")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			fmt.Fprintf(os.Stderr, "e2e: go build ./cmd/liftrescue: %v\n%s", err, out)
			return 1
		}
	}
	return m.Run()
}

// findModuleRoot walks up from the package's directory (go test's working directory) to go.mod.
func findModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
	}
}

// chromiumPath finds the browser: LIFTRESCUE_CHROMIUM when set, else /usr/bin/chromium, else
// chromium on the PATH.
func chromiumPath() (string, error) {
	if p := os.Getenv("LIFTRESCUE_CHROMIUM"); p != "" {
		if _, err := exec.LookPath(p); err != nil {
			return "", fmt.Errorf("LIFTRESCUE_CHROMIUM=%s: %w", p, err)
		}
		return p, nil
	}
	for _, p := range []string{"/usr/bin/chromium", "chromium"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", errors.New("no /usr/bin/chromium and no chromium on the PATH")
}

// needBrowser returns the browser's path, or skips the test without one, or fails it when
// LIFTRESCUE_REQUIRE_BROWSER=1: a suite that skipped silently in CI would prove nothing.
func needBrowser(tb testing.TB) string {
	tb.Helper()
	path, err := chromiumPath()
	if err == nil {
		return path
	}
	how := "install it with `apt-get install -y chromium fonts-wqy-microhei` (the font shows the Chinese text), or set LIFTRESCUE_CHROMIUM to a Chromium or Chrome binary"
	if os.Getenv("LIFTRESCUE_REQUIRE_BROWSER") == "1" {
		tb.Fatalf("LIFTRESCUE_REQUIRE_BROWSER=1 but the browser tests cannot run: %v; %s", err, how)
	}
	tb.Skipf("browser tests skipped: %v; %s (LIFTRESCUE_REQUIRE_BROWSER=1 makes this a failure)", err, how)
	return ""
}

// elevator is what the tests read of an elevator from the API, to compare the page with.
type elevator struct {
	ID         int64  `json:"id"`
	RescueCode string `json:"rescue_code"`
	Address    string `json:"address"`
	Building   string `json:"building"`
}

// Server is a running demo: the real binary with its own database, on a random loopback port.
type Server struct {
	URL    string // http://127.0.0.1:PORT, no trailing slash
	APIKey string // the demo's admin key: it may do anything, and sees the responder links
	client *loadgen.Client
}

// Do calls the JSON API with the admin key: in is sent as JSON (none when nil), a 2xx answer is
// decoded into out (when not nil), any other answer is a *loadgen.APIError.
func (s *Server) Do(ctx context.Context, method, path string, in, out any) error {
	return s.client.Do(ctx, method, path, http.Header{"Authorization": {"Bearer " + s.APIKey}}, in, out)
}

// MustDo is Do that fails the test on an error: for the API calls that set a test up or check
// its outcome.
func (s *Server) MustDo(tb testing.TB, method, path string, in, out any) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Do(ctx, method, path, in, out); err != nil {
		tb.Fatal(err)
	}
}

// startDemo runs `liftrescue demo` as a user would: 10,000 elevators, 100 vans driving about,
// the simulated units answering every notification. Random reports of trapped passengers are
// kept away (--rescue-every 24h), so that only the test's own incidents are there; the tracker
// ports are off, as nothing here needs them. extraArgs come last and may override any of these.
// It returns once /readyz answers; the server is stopped (SIGINT, then kill) when the test ends,
// and its output is in the test's log if the test failed.
func startDemo(tb testing.TB, extraArgs ...string) *Server {
	tb.Helper()
	needBrowser(tb)
	dir := tb.TempDir()
	addr := freeAddr(tb)
	logPath := filepath.Join(dir, "demo.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		tb.Fatal(err)
	}
	args := append([]string{"demo", "--data", filepath.Join(dir, "data"), "--addr", addr,
		"--osmand-addr=", "--jt808-addr=", "--rescue-every", "24h"}, extraArgs...)
	cmd := exec.Command(binary, args...)
	cmd.Dir = dir
	cmd.Env = append(cleanEnv(), "LIFTRESCUE_DEMO_API_KEY="+demoKey)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		tb.Fatalf("start the demo: %v", err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()

	tb.Cleanup(func() {
		select {
		case <-exited:
			tb.Errorf("the demo exited during the test: %v", waitErr)
		default:
			_ = cmd.Process.Signal(os.Interrupt) // Ctrl-C, as the banner says
			select {
			case <-exited:
				if waitErr != nil {
					tb.Errorf("the demo did not exit cleanly on SIGINT: %v", waitErr)
				}
			case <-time.After(10 * time.Second):
				tb.Errorf("the demo did not stop within 10 s of SIGINT: killed")
				_ = cmd.Process.Kill()
				<-exited
			}
		}
		logFile.Close()
		if tb.Failed() {
			tb.Logf("demo %s output:\n%s", strings.Join(args, " "), headTail(logPath, 40, 120, ""))
		}
	})

	s := &Server{URL: "http://" + addr, APIKey: demoKey, client: loadgen.NewClient("http://" + addr)}
	tb.Cleanup(s.client.Close)
	deadline := time.Now().Add(60 * time.Second) // seeding 10,000 elevators takes about a second
	for {
		resp, err := http.Get(s.URL + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		select {
		case <-exited:
			tb.Fatalf("the demo exited before it was ready: %v", waitErr)
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			tb.Fatalf("the demo was not ready within a minute (last: %v)", err)
		}
	}
}

// freeAddr returns a loopback address with a port free now. Another process could take it before
// the demo listens; the demo would then exit and the test say so.
func freeAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// cleanEnv is the environment without LIFTRESCUE_* variables: a developer's LIFTRESCUE_DB or
// LIFTRESCUE_ADDR must not point the demo elsewhere.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "LIFTRESCUE_") {
			env = append(env, kv)
		}
	}
	return env
}

// headTail returns the first and the last lines of a log: the demo's banner and what happened
// last, without the thousands of request lines between. Lines that contain noise (when not
// empty) are left out.
func headTail(path string, head, tail int, noise string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, l := range strings.SplitAfter(string(b), "\n") {
		if noise == "" || !strings.Contains(l, noise) {
			lines = append(lines, l)
		}
	}
	if len(lines) <= head+tail {
		return strings.Join(lines, "")
	}
	return strings.Join(lines[:head], "") + fmt.Sprintf("… %d lines …\n", len(lines)-head-tail) +
		strings.Join(lines[len(lines)-tail:], "")
}

// newBrowser opens a fresh headless Chromium (its own profile, no cookies, no language chosen)
// with a viewport of width×height CSS pixels, and returns the context of its tab, bounded by
// testTimeout. The page may reach only 127.0.0.1: every other host fails to resolve at once, so
// that nothing waits on the internet (the base map's tiles fail, as in a centre without them).
//
// What the page writes to its console is watched: an error or an uncaught exception fails the
// test when it ends. That catches the faults a user would not see at once but that break the
// page later. Failed tile loads are expected here, and so are 4xx answers of the server (no
// session yet, an unknown code), which the page handles and the tests check on the screen.
func newBrowser(tb testing.TB, width, height int) context.Context {
	return newBrowserTimeout(tb, width, height, testTimeout)
}

// newBrowserTimeout is newBrowser with another bound, for the benchmark.
func newBrowserTimeout(tb testing.TB, width, height int, timeout time.Duration) context.Context {
	tb.Helper()
	path := needBrowser(tb)
	dir := tb.TempDir()
	outPath := filepath.Join(dir, "chromium.log")
	out, err := os.Create(outPath)
	if err != nil {
		tb.Fatal(err)
	}
	// These flags and no others (chromedp.DefaultExecAllocatorOptions are not used): each keeps
	// Chromium from reaching out, or from waiting on something a test machine lacks.
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root in containers
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(filepath.Join(dir, "profile")),
		chromedp.Flag("host-resolver-rules", "MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"),
		chromedp.CombinedOutput(out),
	)
	tabCtx, cancelTab := chromedp.NewContext(allocCtx)
	tb.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		out.Close()
		if tb.Failed() {
			tb.Logf("chromium output (without its complaints of a missing D-Bus):\n%s", headTail(outPath, 10, 40, "dbus/"))
		}
	})
	// The first action starts the browser, and the browser lives as long as the context of that
	// action: tabCtx, which has no deadline. The test's bound goes on a child of it.
	if err := chromedp.Do(tabCtx, chromedp.EmulateViewport(int64(width), int64(height))); err != nil {
		tb.Fatalf("start Chromium (%s): %v", path, err)
	}
	watch := watchConsole(tabCtx)
	ctx, cancel := context.WithTimeout(tabCtx, timeout)
	tb.Cleanup(func() { // runs before the browser closes
		if tb.Failed() && ctx.Err() == nil {
			shot(tb, ctx, "failed")
		}
		cancel()
		for _, m := range watch.settle(tabCtx) {
			tb.Errorf("browser console: %s (at %s:%d)", m, m.URL, m.Line+1)
		}
	})
	return ctx
}

// consoleWatch collects the page's console errors and uncaught exceptions.
type consoleWatch struct {
	mu     sync.Mutex
	bad    []chromedp.ConsoleMessage
	marker string
	seen   chan struct{} // closed when the marker comes through
}

// watchConsole starts reading the console of the tab.
func watchConsole(ctx context.Context) *consoleWatch {
	w := &consoleWatch{marker: "e2e-console-settled-" + strconv.FormatInt(time.Now().UnixNano(), 36), seen: make(chan struct{})}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleDebug && m.Text == w.marker {
				close(w.seen)
				continue
			}
			if (m.Type == chromedp.ConsoleError || m.IsException()) && !expectedConsole(m) {
				w.mu.Lock()
				w.bad = append(w.bad, m)
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// settle writes a marker to the console and waits (a few seconds at most) for it to come
// through, so that every message before it has been read; then it returns the bad ones.
func (w *consoleWatch) settle(ctx context.Context) []chromedp.ConsoleMessage {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`console.debug(`+jsString(w.marker)+`)`)); err == nil {
		select {
		case <-w.seen:
		case <-ctx.Done():
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]chromedp.ConsoleMessage(nil), w.bad...)
}

// expectedConsole tells the errors that belong to the test machine rather than to the page: the
// base map's tiles, which cannot load here, and the browser's note of a 4xx answer of the server
// under test, which the page handles (a 5xx still fails the test).
func expectedConsole(m chromedp.ConsoleMessage) bool {
	if strings.Contains(m.URL, "tile.openstreetmap.org") || strings.Contains(m.Text, "tile.openstreetmap.org") {
		return true
	}
	if m.Source == "network" && strings.HasPrefix(m.URL, "http://127.0.0.1:") {
		const prefix = "Failed to load resource: the server responded with a status of 4"
		return strings.HasPrefix(m.Text, prefix)
	}
	return false
}

// shots numbers each test's screenshots, so that they sort in the order taken. It counts by
// test run (the testing.TB), so that go test -count=N starts each run at 01 again.
var shots = struct {
	sync.Mutex
	n map[testing.TB]int
}{n: map[testing.TB]int{}}

// shot saves a screenshot of the viewport as <TestName>-<nn>-<name>.png in the artifacts folder
// ($LIFTRESCUE_ARTIFACTS/browser/, default artifacts/browser/ at the module root): what each
// step looked like, for a reviewer, and for whoever reads a failure. A failed screenshot is
// logged, not fatal: it is evidence, not the test.
func shot(tb testing.TB, ctx context.Context, name string) {
	tb.Helper()
	shots.Lock()
	shots.n[tb]++
	n := shots.n[tb]
	shots.Unlock()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		tb.Logf("screenshot %s: %v", name, err)
		return
	}
	dir := artifactsDir()
	test := strings.NewReplacer("/", "_", " ", "_").Replace(tb.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Logf("screenshot %s: %v", name, err)
		return
	}
	if n == 1 { // the test's screenshots of an earlier run would mix with these
		old, _ := filepath.Glob(filepath.Join(dir, test+"-[0-9][0-9]-*.png"))
		for _, f := range old {
			os.Remove(f)
		}
	}
	file := filepath.Join(dir, fmt.Sprintf("%s-%02d-%s.png", test, n, name))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		tb.Logf("screenshot %s: %v", name, err)
	}
}

// artifactsDir is where the screenshots go.
func artifactsDir() string {
	if d := os.Getenv("LIFTRESCUE_ARTIFACTS"); d != "" {
		return filepath.Join(d, "browser")
	}
	return filepath.Join(moduleRoot, "artifacts", "browser")
}

// openConsole opens the operator console at the server's address and waits for its sign-in
// form: the page first asks whether there is a session, with the form hidden meanwhile.
func openConsole(ctx context.Context, s *Server) error {
	return chromedp.Do(ctx,
		chromedp.Navigate(s.URL+"/"),
		chromedp.WaitVisible(chromedp.CSS("#signin:not(.checking) #signin-form")),
	)
}

// signIn signs in through the page's form, typing as a person would and pressing Enter in the
// password box, and waits until the sign-in panel has gone and the page knows the session. The
// form must be on the screen (openConsole).
func signIn(ctx context.Context, user, password string) error {
	err := chromedp.Do(ctx,
		chromedp.WaitVisible(chromedp.CSS("#signin:not(.checking) #signin-form")),
		retype("#username", user),
		retype("#password", password+kb.Enter),
		chromedp.WaitNotVisible(chromedp.ID("signin")),
	)
	if err != nil {
		look, cancel := briefly(ctx)
		defer cancel()
		msg, _ := chromedp.Run(look, chromedp.Evaluate[string](`document.getElementById("signin-message")?.textContent ?? ""`))
		return fmt.Errorf("sign in as %s: %w (the form says %q)", user, err, msg)
	}
	return waitJS(ctx, "the page to know the session of "+user, `window.liftrescue?.session?.principal?.name === `+jsString(user))
}

// retype replaces what the input box holds with text typed as key events, as a person selecting
// all and typing over it would. (chromedp.Clear sets the value attribute, not what the box holds
// once typed in, so it cannot empty a box a person typed in.)
func retype(css, text string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Focus(chromedp.CSS(css)),
		chromedp.Evaluate[chromedp.Void](`document.querySelector(`+jsString(css)+`).select()`),
		chromedp.SendKeys(chromedp.CSS(css), text),
	)
}

// waitJS waits until the JavaScript expression is true in the page, for as long as ctx lasts
// (chromedp's Poll would give up after 30 s of its own). what names the wait in the error.
func waitJS(ctx context.Context, what, expr string) error {
	poll := chromedp.Poll[bool](`!!(`+expr+`)`, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(0))
	if _, err := chromedp.Run(ctx, poll); err != nil {
		return fmt.Errorf("waiting for %s (%s): %w", what, expr, err)
	}
	return nil
}

// waitText waits until the text of the element that the CSS selector finds, trimmed, is want,
// and says what it was instead when it never is.
func waitText(ctx context.Context, css, want string) error {
	q := `document.querySelector(` + jsString(css) + `)`
	if err := waitJS(ctx, fmt.Sprintf("%s to read %q", css, want), q+`?.textContent.trim() === `+jsString(want)); err != nil {
		look, cancel := briefly(ctx)
		defer cancel()
		got, _ := chromedp.Run(look, chromedp.Evaluate[*string](q+`?.textContent.trim() ?? null`))
		if got == nil {
			return fmt.Errorf("%w; there is no %s", err, css)
		}
		return fmt.Errorf("%w; it reads %q", err, *got)
	}
	return nil
}

// jsString writes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// briefly gives a few seconds to a last look at the page (what it says, after a wait failed),
// also when ctx itself has ended.
func briefly(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
}

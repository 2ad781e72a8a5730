// Package e2e holds the browser tests of the operator UI: Go tests that build the real
// liftrescue binary, run its demo city on a random loopback port with a database of its own, and
// drive the pages in headless Chromium through chromedp, as a dispatcher at a desk or a responder
// on a phone would. A benchmark beside them measures what the operator feels: how long the console
// takes to be ready, and the frame times of the map while a thousand vehicles move.
//
// The package has no code outside its tests, and nothing imports it. The tests speak to the
// server only as its users do, over HTTP: the pages, and the JSON API through package loadgen's
// client (whose load generator also drives the benchmark's vehicles). They need Chromium
// (/usr/bin/chromium, `chromium` on the PATH, or LIFTRESCUE_CHROMIUM): without it they skip,
// unless LIFTRESCUE_REQUIRE_BROWSER=1 (as scripts/test and CI set it), when they fail.
// Screenshots of each step go to $LIFTRESCUE_ARTIFACTS/browser/ (default: artifacts/browser/ at
// the module root).
//
//	LIFTRESCUE_REQUIRE_BROWSER=1 go test -race -count=1 ./e2e/
//	go test -run '^$' -bench OperatorUI -benchtime 1x ./e2e
package e2e

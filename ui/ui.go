// Package ui embeds the single-page operator UI so that the binary serves it with no Node and no
// build step. Third-party browser libraries live under static/vendor with their licences;
// scripts/vendor-ui fetches them from npm.
//
// It imports nothing of ours.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed static
var files embed.FS

// Handler serves the UI's files; paths without a file extension get index.html so that the
// single-page app can own its URLs.
func Handler() http.Handler {
	root, err := fs.Sub(files, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	fileServer := http.FileServer(http.FS(root))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if name == "" || !strings.Contains(name[strings.LastIndex(name, "/")+1:], ".") {
			r = r.Clone(r.Context())
			r.URL.Path = "/"
		}
		w.Header().Set("X-Content-Type-Options", "nosniff")
		fileServer.ServeHTTP(w, r)
	})
}

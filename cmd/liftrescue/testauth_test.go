package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
)

// testKeys are the admin API keys of the servers the tests run, by host:port. The default
// transport sends a server's key with every request that carries no Authorization of its own, so
// that tests read like a client that has been given a key.
var testKeys sync.Map

type keyTransport struct{ base http.RoundTripper }

func (t keyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Header.Get("Authorization") == "" {
		if k, ok := testKeys.Load(r.URL.Host); ok {
			r = r.Clone(r.Context())
			r.Header.Set("Authorization", "Bearer "+k.(string))
		}
	}
	return t.base.RoundTrip(r)
}

func init() { http.DefaultTransport = keyTransport{http.DefaultTransport} }

// provisionKey makes an admin API key in the database a serve command line will use, as an
// operator would with `liftrescue key add`, and returns it.
func provisionKey(t *testing.T, args []string) string {
	t.Helper()
	cmd := []string{"key", "add", "test-admin", "--scopes", strings.Join(permissionNames(), ",")}
	for _, name := range []string{"data", "db"} {
		if v := argValue(args, "--"+name); v != "" {
			cmd = append(cmd, "--"+name, v)
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), cmd, &out, io.Discard); err != nil {
		t.Fatalf("%v: %v", cmd, err)
	}
	key := fieldAfter(strings.Split(out.String(), "\n"), "key  ")
	if key == "" {
		t.Fatalf("key add printed no key:\n%s", out.String())
	}
	return key
}

// trust sends key to the server at base from now on.
func trust(t *testing.T, base, key string) {
	t.Helper()
	u, err := url.Parse(strings.TrimSpace(base))
	if err != nil || u.Host == "" {
		t.Fatalf("no server address in %q", base)
	}
	testKeys.Store(u.Host, key)
}

// argValue is the value of a flag in a command line ("--data x" or "--data=x"), or of its
// environment variable.
func argValue(args []string, flag string) string {
	for i, a := range args {
		if a == flag && i+1 < len(args) {
			return args[i+1]
		}
		if v, ok := strings.CutPrefix(a, flag+"="); ok {
			return v
		}
	}
	return os.Getenv(envName(strings.TrimPrefix(flag, "--")))
}

// keyOf is the key trusted for the server at base.
func keyOf(t *testing.T, base string) string {
	t.Helper()
	u, err := url.Parse(base)
	if err == nil {
		if k, ok := testKeys.Load(u.Host); ok {
			return k.(string)
		}
	}
	t.Fatalf("no API key for %s", base)
	return ""
}

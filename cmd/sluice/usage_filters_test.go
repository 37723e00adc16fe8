package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// The filters of `sluice usage` and `sluice requests` through a real
// gateway, the OpenAI SDK sending under two client keys and an operator's
// token: --version sums one version's requests, --no-key those sent
// without a client key; a secret given to --key is refused before
// anything is sent, and a name that is no configured key and matches no
// request is refused by the gateway without being repeated.
func TestCLI_UsageFilters(t *testing.T) {
	gw, token, cmd := twoTeamsGateway(t)

	type sums struct{ requests, in, out int64 }
	perVersion := map[string]*sums{} // what the SDK reported, per version
	var noKey sums                   // and for the token's requests
	noKeyIDs := map[string]bool{}
	send := func(key, secret, model string, stream bool) {
		t.Helper()
		u, id := sdkChat(t, gw, key, secret, model, "how long is the Danube?", stream)
		v := strings.TrimPrefix(model, "chat:")
		if perVersion[v] == nil {
			perVersion[v] = &sums{}
		}
		for _, s := range []*sums{perVersion[v], map[bool]*sums{true: &noKey}[key == ""]} {
			if s != nil {
				s.requests++
				s.in += u.PromptTokens
				s.out += u.CompletionTokens
			}
		}
		if key == "" {
			noKeyIDs[id] = true
		}
	}
	// Pinned, so each version's requests are known.
	send("team-a", secretA, "chat:v1.2.0", false)
	send("team-a", secretA, "chat:v1.1.0", true)
	send("team-b", secretB, "chat:v1.2.0", true)
	send("team-b", secretB, "chat:v1.1.0", false)
	send("", token, "chat:v1.2.0", false)
	send("", token, "chat:v1.1.0", true)
	send("", token, "chat:v1.2.0", true)
	deadline := time.Now().Add(10 * time.Second)
	for gw.Log.Written() < 7 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	usage := func(args ...string) api.UsageReport {
		t.Helper()
		var rep api.UsageReport
		out := mustRun(t, cmd(append([]string{"usage", "-o", "json"}, args...)...)...)
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("usage %q -o json: %v\n%s", args, err, out)
		}
		return rep
	}

	// --version: only that version's requests, each key's apart.
	for _, v := range []string{"v1.2.0", "v1.1.0"} {
		rep := usage("--version", v, "--by", "version")
		want := perVersion[v]
		if len(rep.Rows) != 3 || rep.Total.Requests != want.requests || rep.Total.InputTokens != want.in || rep.Total.OutputTokens != want.out {
			t.Errorf("usage --version %s: total %+v over %d rows, want %+v over 3 (no key, team-a, team-b)", v, rep.Total, len(rep.Rows), *want)
		}
		for _, u := range rep.Rows {
			if u.Version != v {
				t.Errorf("usage --version %s: a row of %s", v, u.Version)
			}
		}
	}
	if _, stderr, code := run(t, cmd("usage", "--version", "v9.9.9")...); code == 0 || !strings.Contains(stderr, "no model has a version v9.9.9") {
		t.Errorf("usage --version of no version: exit %d, stderr %q; want it said the version is not registered", code, stderr)
	}

	// --no-key: the token's requests alone, in usage and in the log.
	rep := usage("--no-key")
	if len(rep.Rows) != 1 || rep.Rows[0].ClientKey != "" || rep.Total.Requests != noKey.requests ||
		rep.Total.InputTokens != noKey.in || rep.Total.OutputTokens != noKey.out {
		t.Errorf("usage --no-key: %+v, want one row of %+v", rep.Rows, noKey)
	}
	stdout := mustRun(t, cmd("usage", "--no-key", "--version", "v1.2.0")...)
	if lines := strings.Split(strings.TrimSpace(stdout), "\n"); len(lines) != 4 || !strings.HasPrefix(lines[2], "(no key)  2 ") {
		t.Errorf("usage --no-key --version v1.2.0: want the token's 2 requests to v1.2.0:\n%s", stdout)
	}
	var logged []sluice.Observation
	if err := json.Unmarshal([]byte(mustRun(t, cmd("requests", "--no-key", "-o", "json")...)), &logged); err != nil {
		t.Fatal(err)
	}
	if len(logged) != len(noKeyIDs) {
		t.Errorf("requests --no-key: %d rows, want the token's %d", len(logged), len(noKeyIDs))
	}
	for _, o := range logged {
		if !noKeyIDs[o.RequestID] || o.ClientKey != "" {
			t.Errorf("requests --no-key: row %s of key %q", o.RequestID, o.ClientKey)
		}
	}
	for _, c := range []string{"usage", "requests"} {
		if _, stderr, code := run(t, cmd(c, "--no-key", "--key", "team-a")...); code == 0 || !strings.Contains(stderr, "no-key") {
			t.Errorf("%s --no-key --key: exit %d, stderr %q; want a refusal", c, code, stderr)
		}
	}
	get := func(path string, q url.Values) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("GET", gw.AdminURL()+path+"?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(body)
	}
	for _, q := range []url.Values{{"no_key": {"true"}, "key": {"team-a"}}, {"no_key": {"maybe"}}} {
		if code, body := get("/admin/v1/usage", q); code != http.StatusUnprocessableEntity || !strings.Contains(body, "no_key") {
			t.Errorf("usage?%s: %d %s; want a 422 on no_key", q.Encode(), code, body)
		}
	}

	// A bare secret passes the name rule: the CLI refuses it before
	// sending anything, asking for the key's name, and never repeats it.
	var hits atomic.Int64
	trap := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer trap.Close()
	for _, c := range []string{"usage", "requests"} {
		for _, secret := range []string{secretA, "sk-live-" + strings.Repeat("abc", 8), "3f2a9c1e7b5d40c68e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b"} {
			_, stderr, code := run(t, c, "--key", secret, "--server", trap.URL, "--token", token)
			if code == 0 || !strings.Contains(stderr, "NAME") || strings.Contains(stderr, secret) {
				t.Errorf("%s --key <a secret>: exit %d, stderr %q; want a refusal asking for the key's name, without the secret", c, code, stderr)
			}
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the CLI sent %d requests holding a secret as --key", n)
	}
	// The admin API refuses it too, and does not repeat it.
	for _, path := range []string{"/admin/v1/usage", "/admin/v1/requests"} {
		if code, body := get(path, url.Values{"key": {secretA}}); code != http.StatusUnprocessableEntity || strings.Contains(body, secretA) {
			t.Errorf("%s?key=<a secret>: %d %s; want a 422 that does not repeat it", path, code, body)
		}
	}

	// A value that passes for a name but is no key of the config and has
	// no requests (a short secret, or a typo) is refused by the gateway,
	// in the CLI and the API alike, without being repeated.
	const short = "q7Zp2mX9vL4kR8tW" // 16 characters: a secret config allows
	for _, c := range []string{"usage", "requests"} {
		_, stderr, code := run(t, cmd(c, "--key", short)...)
		if code == 0 || !strings.Contains(stderr, "no client key of that name") || strings.Contains(stderr, short) {
			t.Errorf("%s --key <no key's name>: exit %d, stderr %q; want a refusal that does not repeat it", c, code, stderr)
		}
	}
	for _, path := range []string{"/admin/v1/usage", "/admin/v1/requests"} {
		if code, body := get(path, url.Values{"key": {short}}); code != http.StatusNotFound || strings.Contains(body, short) {
			t.Errorf("%s?key=<no key's name>: %d %s; want a 404 that does not repeat it", path, code, body)
		}
	}
	// A configured key with no requests in the window is no error, and
	// its name, from the config, is said.
	past := time.Now().Add(-48 * time.Hour).UTC().Format(time.RFC3339)
	for _, c := range []string{"usage", "requests"} {
		_, stderr, code := run(t, cmd(c, "--key", "team-b", "--until", past)...)
		if code != 0 || !strings.Contains(stderr, "no requests sent with client key team-b match") {
			t.Errorf("%s --key team-b over a window without its requests: exit %d, stderr %q", c, code, stderr)
		}
	}
}

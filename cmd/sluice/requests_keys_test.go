package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// Two teams' client keys through a real gateway with the OpenAI SDK:
// the request log names the key of every request (never its secret), and
// `sluice requests --key` finds a team's requests, with a KEY column; an
// operator's token on the data plane is no key; /metrics counts each key's
// requests and tokens, as the SDK's usage says.
func TestCLI_RequestsByClientKey(t *testing.T) {
	gw, token, cmd := twoTeamsGateway(t)

	type usage struct{ requests, in, out int64 }
	sent := map[string]*usage{"team-a": {}, "team-b": {}, "": {}}
	ids := map[string]string{} // request id → key name
	send := func(key, secret string, stream bool) {
		t.Helper()
		u, id := sdkChat(t, gw, key, secret, "chat", "hello from "+key, stream)
		s := sent[key]
		s.requests++
		s.in += u.PromptTokens
		s.out += u.CompletionTokens
		ids[id] = key
	}
	send("team-a", secretA, false)
	send("team-a", secretA, true)
	send("team-a", secretA, false)
	send("team-b", secretB, false)
	send("team-b", secretB, true)
	send("", token, false) // an operator's token: no client key

	deadline := time.Now().Add(10 * time.Second)
	for gw.Log.Written() < int64(len(ids)) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}

	// Every row names its key, in -o json; no secret is stored.
	out := mustRun(t, cmd("requests", "chat", "-o", "json")...)
	var rows []sluice.Observation
	if err := json.Unmarshal([]byte(out), &rows); err != nil || len(rows) != len(ids) {
		t.Fatalf("-o json: %d rows, %v, want %d\n%s", len(rows), err, len(ids), out)
	}
	for _, o := range rows {
		if want, ok := ids[o.RequestID]; !ok || o.ClientKey != want {
			t.Errorf("row %s: client_key %q, want %q", o.RequestID, o.ClientKey, want)
		}
	}
	if strings.Contains(out, secretA) || strings.Contains(out, secretB) {
		t.Errorf("the request log holds a secret:\n%s", out)
	}

	// --key finds one team's requests; the table has a KEY column.
	for key, u := range sent {
		if key == "" {
			continue
		}
		out := mustRun(t, cmd("requests", "--key", key)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !strings.Contains(lines[0], "MODEL:VERSION  KEY  ") {
			t.Fatalf("--key %s: no KEY column after MODEL:VERSION:\n%s", key, out)
		}
		if int64(len(lines)-1) != u.requests {
			t.Errorf("--key %s: %d rows, want %d:\n%s", key, len(lines)-1, u.requests, out)
		}
		for _, l := range lines[1:] {
			// date, time, id, model:version, then KEY.
			if f := strings.Fields(l); len(f) < 5 || f[4] != key || ids[f[2]] != key {
				t.Errorf("--key %s: row %q", key, l)
			}
		}
	}
	// --id shows the key; the token's request shows none.
	for id, key := range ids {
		out := mustRun(t, cmd("requests", "--id", id)...)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if len(lines) != 2 {
			t.Fatalf("--id %s:\n%s", id, out)
		}
		switch f := strings.Fields(lines[1]); {
		case key != "" && (!strings.Contains(lines[0], " KEY ") || f[4] != key):
			t.Errorf("--id %s: want key %s:\n%s", id, key, out)
		case key == "" && strings.Contains(lines[0], " KEY "):
			t.Errorf("--id %s, sent with a token: a KEY column with nothing in it:\n%s", id, out)
		}
	}
	// A name that is no key of the config and has no requests: refused
	// by the gateway, without repeating it (it might be a secret).
	_, errOut, code := run(t, cmd("requests", "--key", "team-c")...)
	if code == 0 || !strings.Contains(errOut, "no client key of that name") || strings.Contains(errOut, "team-c") {
		t.Errorf("--key of no configured key: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := run(t, cmd("requests", "--key", "sk team a")...); code == 0 || !strings.Contains(errOut, "key") {
		t.Errorf("--key that is no name: exit %d, stderr %q", code, errOut)
	}
	// A pasted secret is refused without being repeated.
	if _, errOut, code := run(t, cmd("requests", "--key", "Bearer "+secretA)...); code == 0 || !strings.Contains(errOut, "never its secret") || strings.Contains(errOut, secretA) {
		t.Errorf("--key holding a secret: exit %d, stderr %q; want a refusal that does not repeat it", code, errOut)
	}

	// /metrics: each key's requests and tokens; nothing for the token.
	res, err := http.Get(gw.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	metrics := string(body)
	for key, u := range sent {
		if key == "" {
			continue
		}
		for _, m := range []string{
			fmt.Sprintf(`sluice_client_key_requests_total{code="200",key=%q,model="chat"} %d`, key, u.requests),
			fmt.Sprintf(`sluice_client_key_tokens_total{direction="input",key=%q,model="chat"} %d`, key, u.in),
			fmt.Sprintf(`sluice_client_key_tokens_total{direction="output",key=%q,model="chat"} %d`, key, u.out),
		} {
			if !strings.Contains(metrics, m+"\n") {
				t.Errorf("/metrics lacks %s:\n%s", m, grepLines(metrics, "sluice_client_key"))
			}
		}
	}
	if strings.Contains(metrics, `key=""`) {
		t.Errorf("/metrics counts requests without a key:\n%s", grepLines(metrics, "sluice_client_key"))
	}
}

package main

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// Two teams' client keys and an operator's token send chat requests,
// streamed and not, through a real gateway with the OpenAI SDK: `sluice
// usage` sums each key's requests and tokens to what the SDK was told, in
// -o json and in the table, per key and per version; a request refused for
// its key is not in it.
func TestCLI_Usage(t *testing.T) {
	gw, token, cmd := twoTeamsGateway(t)

	sent := map[string]*sluice.UsageRow{} // what the SDK reported, per key name
	byID := map[string]sluice.UsageRow{}  // the SDK's usage of each request id
	ctx := context.Background()
	send := func(key, secret, model, prompt string, stream bool) {
		t.Helper()
		u, id := sdkChat(t, gw, key, secret, model, prompt, stream)
		if sent[key] == nil {
			sent[key] = &sluice.UsageRow{ClientKey: key}
		}
		s := sent[key]
		s.Requests++
		s.InputTokens += u.PromptTokens
		s.OutputTokens += u.CompletionTokens
		s.CachedTokens += u.PromptTokensDetails.CachedTokens
		byID[id] = sluice.UsageRow{InputTokens: u.PromptTokens, OutputTokens: u.CompletionTokens}
	}
	for i := range 4 {
		send("team-a", secretA, "chat", strings.Repeat("tell me more about rivers ", i+1), i%2 == 0)
	}
	// Two pinned to the other version, one streamed.
	send("team-a", secretA, "chat:v1.2.0", "and lakes?", true)
	send("team-a", secretA, "chat:v1.2.0", "and the sea?", false)
	for i := range 3 {
		send("team-b", secretB, "chat", "summarise "+strconv.Itoa(i), i == 1)
	}
	send("", token, "chat", "hello from an operator", true)
	send("", token, "chat", "hello again", false)
	// A wrong secret is refused before routing: not in the request log.
	bad := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey("sk-nobody"), option.WithMaxRetries(0))
	if _, err := bad.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}); err == nil {
		t.Fatal("a wrong secret was served")
	}

	deadline := time.Now().Add(10 * time.Second)
	for gw.Log.Written() < 11 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}

	// -o json: each key's sums are what the SDK reported; no errors.
	var rep api.UsageReport
	out := mustRun(t, cmd("usage", "-o", "json")...)
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("-o json: %v\n%s", err, out)
	}
	if rep.By != "key" || rep.Since == nil || rep.Until.Sub(*rep.Since).Round(time.Minute) != 24*time.Hour {
		t.Errorf("default window and grouping: by %q, %v to %v; want by key over 24h", rep.By, rep.Since, rep.Until)
	}
	if len(rep.Rows) != 3 {
		t.Fatalf("%d rows, want one per key and one without:\n%s", len(rep.Rows), out)
	}
	var total sluice.UsageRow
	for _, u := range rep.Rows {
		want := sent[u.ClientKey]
		if want == nil || u != *want {
			t.Errorf("key %q: usage %+v, the SDK reported %+v", u.ClientKey, u, want)
		}
		total.Add(u)
	}
	if rep.Total != total {
		t.Errorf("total %+v, want the rows' %+v", rep.Total, total)
	}

	// The table: a window header, a row per key, "(no key)" for the
	// token's requests, a total; the note on refused requests.
	stdout, stderr, code := run(t, cmd("usage", "--since", "7d")...)
	if code != 0 {
		t.Fatalf("sluice usage: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 6 || !strings.HasPrefix(lines[0], "usage by key from ") || !strings.HasSuffix(lines[0], " UTC (7d)") {
		t.Fatalf("table:\n%s", stdout)
	}
	if f := strings.Fields(lines[1]); strings.Join(f, " ") != "KEY REQUESTS ERRORS CANCELED INPUT TOKENS OUTPUT TOKENS" {
		t.Errorf("heading %q", lines[1])
	}
	for i, key := range []string{"", "team-a", "team-b"} {
		name := key
		if key == "" {
			name = "(no key)"
		}
		u := sent[key]
		want := []string{name, num(u.Requests), "0", "0", num(u.InputTokens), num(u.OutputTokens)}
		if got := strings.Fields(lines[2+i]); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("row of %s: %q, want %q", name, lines[2+i], strings.Join(want, " "))
		}
	}
	if f := strings.Fields(lines[5]); f[0] != "TOTAL" || f[1] != num(total.Requests) || f[4] != num(total.InputTokens) || f[5] != num(total.OutputTokens) {
		t.Errorf("total line %q, want %+v", lines[5], total)
	}
	if !strings.Contains(stderr, "not in the request log") || !strings.Contains(stderr, "sluice_client_key_requests_total") {
		t.Errorf("no note on requests refused before routing: %q", stderr)
	}

	// Per version, one key: MODEL and VERSION columns; each version's
	// sums are what the SDK reported for the requests it served (the
	// request log names the version of each request id).
	var logged []sluice.Observation
	if err := json.Unmarshal([]byte(mustRun(t, cmd("requests", "--key", "team-a", "-o", "json")...)), &logged); err != nil {
		t.Fatal(err)
	}
	perVersion := map[string]*sluice.UsageRow{}
	for _, o := range logged {
		u := byID[o.RequestID]
		if perVersion[o.Version] == nil {
			perVersion[o.Version] = &sluice.UsageRow{}
		}
		perVersion[o.Version].Add(sluice.UsageRow{Requests: 1, InputTokens: u.InputTokens, OutputTokens: u.OutputTokens})
	}
	out = mustRun(t, cmd("usage", "--key", "team-a", "--by", "version")...)
	lines = strings.Split(strings.TrimSpace(out), "\n")
	if f := strings.Fields(lines[1]); len(f) < 3 || f[0] != "KEY" || f[1] != "MODEL" || f[2] != "VERSION" {
		t.Fatalf("--by version: heading %q", lines[1])
	}
	if len(perVersion) < 2 || len(lines) != 3+len(perVersion) {
		t.Fatalf("--by version: want a row for each of %d versions:\n%s", len(perVersion), out)
	}
	for _, l := range lines[2 : len(lines)-1] {
		f := strings.Fields(l)
		u := perVersion[f[2]]
		if f[0] != "team-a" || f[1] != "chat" || u == nil || f[3] != num(u.Requests) || f[6] != num(u.InputTokens) || f[7] != num(u.OutputTokens) {
			t.Errorf("--by version row %q, want %+v", l, u)
		}
	}

	// --until alone sums the day before it, not from 24 hours before now
	// (which a past --until would precede).
	end := time.Now().Add(-72 * time.Hour).UTC().Truncate(time.Second)
	stdout, stderr, code = run(t, cmd("usage", "--until", end.Format(time.RFC3339))...)
	if want := "from " + end.Add(-24*time.Hour).Format("2006-01-02 15:04:05") + " to " + end.Format("2006-01-02 15:04:05") + " UTC"; code != 0 || !strings.Contains(stdout, want) {
		t.Errorf("usage --until 3 days ago: exit %d, stdout %q, stderr %q; want the window %q", code, stdout, stderr, want)
	}

	// Bad input, refused with what to do.
	for _, tc := range []struct {
		args []string
		says string
	}{
		{[]string{"--key", "Bearer " + secretA}, "never its secret"},
		{[]string{"--by", "team"}, "use key, model or version"},
		{[]string{"--since", "last week"}, "invalid time"},
	} {
		_, stderr, code := run(t, cmd(append([]string{"usage"}, tc.args...)...)...)
		if code == 0 || !strings.Contains(stderr, tc.says) {
			t.Errorf("usage %q: exit %d, stderr %q; want a refusal saying %q", tc.args, code, stderr, tc.says)
		}
		if strings.Contains(stderr, secretA) {
			t.Errorf("usage %q: the error repeats the secret: %q", tc.args, stderr)
		}
	}
}

package rollout_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// receiver is an alert webhook's receiver on loopback: it keeps each body
// and answers the statuses given in turn (then the last).
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	bodies   []map[string]any
	reqs     []string // each request's method, path and query, and Authorization header
	statuses []int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	t.Helper()
	rc := &receiver{statuses: statuses}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Errorf("an alert body that is not a JSON object: %s", b)
		}
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
		rc.mu.Lock()
		rc.bodies = append(rc.bodies, m)
		rc.reqs = append(rc.reqs, r.Method+" "+r.URL.RequestURI()+" "+r.Header.Get("Authorization"))
		status := http.StatusOK
		if len(rc.statuses) > 0 {
			status = rc.statuses[0]
			if len(rc.statuses) > 1 {
				rc.statuses = rc.statuses[1:]
			}
		}
		rc.mu.Unlock()
		if status >= 400 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			io.WriteString(w, `{"status":"invalid event","errors":["something"]}`)
			return
		}
		w.WriteHeader(status)
	}))
	t.Cleanup(rc.Close)
	return rc
}

func (rc *receiver) requests() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]string(nil), rc.reqs...)
}

func (rc *receiver) got() []map[string]any {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]map[string]any(nil), rc.bodies...)
}

var at = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func rolledBack() rollout.Alert {
	return rollout.Alert{Severity: "critical", Event: "rolled_back", Rollout: "r1", Model: "chat", Phase: sluice.PhaseRolledBack,
		Message: "rollout r1 of chat:v2 rolled back: error rate 9% > 2%", At: at, Timings: map[string]any{"drain_ms": 1.5}}
}

func promoted() rollout.Alert {
	return rollout.Alert{Severity: "info", Event: "promoted", Rollout: "r2", Model: "chat", Phase: sluice.PhasePromoted,
		Message: "rollout r2 promoted chat:v3: all stages passed", At: at}
}

func paused() rollout.Alert {
	return rollout.Alert{Severity: "warning", Event: "paused", Rollout: "r3", Model: "chat", Phase: sluice.PhasePaused,
		Message: "rollout r3 paused by the controller: Prometheus gate p99 could not be evaluated", At: at}
}

func resumed() rollout.Alert {
	return rollout.Alert{Severity: "info", Event: "resumed", Rollout: "r3", Model: "chat", Phase: sluice.PhaseProgressing,
		Message: "rollout r3 of chat:v3 resumed by alice; the stage's hold continues from 1m0s", At: at}
}

// send sends each alert to hooks and waits for them.
func send(t *testing.T, hooks []rollout.Webhook, alerts ...rollout.Alert) {
	t.Helper()
	w := &rollout.Webhooks{Hooks: hooks, Source: "gw-1"}
	for _, a := range alerts {
		w.Alert(context.Background(), a)
	}
	w.Wait(context.Background())
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestWebhooks_Alert_MSTeams(t *testing.T) {
	rc := newReceiver(t)
	send(t, []rollout.Webhook{{URL: rc.URL + "/workflows/abc", Format: "msteams"}}, rolledBack())
	got := rc.got()
	if len(got) != 1 {
		t.Fatalf("%d bodies", len(got))
	}
	want := `{"attachments":[{"content":{"$schema":"http://adaptivecards.io/schemas/adaptive-card.json",` +
		`"body":[{"color":"Attention","size":"Medium","text":"CRITICAL: rollout r1 of chat rolled back","type":"TextBlock","weight":"Bolder","wrap":true},` +
		`{"text":"rollout r1 of chat:v2 rolled back: error rate 9% \u003e 2%","type":"TextBlock","wrap":true},` +
		`{"facts":[{"title":"Model","value":"chat"},{"title":"Rollout","value":"r1"},{"title":"Event","value":"rolled_back"},{"title":"Phase","value":"rolled_back"},{"title":"Severity","value":"critical"},{"title":"At","value":"2026-03-01T12:00:00Z"}],"type":"FactSet"}],` +
		`"type":"AdaptiveCard","version":"1.2"},"contentType":"application/vnd.microsoft.card.adaptive","contentUrl":null}],"type":"message"}`
	if s := mustJSON(t, got[0]); s != want {
		t.Errorf("Teams body:\n got %s\nwant %s", s, want)
	}
}

func TestWebhooks_Alert_Discord(t *testing.T) {
	rc := newReceiver(t)
	long := rolledBack()
	long.Message = "rolled back: " + strings.Repeat("🚨 @everyone ", 400) // 2 UTF-16 units an emoji
	send(t, []rollout.Webhook{{URL: rc.URL, Format: "discord"}}, rolledBack(), long)
	got := rc.got()
	if len(got) != 2 {
		t.Fatalf("%d bodies", len(got))
	}
	short := got[0]
	if got[0]["content"] != `🚨 **r1** rollout r1 of chat:v2 rolled back: error rate 9% \> 2%` {
		short = got[1]
	}
	if short["content"] != `🚨 **r1** rollout r1 of chat:v2 rolled back: error rate 9% \> 2%` {
		t.Errorf("content: %v / %v", got[0]["content"], got[1]["content"])
	}
	if m := mustJSON(t, short["allowed_mentions"]); m != `{"parse":[]}` {
		t.Errorf("allowed_mentions %s: a message holding @everyone would notify the channel", m)
	}
	for _, b := range got {
		c, _ := b["content"].(string)
		if n := len(utf16.Encode([]rune(c))); n > rollout.DiscordMaxContent {
			t.Errorf("content of %d UTF-16 units; Discord refuses more than %d", n, rollout.DiscordMaxContent)
		}
		if len(c) > 200 && !strings.HasSuffix(c, "…") {
			t.Errorf("a cut content does not end with …: %q", c[len(c)-20:])
		}
	}
}

// TestWebhooks_Alert_DiscordMarkdownEscaped: a model, version or reason
// holding Discord's markdown characters is shown as written: each is
// escaped, so a_model_ is not italic, a ~~ not struck out, a || not a
// spoiler, a > at a line's start not a quote; a cut never leaves half an
// escape before its "…".
func TestWebhooks_Alert_DiscordMarkdownEscaped(t *testing.T) {
	rc := newReceiver(t)
	a := rolledBack()
	a.Rollout = "r_1*"
	a.Message = "rollout r_1* of my_model:v2_*beta* rolled back: `ops` said ~~no~~ || spoiler ||\n> quoted # [link](http://x) \\ done"
	cut := rolledBack()
	// "🚨 **r1** " is 10 UTF-16 units: the cut, at 1,999 and a "…",
	// falls between the first star's backslash and the star.
	cut.Message = strings.Repeat("x", rollout.DiscordMaxContent-12) + "***"
	send(t, []rollout.Webhook{{URL: rc.URL, Format: "discord"}}, a)
	send(t, []rollout.Webhook{{URL: rc.URL, Format: "discord"}}, cut)
	got := rc.got()
	if len(got) != 2 {
		t.Fatalf("%d bodies", len(got))
	}
	want := `🚨 **r\_1\*** rollout r\_1\* of my\_model:v2\_\*beta\* rolled back: \` + "`" + `ops\` + "`" + ` said \~\~no\~\~ \|\| spoiler \|\|` +
		"\n" + `\> quoted \# \[link\](http://x) \\ done`
	if got[0]["content"] != want {
		t.Errorf("content:\n got %s\nwant %s", got[0]["content"], want)
	}
	c, _ := got[1]["content"].(string)
	if !strings.HasSuffix(c, "xx…") {
		t.Errorf("a cut through an escape left half of it: ...%q", c[len(c)-12:])
	}
}

// TestWebhooks_Alert_DiscordKeepsLinks: a link in a reason (a stage
// webhook's answer pointing at its CI run) stays a working link: Discord
// makes a link of the URL as written, its backslashes included, so an
// escape inside it (run_42 written run\_42) would break it, while its
// markdown characters format nothing there. Around it the text is still
// escaped.
func TestWebhooks_Alert_DiscordKeepsLinks(t *testing.T) {
	rc := newReceiver(t)
	a := rolledBack()
	a.Message = "rollout r1 of my_model:v2 rolled back: webhook evals failed: see https://ci.example/runs/my_run_42?a=*b*&c=~d~|e, then _retry_ (http://x.example/a_b)"
	send(t, []rollout.Webhook{{URL: rc.URL, Format: "discord"}}, a)
	got := rc.got()
	if len(got) != 1 {
		t.Fatalf("%d bodies", len(got))
	}
	want := `🚨 **r1** rollout r1 of my\_model:v2 rolled back: webhook evals failed: see https://ci.example/runs/my_run_42?a=*b*&c=~d~|e, then \_retry\_ (http://x.example/a_b)`
	if got[0]["content"] != want {
		t.Errorf("content:\n got %s\nwant %s", got[0]["content"], want)
	}
}

func TestWebhooks_Alert_PagerDuty(t *testing.T) {
	t.Run("TriggerThenResolve", func(t *testing.T) {
		rc := newReceiver(t, http.StatusAccepted)
		hook := rollout.Webhook{URL: rc.URL + "/v2/enqueue", Format: "pagerduty", RoutingKey: "R0UT1NGKEY0123456789abcdef012345"}
		send(t, []rollout.Webhook{hook}, rolledBack())
		send(t, []rollout.Webhook{hook}, promoted())
		got := rc.got()
		if len(got) != 3 {
			t.Fatalf("%d events", len(got))
		}
		want := `{"dedup_key":"sluice/chat","event_action":"trigger","payload":{"class":"rolled_back","component":"chat",` +
			`"custom_details":{"event":"rolled_back","message":"rollout r1 of chat:v2 rolled back: error rate 9% \u003e 2%","model":"chat","phase":"rolled_back","rollout":"r1","timings":{"drain_ms":1.5}},` +
			`"group":"sluice","severity":"critical","source":"gw-1","summary":"sluice: rollout r1 of chat:v2 rolled back: error rate 9% \u003e 2%","timestamp":"2026-03-01T12:00:00.000Z"},` +
			`"routing_key":"R0UT1NGKEY0123456789abcdef012345"}`
		if s := mustJSON(t, got[0]); s != want {
			t.Errorf("trigger:\n got %s\nwant %s", s, want)
		}
		// The later promotion of the model resolves that page: same key;
		// and its pause's, should a paused rollout have been aborted.
		if s := mustJSON(t, got[1]); s != `{"dedup_key":"sluice/chat","event_action":"resolve","routing_key":"R0UT1NGKEY0123456789abcdef012345"}` {
			t.Errorf("resolve: %s", s)
		}
		if s := mustJSON(t, got[2]); s != `{"dedup_key":"sluice-paused/chat","event_action":"resolve","routing_key":"R0UT1NGKEY0123456789abcdef012345"}` {
			t.Errorf("the pause's resolve: %s", s)
		}
	})
	t.Run("PauseThenResume", func(t *testing.T) {
		// The controller's pause pages under its own key, and the resume
		// resolves that one only: the model's rollback page (of an
		// earlier rollout) stays open until the model is promoted.
		rc := newReceiver(t, http.StatusAccepted)
		hook := rollout.Webhook{URL: rc.URL, Format: "pagerduty", RoutingKey: "k"}
		send(t, []rollout.Webhook{hook}, rolledBack())
		send(t, []rollout.Webhook{hook}, paused())
		send(t, []rollout.Webhook{hook}, resumed())
		got := rc.got()
		if len(got) != 3 {
			t.Fatalf("%d events", len(got))
		}
		if got[0]["dedup_key"] != "sluice/chat" || got[1]["event_action"] != "trigger" || got[1]["dedup_key"] != "sluice-paused/chat" ||
			got[1]["payload"].(map[string]any)["severity"] != "warning" || got[1]["payload"].(map[string]any)["class"] != "paused" {
			t.Errorf("the rollback's and the pause's pages: %v", got[:2])
		}
		if s := mustJSON(t, got[2]); s != `{"dedup_key":"sluice-paused/chat","event_action":"resolve","routing_key":"k"}` {
			t.Errorf("the resume: %s", s)
		}
	})
	t.Run("Severities", func(t *testing.T) {
		rc := newReceiver(t, http.StatusAccepted)
		hook := rollout.Webhook{URL: rc.URL, Format: "pagerduty", RoutingKey: "k"}
		for _, sev := range []string{"critical", "warning", "info"} {
			a := rolledBack()
			a.Severity = sev
			send(t, []rollout.Webhook{hook}, a)
		}
		var sevs []string
		for _, b := range rc.got() {
			sevs = append(sevs, b["payload"].(map[string]any)["severity"].(string))
		}
		if strings.Join(sevs, ",") != "critical,warning,info" {
			t.Errorf("severities %v", sevs)
		}
	})
	t.Run("TestAlertIsNoModelsIncident", func(t *testing.T) {
		// A model may be named test: its rollback's page and sluice alert
		// test's incident are two incidents, so the test adds nothing to
		// the real page, and the model's promotion (or the operator who
		// resolves the test's incident by hand) does not resolve the other.
		rc := newReceiver(t, http.StatusAccepted)
		hook := rollout.Webhook{URL: rc.URL, Format: "pagerduty", RoutingKey: "k"}
		a := rolledBack()
		a.Model = "test"
		send(t, []rollout.Webhook{hook}, a)
		w := &rollout.Webhooks{Hooks: []rollout.Webhook{hook}}
		w.Test(context.Background(), rollout.Alert{Severity: "critical", Message: "a test", At: at})
		got := rc.got()
		if len(got) != 2 {
			t.Fatalf("%d events", len(got))
		}
		if page, test := got[0]["dedup_key"], got[1]["dedup_key"]; page == test {
			t.Errorf("model test's page and the test alert share dedup_key %v", page)
		}
	})
	t.Run("RetriesA429", func(t *testing.T) {
		rc := newReceiver(t, http.StatusTooManyRequests, http.StatusAccepted)
		send(t, []rollout.Webhook{{URL: rc.URL, Format: "pagerduty", RoutingKey: "k"}}, rolledBack())
		if got := rc.got(); len(got) != 2 || mustJSON(t, got[0]) != mustJSON(t, got[1]) {
			t.Errorf("%d attempts: PagerDuty's 429 is retried with the same event", len(got))
		}
	})
}

// TestWebhooks_Alert_Opsgenie: Opsgenie's Alert API v2 on loopback. A
// rollback creates the model's alert (alias sluice:MODEL, P1, the key as
// Authorization: GenieKey), the model's promotion closes it by alias (and
// its pause's); the controller's pause has its own alias, which the resume
// closes. A model's / is written : so the alias is one path segment.
func TestWebhooks_Alert_Opsgenie(t *testing.T) {
	const key = "eb243592-faa2-4ba2-a551-1afdf565c889"
	t.Run("CreateThenClose", func(t *testing.T) {
		rc := newReceiver(t, http.StatusAccepted)
		hook := rollout.Webhook{URL: rc.URL, Format: "opsgenie", APIKey: key}
		send(t, []rollout.Webhook{hook}, rolledBack())
		send(t, []rollout.Webhook{hook}, promoted())
		got, reqs := rc.got(), rc.requests()
		if len(got) != 3 {
			t.Fatalf("%d requests: %v", len(got), reqs)
		}
		want := `{"alias":"sluice:chat","description":"rollout r1 of chat:v2 rolled back: error rate 9% \u003e 2%",` +
			`"details":{"event":"rolled_back","model":"chat","phase":"rolled_back","rollout":"r1","severity":"critical","timings":"{\"drain_ms\":1.5}"},` +
			`"entity":"chat","message":"sluice: rollout r1 of chat:v2 rolled back: error rate 9% \u003e 2%","priority":"P1","source":"gw-1","tags":["sluice","rolled_back","critical"]}`
		if s := mustJSON(t, got[0]); s != want {
			t.Errorf("create:\n got %s\nwant %s", s, want)
		}
		wantReqs := []string{
			"POST /v2/alerts GenieKey " + key,
			"POST /v2/alerts/sluice:chat/close?identifierType=alias GenieKey " + key,
			"POST /v2/alerts/sluice-paused:chat/close?identifierType=alias GenieKey " + key,
		}
		if strings.Join(reqs, "\n") != strings.Join(wantReqs, "\n") {
			t.Errorf("requests:\n%s\nwant\n%s", strings.Join(reqs, "\n"), strings.Join(wantReqs, "\n"))
		}
		for _, b := range got[1:] {
			if s := mustJSON(t, b); s != `{"note":"rollout r2 promoted chat:v3: all stages passed","source":"gw-1"}` {
				t.Errorf("close: %s", s)
			}
		}
	})
	t.Run("PauseThenResume", func(t *testing.T) {
		rc := newReceiver(t, http.StatusAccepted)
		hook := rollout.Webhook{URL: rc.URL + "/v2/alerts/", Format: "opsgenie", APIKey: key} // the create's URL, written whole
		a := paused()
		a.Model = "team/chat"
		r := resumed()
		r.Model = "team/chat"
		send(t, []rollout.Webhook{hook}, a)
		send(t, []rollout.Webhook{hook}, r)
		got, reqs := rc.got(), rc.requests()
		if len(got) != 2 || reqs[0] != "POST /v2/alerts GenieKey "+key || reqs[1] != "POST /v2/alerts/sluice-paused:team:chat/close?identifierType=alias GenieKey "+key {
			t.Fatalf("requests %v", reqs)
		}
		if got[0]["alias"] != "sluice-paused:team:chat" || got[0]["priority"] != "P3" || got[0]["entity"] != "team/chat" {
			t.Errorf("the pause's alert: %v", got[0])
		}
	})
	t.Run("Limits", func(t *testing.T) {
		rc := newReceiver(t, http.StatusAccepted)
		a := rolledBack()
		a.Severity = "info"
		a.Message = strings.Repeat("é", 20000)
		send(t, []rollout.Webhook{{URL: rc.URL, Format: "opsgenie", APIKey: key, Events: []string{"rolled_back"}}}, a)
		got := rc.got()
		if len(got) != 1 {
			t.Fatalf("%d requests", len(got))
		}
		msg, desc := got[0]["message"].(string), got[0]["description"].(string)
		if n := utf8.RuneCountInString(msg); n != 130 || !strings.HasSuffix(msg, "…") {
			t.Errorf("message of %d characters; Opsgenie takes 130", n)
		}
		if n := utf8.RuneCountInString(desc); n != 15000 {
			t.Errorf("description of %d characters; Opsgenie takes 15,000", n)
		}
		if got[0]["priority"] != "P5" {
			t.Errorf("priority %v for info", got[0]["priority"])
		}
	})
}

// TestWebhooks_Alert_GoogleChat: a Google Chat incoming webhook's text, in
// Chat's formatting; a <users/all> in a reason mentions no one, and a long
// message is cut to Chat's 4,096 characters.
func TestWebhooks_Alert_GoogleChat(t *testing.T) {
	rc := newReceiver(t)
	a := rolledBack()
	a.Message = "rollout r1 of chat:v2 rolled back: error rate 9% > 2%; <users/all> see <https://x.example|this>"
	long := rolledBack()
	long.Severity = "warning"
	long.Message = strings.Repeat("🚨 ", 3000)
	send(t, []rollout.Webhook{{URL: rc.URL + "/v1/spaces/AAA/messages?key=k&token=t", Format: "googlechat"}}, a)
	send(t, []rollout.Webhook{{URL: rc.URL + "/v1/spaces/AAA/messages?key=k&token=t", Format: "googlechat"}}, long)
	got, reqs := rc.got(), rc.requests()
	if len(got) != 2 || reqs[0] != "POST /v1/spaces/AAA/messages?key=k&token=t " {
		t.Fatalf("requests %v", reqs)
	}
	want := "🚨 *r1* rollout r1 of chat:v2 rolled back: error rate 9% > 2%; <\u200busers/all> see <\u200bhttps://x.example|this>"
	if got[0]["text"] != want || len(got[0]) != 1 {
		t.Errorf("body %v\nwant text %q", got[0], want)
	}
	c, _ := got[1]["text"].(string)
	if n := len(utf16.Encode([]rune(c))); n > rollout.GoogleChatMaxText || n < rollout.GoogleChatMaxText-2 || !strings.HasPrefix(c, "⚠️ *r1* ") || !strings.HasSuffix(c, "…") {
		t.Errorf("a long text of %d UTF-16 units, want it cut to %d: %q…", n, rollout.GoogleChatMaxText, c[:20])
	}
}

func TestWebhook_Wants(t *testing.T) {
	baking := rollout.Alert{Severity: "info", Event: "baking", Model: "chat"}
	aborted := rollout.Alert{Severity: "warning", Event: "aborted", Model: "chat"}
	test := rollout.Alert{Severity: "info", Event: "test", Test: true}
	for _, c := range []struct {
		name string
		hook rollout.Webhook
		a    rollout.Alert
		want bool
	}{
		{"AllByDefault", rollout.Webhook{Format: "slack"}, baking, true},
		{"SeverityFloorDropsInfo", rollout.Webhook{Severity: "warning"}, promoted(), false},
		{"SeverityFloorKeepsWarning", rollout.Webhook{Severity: "warning"}, aborted, true},
		{"SeverityFloorKeepsCritical", rollout.Webhook{Severity: "warning"}, rolledBack(), true},
		{"CriticalFloorDropsWarning", rollout.Webhook{Severity: "critical"}, aborted, false},
		{"EventsKeep", rollout.Webhook{Events: []string{"rolled_back", "failed"}}, rolledBack(), true},
		{"EventsDrop", rollout.Webhook{Events: []string{"rolled_back", "failed"}}, promoted(), false},
		{"BothMustHold", rollout.Webhook{Events: []string{"aborted"}, Severity: "critical"}, aborted, false},
		{"PagerDutyDefaultsToPages", rollout.Webhook{Format: "pagerduty"}, baking, false},
		{"PagerDutyDefaultAbortNotPaged", rollout.Webhook{Format: "pagerduty"}, aborted, false},
		{"PagerDutyDefaultRollback", rollout.Webhook{Format: "pagerduty"}, rolledBack(), true},
		// An abort that left traffic on versions that are all down is
		// raised to critical: that pages whatever its kind.
		{"PagerDutyDefaultCriticalAbortPaged", rollout.Webhook{Format: "pagerduty"}, rollout.Alert{Severity: "critical", Event: "aborted", Model: "chat"}, true},
		{"PagerDutyListedEventsHoldForCritical", rollout.Webhook{Format: "pagerduty", Events: []string{"rolled_back"}}, rollout.Alert{Severity: "critical", Event: "aborted", Model: "chat"}, false},
		{"PagerDutyResolvePassesTheFloor", rollout.Webhook{Format: "pagerduty", Severity: "critical"}, promoted(), true},
		{"PagerDutyEventsStillHold", rollout.Webhook{Format: "pagerduty", Severity: "critical", Events: []string{"rolled_back"}}, promoted(), false},
		{"TestGoesEverywhere", rollout.Webhook{Severity: "critical", Events: []string{"rolled_back"}}, test, true},
		{"PagerDutyDefaultPause", rollout.Webhook{Format: "pagerduty"}, paused(), true},
		{"PagerDutyDefaultResume", rollout.Webhook{Format: "pagerduty"}, resumed(), true},
		{"PagerDutyResumePassesTheFloor", rollout.Webhook{Format: "pagerduty", Severity: "warning"}, resumed(), true},
		{"ChatResumeHeldByTheFloor", rollout.Webhook{Format: "slack", Severity: "warning"}, resumed(), false},
		{"OpsgenieDefaultsToPages", rollout.Webhook{Format: "opsgenie"}, baking, false},
		{"OpsgenieDefaultAbortNotPaged", rollout.Webhook{Format: "opsgenie"}, aborted, false},
		{"OpsgenieDefaultRollback", rollout.Webhook{Format: "opsgenie"}, rolledBack(), true},
		{"OpsgenieDefaultCriticalAbortPaged", rollout.Webhook{Format: "opsgenie"}, rollout.Alert{Severity: "critical", Event: "aborted", Model: "chat"}, true},
		{"OpsgenieClosePassesTheFloor", rollout.Webhook{Format: "opsgenie", Severity: "critical"}, promoted(), true},
		{"OpsgenieResumePassesTheFloor", rollout.Webhook{Format: "opsgenie", Severity: "critical"}, resumed(), true},
		{"OpsgenieEventsStillHold", rollout.Webhook{Format: "opsgenie", Events: []string{"rolled_back"}}, resumed(), false},
		// A resume closes the pause's page: it goes to the pagers that took
		// the pause, whatever their events say of resumed, and to no other.
		{"PagerResumeFollowsThePause", rollout.Webhook{Format: "pagerduty", Events: []string{"paused", "rolled_back"}}, resumed(), true},
		{"OpsgenieResumeFollowsThePause", rollout.Webhook{Format: "opsgenie", Events: []string{"paused"}}, resumed(), true},
		{"PagerResumeWithoutThePause", rollout.Webhook{Format: "pagerduty", Events: []string{"resumed", "rolled_back"}}, resumed(), false},
		{"ChatResumeFollowsItsEvents", rollout.Webhook{Format: "slack", Events: []string{"paused"}}, resumed(), false},
		{"JSONResumeListed", rollout.Webhook{Events: []string{"resumed"}}, resumed(), true},
		{"GoogleChatAllByDefault", rollout.Webhook{Format: "googlechat"}, baking, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.hook.Wants(c.a); got != c.want {
				t.Errorf("Wants(%s %s) = %v", c.a.Severity, c.a.Event, got)
			}
		})
	}
	// End to end: a hook with a floor gets the rollback, not the promotion.
	rc := newReceiver(t)
	send(t, []rollout.Webhook{{URL: rc.URL, Severity: "warning"}}, promoted(), rolledBack())
	if got := rc.got(); len(got) != 1 || got[0]["event"] != "rolled_back" {
		t.Errorf("sent %v", got)
	}
	// End to end: a pager paged for the pause with resumed not among its
	// events gets the resume's close of that page, a chat webhook with the
	// same events nothing, one with every event the resumed alert.
	pd, chat, all := newReceiver(t, http.StatusAccepted), newReceiver(t), newReceiver(t)
	send(t, []rollout.Webhook{
		{URL: pd.URL, Format: "pagerduty", RoutingKey: "k", Events: []string{"paused", "rolled_back"}},
		{URL: chat.URL, Format: "slack", Events: []string{"paused", "rolled_back"}},
		{URL: all.URL},
	}, paused(), resumed())
	if got := pd.got(); len(got) != 2 || got[0]["event_action"] != "trigger" || got[0]["dedup_key"] != "sluice-paused/chat" ||
		mustJSON(t, got[1]) != `{"dedup_key":"sluice-paused/chat","event_action":"resolve","routing_key":"k"}` {
		t.Errorf("PagerDuty with events [paused, rolled_back] got %v, want the pause's trigger then its resolve", got)
	}
	if got := chat.got(); len(got) != 1 || !strings.Contains(fmt.Sprint(got[0]), "paused by the controller") {
		t.Errorf("Slack with events [paused, rolled_back] got %v, want the pause alone", got)
	}
	if got := all.got(); len(got) != 2 || got[1]["event"] != "resumed" {
		t.Errorf("a json webhook of every event got %v, want the pause and the resume", got)
	}
}

// TestWebhook_ClosesPause: the close of the controller's pause's page,
// carried by the alert of a rollout that ended while that pause held it,
// goes to the pagers that take paused alerts, whatever their events say
// of the alert's own kind and whatever their severity floor: what opened
// the incident closes it. Chat and json webhooks keep no incident.
func TestWebhook_ClosesPause(t *testing.T) {
	aborted := rollout.Alert{Severity: "warning", Event: "aborted", Rollout: "r3", Model: "chat", Phase: sluice.PhaseAborted,
		Message: "rollout r3 of chat:v3 aborted by bob: not worth the wait", At: at,
		PauseClose: "the controller's pause of rollout r3 of chat:v3 is over: the rollout ended while paused (aborted by bob: not worth the wait)"}
	plain := aborted
	plain.PauseClose = ""
	for _, c := range []struct {
		name string
		hook rollout.Webhook
		a    rollout.Alert
		want bool
	}{
		{"PagerDutyDefault", rollout.Webhook{Format: "pagerduty"}, aborted, true},
		{"OpsgenieDefault", rollout.Webhook{Format: "opsgenie"}, aborted, true},
		{"PagerTakesPaused", rollout.Webhook{Format: "pagerduty", Events: []string{"paused"}}, aborted, true},
		{"PagerWithoutPaused", rollout.Webhook{Format: "pagerduty", Events: []string{"rolled_back", "aborted"}}, aborted, false},
		{"FloorHoldsNoClose", rollout.Webhook{Format: "opsgenie", Severity: "critical"}, aborted, true},
		{"NothingToClose", rollout.Webhook{Format: "pagerduty"}, plain, false},
		{"ChatKeepsNoIncident", rollout.Webhook{Format: "slack"}, aborted, false},
		{"JSONKeepsNoIncident", rollout.Webhook{}, aborted, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := c.hook.ClosesPause(c.a); got != c.want {
				t.Errorf("ClosesPause = %v", got)
			}
		})
	}

	t.Run("Posts", func(t *testing.T) {
		// The close first, then the abort itself where the hook takes it:
		// the abort's page (sluice/MODEL, sluice:MODEL) is opened, never
		// resolved, by an abort.
		pd, og, chat := newReceiver(t, http.StatusAccepted), newReceiver(t, http.StatusAccepted), newReceiver(t)
		send(t, []rollout.Webhook{
			{URL: pd.URL, Format: "pagerduty", RoutingKey: "k", Events: []string{"paused", "aborted"}},
			{URL: og.URL, Format: "opsgenie", APIKey: "og", Severity: "critical"},
			{URL: chat.URL, Format: "slack"},
		}, aborted)
		got := pd.got()
		if len(got) != 2 || mustJSON(t, got[0]) != `{"dedup_key":"sluice-paused/chat","event_action":"resolve","routing_key":"k"}` ||
			got[1]["event_action"] != "trigger" || got[1]["dedup_key"] != "sluice/chat" {
			t.Errorf("PagerDuty got %v", got)
		}
		reqs, bodies := og.requests(), og.got()
		if len(reqs) != 1 || reqs[0] != "POST /v2/alerts/sluice-paused:chat/close?identifierType=alias GenieKey og" ||
			mustJSON(t, bodies[0]) != `{"note":"the controller's pause of rollout r3 of chat:v3 is over: the rollout ended while paused (aborted by bob: not worth the wait)","source":"gw-1"}` {
			t.Errorf("Opsgenie got %v %v", reqs, bodies)
		}
		if got := chat.got(); len(got) != 1 || strings.Contains(fmt.Sprint(got[0]), "pause") {
			t.Errorf("Slack got %v, want the abort alone", got)
		}
	})
}

func TestWebhooks_Test(t *testing.T) {
	ok, broken := newReceiver(t, http.StatusAccepted), newReceiver(t, http.StatusInternalServerError)
	og, gchat := newReceiver(t, http.StatusAccepted), newReceiver(t, http.StatusOK)
	w := &rollout.Webhooks{Source: "gw-1", Hooks: []rollout.Webhook{
		{URL: ok.URL + "/services/T0/B0/SECRET", Format: "slack", Events: []string{"rolled_back"}},
		{URL: broken.URL + "/v2/enqueue", Format: "pagerduty", RoutingKey: "PDKEY-SECRET"},
		{URL: og.URL, Format: "opsgenie", APIKey: "OGKEY-SECRET", Events: []string{"rolled_back"}, Severity: "critical"},
		{URL: gchat.URL + "/v1/spaces/A/messages?key=SECRET", Format: "googlechat", Severity: "critical"},
	}}
	got := w.Test(context.Background(), rollout.Alert{Severity: "warning", Message: "a test from alice", At: at})
	if len(got) != 4 {
		t.Fatalf("%d deliveries", len(got))
	}
	if d := got[2]; !d.Delivered || d.Status != http.StatusAccepted || d.Format != "opsgenie" || d.Where != og.URL+"/…" {
		t.Errorf("the opsgenie receiver: %+v", d)
	}
	if d := got[3]; !d.Delivered || d.Format != "googlechat" || d.Where != gchat.URL+"/…" {
		t.Errorf("the googlechat receiver: %+v", d)
	}
	// Opsgenie's test alert has its own alias, not model test's
	// (sluice:test), and says it is a test.
	if b, reqs := og.got(), og.requests(); len(b) != 1 || reqs[0] != "POST /v2/alerts GenieKey OGKEY-SECRET" ||
		mustJSON(t, b[0]) != `{"alias":"sluice-test","description":"a test from alice","details":{"severity":"warning","test":"true"},"entity":"sluice",`+
			`"message":"TEST from sluice alert test (no rollout moved): a test from alice","priority":"P3","source":"gw-1","tags":["sluice","test","warning"]}` {
		t.Errorf("opsgenie test alert %v %v", reqs, b)
	}
	if b := gchat.got(); len(b) != 1 || b[0]["text"] != "⚠️ *TEST* a test from alice" {
		t.Errorf("googlechat test body %v", b)
	}
	if d := got[0]; !d.Delivered || d.Status != http.StatusAccepted || d.Index != 0 || d.Format != "slack" || d.Error != "" {
		t.Errorf("the receiver that answered 202: %+v", d)
	}
	if d := got[1]; d.Delivered || d.Status != http.StatusInternalServerError || d.Index != 1 || d.Format != "pagerduty" || !strings.Contains(d.Error, "500") {
		t.Errorf("the receiver that answered 500: %+v", d)
	}
	if s := mustJSON(t, got); strings.Contains(s, "SECRET") {
		t.Errorf("the deliveries show a secret: %s", s)
	}
	// One attempt each: the test does not wait out the retries.
	if n := len(broken.got()); n != 1 {
		t.Errorf("%d attempts at the broken receiver", n)
	}
	if b := ok.got(); len(b) != 1 || b[0]["text"] != ":warning: *TEST* a test from alice" {
		t.Errorf("slack test body %v", b)
	}
	pd := broken.got()[0]
	payload, _ := pd["payload"].(map[string]any)
	if pd["event_action"] != "trigger" || pd["dedup_key"] != rollout.PagerDutyTestDedupKey || payload["severity"] != "warning" ||
		!strings.HasPrefix(payload["summary"].(string), "TEST") || payload["custom_details"].(map[string]any)["test"] != true {
		t.Errorf("pagerduty test event %v", pd)
	}
}

// TestWebhooks_ErrorsNeverQuoteTheRoutingKey: a receiver that answers an
// error quoting what it was sent (a relay, a PagerDuty-compatible pager)
// had its answer, routing key and all, in the test's deliveries (the API's
// answer, the audit) and the gateway's log; the key is not repeated.
func TestWebhooks_ErrorsNeverQuoteTheRoutingKey(t *testing.T) {
	const key = "R0UT1NGKEY0123456789abcdef012345"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			RoutingKey string `json:"routing_key"`
		}
		json.NewDecoder(r.Body).Decode(&ev)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"status":"invalid event","errors":["no integration has routing key %s"]}`, ev.RoutingKey)
	}))
	defer echo.Close()
	var logs strings.Builder
	w := &rollout.Webhooks{Hooks: []rollout.Webhook{{URL: echo.URL, Format: "pagerduty", RoutingKey: key}},
		Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))}
	got := w.Test(context.Background(), rollout.Alert{Severity: "info", Message: "a test", At: at})
	if len(got) != 1 || got[0].Delivered || !strings.Contains(got[0].Error, "invalid event") {
		t.Fatalf("deliveries %+v, want the 400 with its answer", got)
	}
	if strings.Contains(got[0].Error, key) {
		t.Errorf("the delivery's error quotes the routing key: %s", got[0].Error)
	}
	w.Alert(context.Background(), rolledBack())
	w.Wait(context.Background())
	if s := logs.String(); !strings.Contains(s, "invalid event") || strings.Contains(s, key) {
		t.Errorf("the log, which must say the answer but not the routing key: %s", s)
	}
}

// TestWebhooks_ErrorsNeverQuoteTheAPIKey: an Opsgenie (or a relay) that
// answers an error quoting the Authorization it was sent: the key is in
// neither the test's deliveries nor the log.
func TestWebhooks_ErrorsNeverQuoteTheAPIKey(t *testing.T) {
	const key = "eb243592-faa2-4ba2-a551-1afdf565c889"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprintf(w, `{"message":"Key format is not valid: %s","took":0.001,"requestId":"x"}`, strings.TrimPrefix(r.Header.Get("Authorization"), "GenieKey "))
	}))
	defer echo.Close()
	var logs strings.Builder
	w := &rollout.Webhooks{Hooks: []rollout.Webhook{{URL: echo.URL, Format: "opsgenie", APIKey: key}},
		Logger: slog.New(slog.NewTextHandler(&syncWriter{w: &logs}, nil))}
	got := w.Test(context.Background(), rollout.Alert{Severity: "info", Message: "a test", At: at})
	if len(got) != 1 || got[0].Delivered || got[0].Status != http.StatusUnprocessableEntity || !strings.Contains(got[0].Error, "Key format is not valid: REDACTED") {
		t.Fatalf("deliveries %+v, want the 422 with its answer", got)
	}
	if s := mustJSON(t, got); strings.Contains(s, key) {
		t.Errorf("the deliveries quote the API key: %s", s)
	}
	w.Alert(context.Background(), rolledBack())
	w.Wait(context.Background())
	if s := logs.String(); !strings.Contains(s, "Key format is not valid") || strings.Contains(s, key) {
		t.Errorf("the log, which must say the answer but not the API key: %s", s)
	}
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

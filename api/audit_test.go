package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

func TestServer_Audit(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t) // at t0
	e.MustRegister(t, sluice.Version{Model: "embed", Version: "v1", Endpoints: []string{"http://127.0.0.1:9100"}})
	e.Clock.Set(t0.Add(time.Hour))
	if _, err := e.Oper.SetLabel(ctx, "chat", "canary", "v1.2.0", "try the beta build"); err != nil {
		t.Fatal(err)
	}
	e.Clock.Set(t0.Add(2 * time.Hour))
	if _, err := e.Oper.SetSplit(ctx, "chat", []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}, "", "half and half"); err != nil {
		t.Fatal(err)
	}

	actions := func(es []sluice.AuditEntry) string {
		var s []string
		for _, a := range es {
			s = append(s, a.Action+"@"+a.At.Sub(t0).String())
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		name string
		q    sluice.AuditQuery
		want string
	}{
		{"Model", sluice.AuditQuery{Model: "embed"}, "version.register@0s model.create@0s"},
		{"ActionPrefix", sluice.AuditQuery{Model: "chat", Action: "model."}, "model.policy@2h0m0s model.labels@1h0m0s model.create@0s"},
		{"Since", sluice.AuditQuery{Since: t0.Add(time.Hour)}, "model.policy@2h0m0s model.labels@1h0m0s"},
		{"UntilExclusive", sluice.AuditQuery{Since: t0.Add(time.Hour), Until: t0.Add(2 * time.Hour)}, "model.labels@1h0m0s"},
		{"Text", sluice.AuditQuery{Text: "beta"}, "model.labels@1h0m0s"},
		{"Actor", sluice.AuditQuery{Text: "otto"}, "model.policy@2h0m0s model.labels@1h0m0s"},
		{"Limit", sluice.AuditQuery{Limit: 1}, "model.policy@2h0m0s"},
		{"Ascending", sluice.AuditQuery{Model: "chat", Limit: 2, Ascending: true}, "model.create@0s version.register@0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, err := e.Viewer.Audit(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if got := actions(es); got != tc.want {
				t.Errorf("entries = %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("RelativeSince", func(t *testing.T) {
		// The server's clock is at t0+2h, so 90m ago is t0+30m.
		r := e.do(t, "GET", "/admin/v1/audit?since=90m&order=asc", viewerSecret, nil)
		r.want(t, http.StatusOK)
		if !strings.Contains(string(r.Body), `"model.labels"`) || strings.Contains(string(r.Body), `"version.register"`) {
			t.Errorf("since=90m answered %s", r.Body)
		}
	})
	t.Run("Entry", func(t *testing.T) {
		es, err := e.Viewer.Audit(ctx, sluice.AuditQuery{Action: "model.labels"})
		if err != nil || len(es) != 1 {
			t.Fatalf("entries = %+v, %v", es, err)
		}
		a := es[0]
		if a.Actor != "otto" || a.Model != "chat" || a.Reason != "try the beta build" || !strings.Contains(compact(t, a.After), `"canary":"v1.2.0"`) {
			t.Errorf("entry = %+v (after %s)", a, a.After)
		}
	})
}

// TestServer_AuditAt changes chat's routing at known times and asks what
// served it in between.
func TestServer_AuditAt(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	at := func(h, m int) time.Time { return t0.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	w := func(a, b float64) []sluice.Weight {
		return []sluice.Weight{{Version: "v1.0.0", Percent: a}, {Version: "v1.1.0", Percent: b}}
	}
	// 10:00 v1.0.0 in production, v1.1.0 in staging; policy latest.
	e.MustRegister(t, version("v1.0.0", sluice.StageProduction), version("v1.1.0", sluice.StageStaging))
	steps := []struct {
		at time.Time
		fn func() error
	}{
		{at(1, 0), func() error { // 11:00 split 90/10
			_, err := e.Oper.SetSplit(ctx, "chat", w(90, 10), "", "canary")
			return err
		}},
		{at(2, 0), func() error { // 12:00 split 50/50
			_, err := e.Oper.SetSplit(ctx, "chat", w(50, 50), "", "widen")
			return err
		}},
		{at(3, 0), func() error { // 13:00 v1.1.0 to production, policy latest
			if _, err := e.Oper.SetStage(ctx, "chat:v1.1.0", sluice.StageProduction, time.Time{}, "promote"); err != nil {
				return err
			}
			_, err := e.Oper.SetPolicy(ctx, "chat", sluice.Policy{Kind: sluice.PolicyLatest}, "done")
			return err
		}},
	}
	for _, s := range steps {
		e.Clock.Set(s.at)
		if err := s.fn(); err != nil {
			t.Fatal(err)
		}
	}
	// The questions are asked later, at 16:00: a time past the server's
	// clock is refused (TestAuditAt_FutureRefused).
	e.Clock.Set(at(6, 0))
	// Requests logged around 12:30: three to v1.0.0, two to v1.1.0, and
	// one outside the window.
	var rows []sluice.Observation
	for i, v := range []string{"v1.0.0", "v1.1.0", "v1.0.0", "v1.1.0", "v1.0.0"} {
		rows = append(rows, sluice.Observation{RequestID: "r" + v + string(rune('a'+i)), At: at(2, 28).Add(time.Duration(i) * time.Second), Model: "chat", Version: v, Route: "split", Endpoint: "/v1/chat/completions", Status: 200})
	}
	rows = append(rows, sluice.Observation{RequestID: "late", At: at(2, 40), Model: "chat", Version: "v1.0.0", Route: "split", Endpoint: "/v1/chat/completions", Status: 200})
	if err := e.Store.AppendRequests(ctx, rows); err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name, at    string
		want        time.Time // what tc.at means
		policy      string
		serving     string
		latest      string
		stageOfNext sluice.Stage
	}{
		{"BeforeSplit", "2026-11-22T10:30:00Z", at(0, 30), "latest (unpinned)", "v1.0.0", "v1.0.0", sluice.StageStaging},
		{"AtChange", "2026-11-22T11:00:00Z", at(1, 0), "split v1.0.0=90 v1.1.0=10", "v1.0.0 v1.1.0", "v1.0.0", sluice.StageStaging},
		{"JustBeforeChange", "2026-11-22T11:59:59Z", at(1, 59).Add(59 * time.Second), "split v1.0.0=90 v1.1.0=10", "v1.0.0 v1.1.0", "v1.0.0", sluice.StageStaging},
		{"NoZoneNoSeconds", "2026-11-22T12:30", at(2, 30), "split v1.0.0=50 v1.1.0=50", "v1.0.0 v1.1.0", "v1.0.0", sluice.StageStaging},
		{"OtherZone", "2026-11-22T13:30:00+01:00", at(2, 30), "split v1.0.0=50 v1.1.0=50", "v1.0.0 v1.1.0", "v1.0.0", sluice.StageStaging},
		{"AfterPromotion", "2026-11-22 15:00", at(5, 0), "latest (unpinned)", "v1.1.0", "v1.1.0", sluice.StageProduction},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The raw query, as a person types it, and the client's.
			r := e.do(t, "GET", "/admin/v1/audit/at?model=chat&at="+url.QueryEscape(tc.at), viewerSecret, nil)
			r.want(t, http.StatusOK)
			if !strings.Contains(string(r.Body), `"policy_text": "`+tc.policy+`"`) || !strings.Contains(string(r.Body), `"at": "`+tc.want.Format(time.RFC3339)+`"`) {
				t.Errorf("raw answer for at=%s: %s", tc.at, r.Body)
			}
			res, err := e.Viewer.AuditAt(ctx, "chat", tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if res.PolicyText != tc.policy || strings.Join(res.Serving, " ") != tc.serving || res.Latest != tc.latest || res.Stages["v1.1.0"] != tc.stageOfNext {
				t.Errorf("at %s: policy %q serving %v latest %q stages %v; want %q, %s, %s, v1.1.0 %s", tc.at, res.PolicyText, res.Serving, res.Latest, res.Stages, tc.policy, tc.serving, tc.latest, tc.stageOfNext)
			}
			if res.Since.After(res.At) || res.Entry.Model != "chat" {
				t.Errorf("routing set at %v by %+v, asked about %v", res.Since, res.Entry, res.At)
			}
		})
	}
	t.Run("RequestCounts", func(t *testing.T) {
		res, err := e.Viewer.AuditAt(ctx, "chat", at(2, 30))
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int64{}
		for _, c := range res.Requests {
			got[c.Version] = c.Count
		}
		if got["v1.0.0"] != 3 || got["v1.1.0"] != 2 || len(got) != 2 {
			t.Errorf("requests in [12:25, 12:35] = %v, want v1.0.0: 3, v1.1.0: 2", res.Requests)
		}
		if !res.WindowStart.Equal(at(2, 25)) || !res.WindowEnd.Equal(at(2, 35)) {
			t.Errorf("window = %v..%v", res.WindowStart, res.WindowEnd)
		}
	})
	t.Run("ErrBeforeModel", func(t *testing.T) {
		_, err := e.Viewer.AuditAt(ctx, "chat", t0.Add(-time.Minute))
		wantErr(t, err, sluice.CodeNotFound, []string{"at"}, "did not exist yet at 2026-11-22T09:59:00Z", "it was created at 2026-11-22T10:00:00Z; ask about a later time")
	})
	t.Run("ErrUnknownModel", func(t *testing.T) {
		_, err := e.Viewer.AuditAt(ctx, "nope", t0)
		wantErr(t, err, sluice.CodeNotFound, []string{"model"}, "no routing history", "sluice get models")
	})
	t.Run("ErrMissingParams", func(t *testing.T) {
		r := e.do(t, "GET", "/admin/v1/audit/at?model=chat", viewerSecret, nil)
		r.want(t, http.StatusUnprocessableEntity, "the time is missing", "&at=2026-11-22T14:00")
		r.wantFields(t, "at")
		r = e.do(t, "GET", "/admin/v1/audit/at?at=2026-11-22T14:00", viewerSecret, nil)
		r.want(t, http.StatusUnprocessableEntity, "the model is missing", "?model=NAME")
		r = e.do(t, "GET", "/admin/v1/audit/at?model=chat&at=noon", viewerSecret, nil)
		r.want(t, http.StatusBadRequest, `at: invalid time "noon"`, "2026-11-22T14:00")
	})
}

// compact returns raw JSON without spaces.
func compact(tb testing.TB, raw []byte) string {
	tb.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// TestServer_AuditAt_LongHistory: a model's routing was set once, then
// changed in other ways many times (its description, edited by a GitOps
// loop), and it has a long history before that too. sluice audit --at must
// name the routing in force and the change that set it, however many
// entries came in between: it used to look back only 50.
func TestServer_AuditAt_LongHistory(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t) // at t0
	split := []sluice.Weight{{Version: "v1.0.0", Percent: 50}, {Version: "v1.1.0", Percent: 50}}
	tick := t0
	step := func() { tick = tick.Add(time.Minute); e.Clock.Set(tick) }
	for i := range 30 { // an eventful past: the policy flips back and forth
		step()
		p := sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"}
		if i%2 == 1 {
			p.Version = "v1.1.0"
		}
		if _, err := e.Oper.SetPolicy(ctx, "chat", p, "flip"); err != nil {
			t.Fatal(err)
		}
	}
	step()
	if _, err := e.Oper.SetSplit(ctx, "chat", split, "", "half and half"); err != nil {
		t.Fatal(err)
	}
	setAt := tick
	for i := range 70 {
		step()
		doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{Name: "chat", Description: fmt.Sprintf("chat, edit %d", i)}}}
		if _, err := e.Admin.Apply(ctx, doc, "describe", false); err != nil {
			t.Fatal(err)
		}
	}
	res, err := e.Viewer.AuditAt(ctx, "chat", tick)
	if err != nil {
		t.Fatal(err)
	}
	if res.Policy.Kind != sluice.PolicySplit || !res.Since.Equal(setAt) || res.Entry.Action != "model.policy" || res.Entry.Reason != "half and half" {
		t.Fatalf("at %s: policy %s, in force since %s by %s (%s), want the split set at %s by model.policy (half and half)",
			tick.Format(time.RFC3339), res.PolicyText, res.Since.Format(time.RFC3339), res.Entry.Action, res.Entry.Reason, setAt.Format(time.RFC3339))
	}
	// Just before the split, the last flip (v1.1.0) was in force.
	res, err = e.Viewer.AuditAt(ctx, "chat", setAt.Add(-time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if res.PolicyText != "specific v1.1.0" || !res.Since.Equal(setAt.Add(-time.Minute)) {
		t.Fatalf("just before the split: policy %s since %s, want specific v1.1.0 since %s", res.PolicyText, res.Since.Format(time.RFC3339), setAt.Add(-time.Minute).Format(time.RFC3339))
	}
}

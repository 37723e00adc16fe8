package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// GET /admin/v1/usage sums the request log per key, per key and model, or
// per key, model and version, over the window asked, with its total; a
// viewer reads it.
func TestUsage(t *testing.T) {
	e := MustEnv(t)
	ctx := context.Background()
	obs := func(ago time.Duration, key, model, version, class string, in, out int) sluice.Observation {
		return sluice.Observation{At: t0.Add(-ago), Model: model, Version: version, ClientKey: key, ErrorClass: class,
			Status: 200, InputTokens: in, OutputTokens: out}
	}
	rows := []sluice.Observation{
		obs(time.Minute, "team-a", "chat", "v1", "", 10, 20),
		obs(2*time.Minute, "team-a", "chat", "v2", "timeout", 1, 0),
		obs(3*time.Minute, "team-a", "embed", "e1", "", 100, 0),
		obs(4*time.Minute, "team-b", "chat", "v1", "canceled", 5, 2),
		obs(5*time.Minute, "", "chat", "v2", "", 7, 8),            // an operator's token
		obs(30*time.Hour, "team-a", "chat", "v1", "", 1000, 1000), // before the window
	}
	retried := obs(time.Minute, "team-b", "chat", "v2", "upstream_5xx", 3, 0)
	retried.Retried = true // the client's request counts once, on the version that answered
	rows = append(rows, retried)
	for i := range rows {
		rows[i].RequestID = "req_test_" + string(rune('a'+i))
	}
	if err := e.Store.AppendRequests(ctx, rows); err != nil {
		t.Fatal(err)
	}
	day := sluice.RequestQuery{Since: t0.Add(-24 * time.Hour)}
	u := func(key, model, version string, n, errs, canceled, in, out int64) sluice.UsageRow {
		return sluice.UsageRow{ClientKey: key, Model: model, Version: version, Requests: n, Errors: errs, Canceled: canceled, InputTokens: in, OutputTokens: out}
	}
	for _, tc := range []struct {
		by   string
		q    sluice.RequestQuery
		want []sluice.UsageRow
	}{
		{"", day, []sluice.UsageRow{u("", "", "", 1, 0, 0, 7, 8), u("team-a", "", "", 3, 1, 0, 111, 20), u("team-b", "", "", 1, 0, 1, 5, 2)}},
		{"model", day, []sluice.UsageRow{u("", "chat", "", 1, 0, 0, 7, 8), u("team-a", "chat", "", 2, 1, 0, 11, 20), u("team-a", "embed", "", 1, 0, 0, 100, 0), u("team-b", "chat", "", 1, 0, 1, 5, 2)}},
		{"version", day, []sluice.UsageRow{u("", "chat", "v2", 1, 0, 0, 7, 8), u("team-a", "chat", "v1", 1, 0, 0, 10, 20), u("team-a", "chat", "v2", 1, 1, 0, 1, 0), u("team-a", "embed", "e1", 1, 0, 0, 100, 0), u("team-b", "chat", "v1", 1, 0, 1, 5, 2)}},
		{"key", sluice.RequestQuery{Since: day.Since, Model: "chat"}, []sluice.UsageRow{u("", "", "", 1, 0, 0, 7, 8), u("team-a", "", "", 2, 1, 0, 11, 20), u("team-b", "", "", 1, 0, 1, 5, 2)}},
		{"key", sluice.RequestQuery{ClientKey: "team-a"}, []sluice.UsageRow{u("team-a", "", "", 4, 1, 0, 1111, 1020)}},
		{"key", sluice.RequestQuery{ClientKey: "nobody"}, []sluice.UsageRow{}},
	} {
		got, err := e.Viewer.Usage(ctx, tc.q, tc.by)
		if err != nil {
			t.Fatalf("Usage(%+v, by %q): %v", tc.q, tc.by, err)
		}
		if !slices.Equal(got.Rows, tc.want) {
			t.Errorf("Usage(%+v, by %q):\n got  %+v\n want %+v", tc.q, tc.by, got.Rows, tc.want)
		}
		var total sluice.UsageRow
		for _, r := range tc.want {
			total.Add(r)
		}
		if got.Total != total {
			t.Errorf("Usage(%+v, by %q): total %+v, want %+v", tc.q, tc.by, got.Total, total)
		}
		if want := api.UsageByKey; tc.by != "" {
			want = tc.by
			if got.By != want {
				t.Errorf("by = %q, want %q", got.By, want)
			}
		} else if got.By != want {
			t.Errorf("by = %q, want %q", got.By, want)
		}
	}

	// The window: since as asked; until now when not given.
	r := e.do(t, "GET", "/admin/v1/usage?since=24h", viewerSecret, nil)
	var rep api.UsageReport
	if r.Status != http.StatusOK || json.Unmarshal(r.Body, &rep) != nil {
		t.Fatalf("GET /admin/v1/usage?since=24h: %d %s", r.Status, r.Body)
	}
	if rep.Since == nil || !rep.Since.Equal(t0.Add(-24*time.Hour)) || !rep.Until.Equal(t0) {
		t.Errorf("window %v to %v, want %v to %v", rep.Since, rep.Until, t0.Add(-24*time.Hour), t0)
	}
	r = e.do(t, "GET", "/admin/v1/usage?until=2026-11-22T09:58:30Z", viewerSecret, nil)
	rep = api.UsageReport{}
	if json.Unmarshal(r.Body, &rep) != nil || rep.Since != nil || !rep.Until.Equal(t0.Add(-90*time.Second)) || rep.Total.Requests != 5 {
		t.Errorf("until 90 s ago, no since: %s", r.Body)
	}

	// Bad input: a clear error naming the parameter.
	for _, tc := range []struct{ query, field, says string }{
		{"?by=team", "by", "use key, model or version"},
		{"?key=Bearer%20sk-abc123", "key", "never its secret"},
		{"?since=yesterday", "since", "invalid time"},
		{"?since=2026-11-22T12:00:00Z&until=2026-11-22T11:00:00Z", "until", "swap them"},
		{"?model=chat%20bot", "model", ""},
	} {
		r := e.do(t, "GET", "/admin/v1/usage"+tc.query, viewerSecret, nil)
		if r.Status < 400 || r.Status >= 500 {
			t.Errorf("%s: status %d, want a 4xx: %s", tc.query, r.Status, r.Body)
			continue
		}
		r.wantFields(t, tc.field)
		r.want(t, r.Status, tc.says)
		if strings.Contains(string(r.Body), "sk-abc123") {
			t.Errorf("%s: the answer repeats the secret: %s", tc.query, r.Body)
		}
	}
}

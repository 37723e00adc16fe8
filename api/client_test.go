package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 22, 15, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"", time.Time{}},
		{"2026-11-22T14:00:00Z", time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)},
		{"2026-11-22T14:00:00.5Z", time.Date(2026, 11, 22, 14, 0, 0, 5e8, time.UTC)},
		{"2026-11-22T14:00", time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)},
		{"2026-11-22T14:00:30", time.Date(2026, 11, 22, 14, 0, 30, 0, time.UTC)},
		{"2026-11-22 14:00", time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)},
		{"2026-11-22T14:00+02:00", time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)},
		{"2026-11-22T14:00:00 02:00", time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)}, // '+' lost in a query
		{"2026-11-22", time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)},
		{"90m", now.Add(-90 * time.Minute)},
		{"7d", now.Add(-7 * 24 * time.Hour)},
		// A time of day alone is today's, in UTC, as journalctl reads one:
		// "what happened at 14:00" needs no date typed (but see below).
		{"14:00", time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)},
		{"09:05:30", time.Date(2026, 11, 22, 9, 5, 30, 0, time.UTC)},
		{"14:00:00.25", time.Date(2026, 11, 22, 14, 0, 0, 25e7, time.UTC)},
		// Later today, up to 12 hours ahead: still today's (a window not
		// over yet, --until 15:05 at 15:00; nothing served after now).
		{"23:30", time.Date(2026, 11, 22, 23, 30, 0, 0, time.UTC)},
		{"15:01:01", time.Date(2026, 11, 22, 15, 1, 1, 0, time.UTC)},
	} {
		got, err := api.ParseTime(tc.in, now)
		if err != nil || !got.Equal(tc.want) || got.Location() != time.UTC {
			t.Errorf("ParseTime(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	// A time of day is the nearest of today's and yesterday's: just after
	// midnight UTC the evening before is yesterday's. Read as today's, an
	// on-call at 00:30 asking "--since 23:50" got an empty list, "--since
	// 23:50 --until 00:10" was told to swap them, and "--at 23:50" that it
	// was in the future.
	for _, tc := range []struct {
		now, in string
		want    time.Time
	}{
		{"00:30", "23:50", time.Date(2026, 11, 22, 23, 50, 0, 0, time.UTC)},
		{"00:30", "00:10", time.Date(2026, 11, 23, 0, 10, 0, 0, time.UTC)},
		{"00:30", "00:31", time.Date(2026, 11, 23, 0, 31, 0, 0, time.UTC)},
		{"00:30", "12:30", time.Date(2026, 11, 23, 12, 30, 0, 0, time.UTC)},    // 12 h ahead: today's
		{"00:30", "12:30:01", time.Date(2026, 11, 22, 12, 30, 1, 0, time.UTC)}, // past 12 h: yesterday's
		{"03:00", "16:00", time.Date(2026, 11, 22, 16, 0, 0, 0, time.UTC)},
		{"14:02", "14:05", time.Date(2026, 11, 23, 14, 5, 0, 0, time.UTC)},
	} {
		at, _ := time.Parse("15:04", tc.now)
		now := time.Date(2026, 11, 23, at.Hour(), at.Minute(), 0, 0, time.UTC)
		if got, err := api.ParseTime(tc.in, now); err != nil || !got.Equal(tc.want) {
			t.Errorf("at %s, ParseTime(%q) = %v, %v; want %v", tc.now, tc.in, got, err, tc.want)
		}
	}
	// now in another zone: the day and the comparison are UTC's.
	pst := time.Date(2026, 11, 23, 0, 30, 0, 0, time.UTC).In(time.FixedZone("PST", -8*3600)) // 16:30 on the 22nd there
	if got, _ := api.ParseTime("23:50", pst); !got.Equal(time.Date(2026, 11, 22, 23, 50, 0, 0, time.UTC)) {
		t.Errorf("with now in PST, ParseTime(23:50) = %v, want 2026-11-22 23:50 UTC", got)
	}
	for _, in := range []string{"noon", "-1h", "2026-13-01", "1w", "25:00", "14:60", "14"} {
		_, err := api.ParseTime(in, now)
		wantErr(t, err, sluice.CodeBadRequest, nil, "invalid time", "use RFC 3339")
	}
}

func TestClient_Errors(t *testing.T) {
	ctx := context.Background()
	t.Run("NotJSON", func(t *testing.T) {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "upstream proxy says no", http.StatusBadGateway)
		}))
		defer hs.Close()
		_, err := (&api.Client{BaseURL: hs.URL}).Models(ctx)
		wantErr(t, err, sluice.CodeUpstream, nil, "502 Bad Gateway: upstream proxy says no", "points at a sluice server")
	})
	// --server on a model server's port (vLLM's, or sluice fakellm's): its
	// 404 is OpenAI-shaped, so the CLI printed only "fakellm: no such
	// endpoint: /admin/v1/models", as if Sluice had said it. An error whose
	// code is none of Sluice's is another server's, and is said so.
	t.Run("OpenAIShapedNotSluice", func(t *testing.T) {
		hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"error":{"message":"fakellm: no such endpoint: /admin/v1/models","type":"invalid_request_error","param":null,"code":null}}`))
		}))
		defer hs.Close()
		_, err := (&api.Client{BaseURL: hs.URL}).Models(ctx)
		wantErr(t, err, sluice.CodeNotFound, nil, "404 Not Found: fakellm: no such endpoint: /admin/v1/models", "points at a sluice server")
	})
	t.Run("Unreachable", func(t *testing.T) {
		hs := httptest.NewServer(http.NotFoundHandler())
		url := hs.URL
		hs.Close()
		_, err := (&api.Client{BaseURL: url}).Models(ctx)
		wantErr(t, err, sluice.CodeUnavailable, nil, "cannot reach the sluice server at "+url, "that the server runs")
	})
	t.Run("ServerError", func(t *testing.T) {
		e := MustEnv(t)
		_, err := (&api.Client{BaseURL: e.URL + "/"}).WhoAmI(ctx)
		wantErr(t, err, sluice.CodeUnauthorized, nil, "send Authorization: Bearer <token>")
	})
}

func TestServer_Requests(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)
	rows := []sluice.Observation{
		{RequestID: "req-1", At: t0.Add(time.Minute), Model: "chat", Version: "v1.0.0", Route: "policy", Endpoint: "/v1/chat/completions", Status: 200, Latency: 120 * time.Millisecond},
		{RequestID: "req-2", At: t0.Add(2 * time.Minute), Model: "chat", Version: "v1.1.0", Route: "split", Endpoint: "/v1/chat/completions", Status: 502, ErrorClass: "upstream_5xx", ClientKey: "team-a"},
		{RequestID: "req-3", At: t0.Add(3 * time.Minute), Model: "chat", Version: "v1.1.0", Route: "split", Endpoint: "/v1/chat/completions", Status: 200, ClientKey: "team-b"},
	}
	if err := e.Store.AppendRequests(ctx, rows); err != nil {
		t.Fatal(err)
	}
	ids := func(os []sluice.Observation) string {
		s := ""
		for _, o := range os {
			s += o.RequestID + " "
		}
		return s
	}
	for _, tc := range []struct {
		name string
		q    sluice.RequestQuery
		want string
	}{
		{"All", sluice.RequestQuery{}, "req-3 req-2 req-1 "},
		{"Version", sluice.RequestQuery{Model: "chat", Version: "v1.1.0"}, "req-3 req-2 "},
		{"RequestID", sluice.RequestQuery{RequestID: "req-1"}, "req-1 "},
		{"Window", sluice.RequestQuery{Since: t0.Add(2 * time.Minute), Until: t0.Add(3 * time.Minute)}, "req-2 "},
		{"Limit", sluice.RequestQuery{Limit: 1}, "req-3 "},
		{"ClientKey", sluice.RequestQuery{ClientKey: "team-a"}, "req-2 "},
		{"ClientKeyAndVersion", sluice.RequestQuery{ClientKey: "team-b", Version: "v1.0.0"}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := e.Viewer.Requests(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if ids(got) != tc.want {
				t.Errorf("requests = %s, want %s", ids(got), tc.want)
			}
		})
	}
	got, _ := e.Viewer.Requests(ctx, sluice.RequestQuery{RequestID: "req-2"})
	if len(got) != 1 || got[0].ErrorClass != "upstream_5xx" || got[0].Status != 502 || got[0].ClientKey != "team-a" {
		t.Errorf("row = %+v", got)
	}
	// A key filter that is no key name is refused, naming the parameter.
	_, err := e.Viewer.Requests(ctx, sluice.RequestQuery{ClientKey: "Bearer sk-team-a"})
	if err == nil || !strings.Contains(err.Error(), "key") || !strings.Contains(err.Error(), "never its secret") {
		t.Errorf("a key filter with a space: %v, want an error naming key", err)
	}
}

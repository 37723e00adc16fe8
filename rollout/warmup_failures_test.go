package rollout_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestValidate_WarmupMaxFailures: an allowance of failed warm-up requests
// that cannot work is refused, naming the key and the flag: a negative
// one, one on a warm-up that sends no requests, and one letting every
// request fail (a candidate that never answered would pass).
func TestValidate_WarmupMaxFailures(t *testing.T) {
	for _, tc := range []struct {
		name   string
		warmup sluice.WarmupSpec
		want   string // "" for valid
	}{
		{"NoneByDefault", sluice.WarmupSpec{}, ""},
		{"OneOfDefaultFive", sluice.WarmupSpec{MaxFailures: 1}, ""},
		{"AllButOne", sluice.WarmupSpec{Requests: 10, MaxFailures: 9}, ""},
		{"ErrNegative", sluice.WarmupSpec{MaxFailures: -1}, "warmup.max_failures -1 cannot be negative"},
		{"ErrAllOfDefaultFive", sluice.WarmupSpec{MaxFailures: 5}, "warmup.max_failures 5 must be below the warm-up's 5 requests"},
		{"ErrMoreThanRequests", sluice.WarmupSpec{Requests: 2, MaxFailures: 7}, "warmup.max_failures 7 must be below the warm-up's 2 requests"},
		{"ErrSkipped", sluice.WarmupSpec{Skip: true, MaxFailures: 1}, "a skipped warm-up sends no requests to fail"},
		{"SkippedWithout", sluice.WarmupSpec{Skip: true}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := sluice.RolloutSpec{Model: "chat", Candidate: "v2", Baseline: "v1", Strategy: sluice.StrategyCanary, Warmup: tc.warmup}
			err := rollout.Validate(rollout.WithDefaults(spec))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want == "":
				return
			case err == nil:
				t.Fatalf("accepted; want %q", tc.want)
			case !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--warmup-max-failures"):
				t.Errorf("error %q; want %q, naming --warmup-max-failures", err, tc.want)
			}
			if se, ok := err.(*sluice.Error); !ok || se.Code != sluice.CodeInvalid || len(se.Fields) != 1 || se.Fields[0] != "warmup.max_failures" {
				t.Errorf("error %#v; want invalid, field warmup.max_failures", err)
			}
		})
	}
}

// flakyStart is a backend whose first warm-up requests fail: fail of them
// with 500, then drop of them with the connection closed before an answer.
type flakyStart struct {
	fail, drop atomic.Int32
	got        atomic.Int32 // warm-up requests received
}

func (b *flakyStart) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Sluice-Warmup") == "" {
		return // the readiness check
	}
	b.got.Add(1)
	if b.fail.Add(-1) >= 0 {
		http.Error(w, `{"error": {"message": "model loading"}}`, http.StatusServiceUnavailable)
		return
	}
	if b.drop.Add(-1) >= 0 {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close()
		return
	}
	fmt.Fprint(w, `{"choices": [{"message": {"content": "hi"}}]}`)
}

// TestHTTPWarmer_WarmReport: the warm-up's failed requests (an error
// status, or a connection closed with no answer) count against
// warmup.max_failures; within it the warm-up passes and says how many
// failed, past it the warm-up ends at once, naming the allowance.
func TestHTTPWarmer_WarmReport(t *testing.T) {
	for _, tc := range []struct {
		name       string
		fail, drop int32
		max        int
		wantErr    string // "" for a pass
		wantNote   string
		wantSent   int32
	}{
		{"OK", 0, 0, 1, "", "none of 5 warm-up requests failed (warmup.max_failures 1)", 5},
		{"ErrNoAllowance", 1, 0, 0, "warm-up request 1 of 5 to URL answered 503 (warmup.max_failures is 0: raise it", "", 1},
		{"WithinAllowance", 1, 0, 1, "", "1 of 5 warm-up requests failed, within warmup.max_failures 1 (request 1 to URL answered 503)", 5},
		{"DroppedWithinAllowance", 0, 2, 2, "", "2 of 5 warm-up requests failed, within warmup.max_failures 2 (request 1 to URL failed: ", 5},
		{"ErrPastAllowance", 2, 1, 2, "warm-up request 3 of 5 to URL failed: ", "", 3},
		{"ErrPastAllowanceNamed", 2, 1, 2, "3 warm-up requests failed, more than warmup.max_failures 2 allows (the first: request 1 to URL answered 503)", "", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &flakyStart{}
			b.fail.Store(tc.fail)
			b.drop.Store(tc.drop)
			srv := httptest.NewServer(b)
			defer srv.Close()
			v := &sluice.Version{Model: "chat", Version: "v2", Endpoints: []string{srv.URL}}
			res, err := (&rollout.HTTPWarmer{}).WarmReport(context.Background(), v, sluice.WarmupSpec{Requests: 5, MaxFailures: tc.max})
			want := strings.ReplaceAll(tc.wantErr, "URL", srv.URL)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("failed: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), want)):
				t.Fatalf("error %v; want %q", err, want)
			}
			if note := strings.ReplaceAll(tc.wantNote, "URL", srv.URL); err == nil && !strings.HasPrefix(res.Note(tc.max), note) {
				t.Errorf("note %q; want %q", res.Note(tc.max), note)
			}
			if n := b.got.Load(); n != tc.wantSent {
				t.Errorf("the backend got %d warm-up requests; want %d", n, tc.wantSent)
			}
		})
	}
}

// TestHTTPWarmer_WarmReportStopped: a warm-up stopped (an abort, or its
// five minutes out) while a request waits ends at once, whatever its
// allowance, saying which request was cut off: the stop is no failure of
// the candidate's, and sending the others only to have them fail at once
// blamed the candidate's requests for it ("5 failed, more than 4").
func TestHTTPWarmer_WarmReportStopped(t *testing.T) {
	arrived := make(chan struct{}, 10)
	var got atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sluice-Warmup") == "" {
			return
		}
		io.Copy(io.Discard, r.Body) // then the server notices a client that leaves
		got.Add(1)
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	v := &sluice.Version{Model: "chat", Version: "v2", Endpoints: []string{srv.URL}}
	_, err := (&rollout.HTTPWarmer{}).WarmReport(ctx, v, sluice.WarmupSpec{Requests: 5, MaxFailures: 4})
	if err == nil {
		t.Fatal("a stopped warm-up passed")
	}
	if !strings.HasPrefix(err.Error(), "warm-up request 1 of 5 to "+srv.URL+" failed: ") || strings.Contains(err.Error(), "max_failures") {
		t.Errorf("error %q; want the request the stop cut off, not the allowance", err)
	}
	if n := got.Load(); n != 1 {
		t.Errorf("the backend got %d warm-up requests after the stop; want only the 1 cut off", n)
	}
}

// TestHTTPWarmer_WarmReportRefused: a 4xx is the warm-up request's own
// fault (a model name the backend does not serve, credentials it refuses),
// which every request meets alike: it ends the warm-up at once whatever the
// allowance, saying what the backend said and what to check, not "raise
// warmup.max_failures" (nor, past the allowance, "more than it allows",
// after sending the candidate requests it had already refused). A 429 or
// 408 is a busy or slow backend, which may pass: the allowance covers it.
func TestHTTPWarmer_WarmReportRefused(t *testing.T) {
	for _, tc := range []struct {
		name     string
		status   int
		max      int
		wantErr  []string // "" for a pass
		wantSent int32
	}{
		{"UnknownModel", 404, 2, []string{"warm-up request 1 of 5 to URL answered 404 (The model `chat:v2` does not exist.)", "upstream_model", `"chat:v2"`}, 1},
		{"UnknownModelNoAllowance", 404, 0, []string{"warm-up request 1 of 5 to URL answered 404 (The model `chat:v2` does not exist.)", "upstream_model"}, 1},
		{"Unauthorized", 401, 2, []string{"warm-up request 1 of 5 to URL answered 401", "backends"}, 1},
		{"BusyWithinAllowance", 429, 1, nil, 5},
		{"TimeoutWithinAllowance", 408, 1, nil, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("X-Sluice-Warmup") == "" {
					return
				}
				if got.Add(1) == 1 || tc.status < 408 || tc.status > 429 {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tc.status)
					// vLLM's answer to a model name it does not serve.
					fmt.Fprint(w, `{"object":"error","message":"The model `+"`chat:v2`"+` does not exist.","type":"NotFoundError","param":null,"code":`+fmt.Sprint(tc.status)+`}`)
					return
				}
				fmt.Fprint(w, `{"choices": [{"message": {"content": "hi"}}]}`)
			}))
			defer srv.Close()
			v := &sluice.Version{Model: "chat", Version: "v2", Endpoints: []string{srv.URL}}
			_, err := (&rollout.HTTPWarmer{}).WarmReport(context.Background(), v, sluice.WarmupSpec{Requests: 5, MaxFailures: tc.max})
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("failed: %v", err)
			case tc.wantErr != nil && err == nil:
				t.Fatal("passed")
			}
			for _, w := range tc.wantErr {
				if w = strings.ReplaceAll(w, "URL", srv.URL); !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if err != nil && (strings.Contains(err.Error(), "raise it") || strings.Contains(err.Error(), "allows")) {
				t.Errorf("error %q asks for more allowance, which would not help", err)
			}
			if n := got.Load(); n != tc.wantSent {
				t.Errorf("the backend got %d warm-up requests; want %d", n, tc.wantSent)
			}
		})
	}
}

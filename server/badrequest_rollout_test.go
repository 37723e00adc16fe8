package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// staticURL is a backend known by its URL alone (urlServer).
type staticURL string

func (u staticURL) URL() string { return string(u) }

// lenientJSON is a backend in front of target whose parser takes a request
// body that is not JSON (it answers as if the client had sent a good
// chat request), as some backends' parsers do: a stable version behind
// one answers what a stricter candidate refuses.
func lenientJSON(t *testing.T, target string) staticURL {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			if !json.Valid(b) {
				b = []byte(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`)
			}
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(b)), int64(len(b))
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return staticURL(srv.URL)
}

// TestRollout_MalformedBodiesNotCandidateErrors: clients sending bodies
// broken after their model (a missing comma) while a candidate takes half
// the traffic, its backend refusing them with a 400 where the stable
// version's takes them, do not roll the candidate back: each such attempt
// is logged as bad_request, counted apart from the version's requests
// (not an error), and its client gets the backend's own 400.
func TestRollout_MalformedBodiesNotCandidateErrors(t *testing.T) {
	cand := MustBackend(t, fakellm.Config{Seed: 7})
	stable := lenientJSON(t, MustBackend(t, fakellm.Config{}).URL())
	gw, cl := startRolloutGateway(t, "", stable, cand)
	spec := fastSpec("v1.1.0")
	// Half the traffic; the analysis runs while the stage holds.
	spec.Stages = []sluice.RolloutStage{{Percent: 50, Hold: sluice.Duration(time.Hour), MinSamples: 30}, {Percent: 100}}
	spec.Analysis.Thresholds.LatencyRel = 10 // stable's backend is behind a second proxy
	began := time.Now()
	if _, err := cl.StartRollout(context.Background(), spec, "ship the stricter server"); err != nil {
		t.Fatal(err)
	}
	l := startLoad(t, gw.URL(), 4)

	var wrong atomic.Value // the first unexpected answer to a malformed body
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	for w := range 2 {
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"model":"chat","user":"m-%d-%d","messages":[{"role":"user" "content":"hi"}]}`, w, i%200)
				resp, err := http.Post(gw.URL()+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err != nil {
					wrong.CompareAndSwap(nil, err.Error())
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch v := resp.Header.Get("X-Model-Version"); {
				case v == "chat:v1.1.0" && (resp.StatusCode != 400 || !strings.Contains(string(b), "fakellm: invalid request body")):
					wrong.CompareAndSwap(nil, fmt.Sprintf("the candidate's client got %d %s; want the backend's 400", resp.StatusCode, b))
				case v == "chat:v1.0.0" && resp.StatusCode != 200:
					wrong.CompareAndSwap(nil, fmt.Sprintf("the stable version's client got %d %s", resp.StatusCode, b))
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()

	// Enough malformed bodies reached the candidate to fail any error
	// threshold, then the analysis ran ten more times.
	deadline := time.Now().Add(60 * time.Second)
	for {
		w := gw.Recorder.Window("chat", "v1.1.0", "", began.Add(-time.Minute))
		if w.BadRequest >= 100 && w.Requests >= 100 {
			break
		}
		st, _ := cl.Rollout(context.Background(), "chat")
		if !st.Rollout.Phase.Active() || time.Now().After(deadline) {
			t.Fatalf("rollout %s (%s) with the candidate's window at %d requests, %d errors, %d bad_request; want it active, the malformed bodies apart",
				st.Rollout.Phase, st.Rollout.Decision, w.Requests, w.Errors, w.BadRequest)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second)
	st, err := cl.Rollout(context.Background(), "chat")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Rollout.Phase.Active() || st.Rollout.StageIndex != 0 {
		t.Fatalf("rollout %s at stage %d (%s); want it still in its first stage", st.Rollout.Phase, st.Rollout.StageIndex, st.Rollout.Decision)
	}
	w := gw.Recorder.Window("chat", "v1.1.0", "", began.Add(-time.Minute))
	if w.Errors != 0 || w.Canceled() != 0 {
		t.Errorf("the candidate's window: %d requests, %d errors, %d canceled, %d bad_request; want the malformed bodies apart, neither errors nor cancels", w.Requests, w.Errors, w.Canceled(), w.BadRequest)
	}
	if v := wrong.Load(); v != nil {
		t.Error(v)
	}
	l.finish()
	if f := l.failed.Load(); f != 0 {
		t.Errorf("%d of %d good requests failed", f, l.sent.Load())
	}

	// The request log says so too: no failed row for the candidate, and
	// the refused attempts under their class.
	rows, err := cl.Requests(context.Background(), sluice.RequestQuery{Model: "chat", Version: "v1.1.0", Failed: true, Limit: 10})
	if err != nil || len(rows) != 0 {
		t.Errorf("the candidate's failed rows: %d (%v), want none: %+v", len(rows), err, rows)
	}
	var bad int
	for deadline := time.Now().Add(5 * time.Second); bad == 0 && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		rows, err := cl.Requests(context.Background(), sluice.RequestQuery{Model: "chat", Version: "v1.1.0", Limit: 10000})
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range rows {
			if o.ErrorClass == sluice.ClassBadRequest && o.Status == 400 {
				bad++
			}
		}
	}
	if bad == 0 {
		t.Error("no request log row of the candidate has the class bad_request and the status 400")
	}
	t.Logf("candidate window: %d requests, %d bad_request; %d request log rows bad_request", w.Requests, w.BadRequest, bad)
}

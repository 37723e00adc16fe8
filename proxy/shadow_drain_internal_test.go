package proxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/route"
)

// sentTo is a transport that remembers the hosts it was handed requests
// for, then sends them on with net/http's own.
type sentTo struct {
	mu    sync.Mutex
	hosts []string
}

func (s *sentTo) RoundTrip(r *http.Request) (*http.Response, error) {
	s.mu.Lock()
	s.hosts = append(s.hosts, r.URL.Host)
	s.mu.Unlock()
	return http.DefaultTransport.RoundTrip(r)
}

func (s *sentTo) count(host string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, h := range s.hosts {
		if h == host {
			n++
		}
	}
	return n
}

// TestRunShadow_CountedBeforeStopCheck: a mirrored request checked that
// its shadow was still on, then counted itself in flight to the candidate.
// A rollback that stopped the shadow and read the candidate's count in
// between (the local drain, or the beat that publishes the count to the
// fleet's drain right after the shadow stops) found 0 and let the unload
// webhook go, and the mirror then went to the candidate anyway: the
// proxy's own client does not look at the cancelled context before
// writing on a kept-alive connection. The interleaving is forced by
// holding the lock the first count of a version takes; the transport
// records whether the mirror was handed on to the candidate at all.
func TestRunShadow_CountedBeforeStopCheck(t *testing.T) {
	_, cand, _, after := gapBackends(t)
	tr := &sentTo{}
	p := New(Options{Routes: route.NewHolder(after), Transport: tr})
	srv := httptest.NewServer(p)
	t.Cleanup(func() { p.Close(); srv.Close() })
	candHost := strings.TrimPrefix(cand.URL(), "http://")

	post := func(model string) string {
		t.Helper()
		resp, err := http.Post(srv.URL+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"`+model+`","messages":[{"role":"user","content":"hi"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.Header.Get("X-Model-Version")
	}
	// The table serves stable; its count exists before the lock is held.
	if v := post("chat"); v != "chat:v1" {
		t.Fatalf("fixture: served by %q, want chat:v1", v)
	}
	p.SetShadow("chat", "chat:v2", 1)

	p.inflight.Lock()
	locked := true
	defer func() {
		if locked {
			p.inflight.Unlock()
		}
	}()
	post("chat") // answered by stable, mirrored to the candidate
	waitBlockedIn(t, "(*inflight).counter")
	// The rollback: the shadow stops, and the drain finds nothing in
	// flight to the candidate.
	p.SetShadow("chat", "", 0)
	if n := p.InFlight("chat:v2"); n != 0 {
		t.Fatalf("in flight to the candidate = %d before the mirror counted itself", n)
	}
	sentBefore := tr.count(candHost)
	p.inflight.Unlock()
	locked = false

	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
		if st := p.ShadowStats(); st.Completed+st.Skipped == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the mirrored request never ended: %+v", p.ShadowStats())
		}
	}
	if got := tr.count(candHost) - sentBefore; got != 0 {
		t.Errorf("the mirror went to the candidate (%d request) after the shadow stopped and its drain read 0 in flight", got)
	}
	if n := p.InFlight("chat:v2"); n != 0 {
		t.Errorf("in flight to the candidate after the mirror ended = %d", n)
	}
}

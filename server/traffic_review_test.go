package server_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// deadURL returns the base URL of a backend that was started and stopped:
// its port refuses connections, as a crashed model server's does.
func deadURL(t *testing.T) string {
	t.Helper()
	b := fakellm.New(fakellm.Config{})
	if err := b.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	u := b.URL()
	b.Close()
	return u
}

// waitUntil polls check, which reports whether what it looks for was found
// and holds, until it does or 20 s have passed.
func waitUntil(t *testing.T, check func() (bool, bool), what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if found, ok := check(); found && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestHealthCheckedDeadEndpointStillGetsTraffic: a user runs a
// version on two replicas (endpoints [good, dead]); one replica crashes. The
// health checker probes every endpoint and knows the dead one fails (it
// counts failures per endpoint), but the version stays "healthy" because
// one endpoint answers, and the round-robin keeps sending every other
// request to the dead endpoint. Under a single-version policy the stable
// retry is the same version, so about half of the clients' requests fail
// with 502 "cannot be reached" although a working replica is there.
// Expected: once health checks mark an endpoint down, requests go to the
// version's endpoints that are up (as nginx's upstream and Envoy's health
// checking do), so every request succeeds.
func TestHealthCheckedDeadEndpointStillGetsTraffic(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	dead := deadURL(t)
	doc := sluice.ApplyDoc{Models: []sluice.ApplyModel{{
		Name: "chat",
		Versions: []sluice.Version{
			{Version: "v1.0.0", Endpoints: []string{good.URL(), dead}, Stage: sluice.StageProduction},
			// A second version on the dead endpoint alone, so the test
			// can see when the health checker has found the endpoint down.
			{Version: "v0.9.0", Endpoints: []string{dead}, Stage: sluice.StageProduction},
		},
		Policy: &sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.0.0"},
	}}}
	gw, _ := MustGateway(t, "", doc)
	waitUntil(t, func() (bool, bool) {
		for _, m := range gw.Routes.Load().Models() {
			for _, v := range m.Versions {
				if v.Version == "v0.9.0" {
					return true, !v.Healthy
				}
			}
		}
		return false, false
	}, "the health checker to mark the dead endpoint down")

	failed := 0
	var last string
	for i := 0; i < 20; i++ {
		req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			failed++
			last = resp.Status + " " + string(b)
		}
	}
	if failed > 0 {
		t.Errorf("%d of 20 requests failed although chat:v1.0.0 has a healthy endpoint and the health checker found the other one down; last: %s", failed, last)
	}
}

// recordingBackend answers every chat request and hands the headers of
// each request to got.
func recordingBackend(t *testing.T, got chan<- http.Header) string {
	t.Helper()
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			return
		}
		io.Copy(io.Discard, r.Body)
		select {
		case got <- r.Header.Clone():
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"id":"x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hello"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`)
	}))
	t.Cleanup(be.Close)
	return be.URL
}

// TestForceHeaderLeaksAdminTokenToBackend: an operator tests a
// version with the force header, which the gateway honours only with an
// operator or admin token in Authorization (README: "honoured only for
// callers presenting an operator or admin token"). The gateway forwards
// that Authorization header, the gateway's own admin credential, to the
// model backend (and to a shadow candidate when mirrored): anyone running
// or sniffing a model server gets a token that can change the routing of
// every model. With client keys configured the gateway removes the header
// ("so the key never reaches a backend"); without them it does not.
// Expected: a secret the gateway consumed as its own admin token is not
// sent to backends.
func TestForceHeaderLeaksAdminTokenToBackend(t *testing.T) {
	got := make(chan http.Header, 16)
	u := recordingBackend(t, got)
	gw, admin := MustGateway(t, "", chatDoc(map[string]string{"v1.0.0": u}, nil, nil))
	req, _ := http.NewRequest("POST", gw.URL()+"/v1/chat/completions", strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	req.Header.Set("X-Sluice-Version", "v1.0.0")
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("forced request: status %d", resp.StatusCode)
	}
	var h http.Header
	select {
	case h = <-got:
	case <-time.After(10 * time.Second):
		t.Fatal("the backend saw no request")
	}
	if a := h.Get("Authorization"); strings.Contains(a, admin) {
		t.Errorf("the backend received the gateway's admin token: Authorization: %q", a)
	}
}

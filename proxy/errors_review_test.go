package proxy_test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/proxy"
)

// What the user does: a client of the gateway (an application team, or the
// public, behind an API key) sends a request while the backend of the
// version it is routed to is down.
// What happens now: the 502's message, sent to the client, carries the
// dial error verbatim: "the backend for chat:v1 cannot be reached (dial tcp
// 10.0.0.7:8000: connect: connection refused)", so every API consumer
// learns the internal address and port of each model server (nginx and
// LiteLLM answer a generic 502; the proxy already strips socket addresses
// from the errors of a client's own body read, bodyErrText).
// What should happen: the message names the version and what to do, and
// the backend's address stays in the gateway's log and metrics.
func TestBackendDownErrorHidesBackendAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now: connection refused
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, "http://"+addr, ""), NoRetry: true})
	resp, body := post(t, url, "/v1/chat/completions", `{"model":"chat:v1","messages":[{"role":"user","content":"hi"}]}`)
	if resp.StatusCode != http.StatusBadGateway {
		t.Fatalf("status %d, want 502: %s", resp.StatusCode, body)
	}
	_, port, _ := net.SplitHostPort(addr)
	if strings.Contains(body, addr) || strings.Contains(body, ":"+port) {
		t.Errorf("the client's error reveals the backend's address %s: %s", addr, strings.TrimSpace(body))
	}
}

// What the user does: reads X-Model-Version to know which version served
// an answer (README: "Every answer carries X-Model-Version"); the backend
// is itself a gateway or a server that sets a header of that name (a
// regional Sluice in front of the model servers, say).
// What happens now: the proxy sets X-Model-Version and then copies the
// backend's response headers over it, so the client (and anything keyed
// on the header: feedback tooling, dashboards) sees the backend's value,
// here "chat:v9-from-backend", not the version Sluice routed to.
// What should happen: X-Model-Version is the gateway's own, like
// X-Request-Id, whatever the backend sends.
func TestBackendCannotOverrideModelVersionHeader(t *testing.T) {
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Model-Version", "chat:v9-from-backend")
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}]}`)
	}))
	defer be.Close()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, "")})
	resp, body := chat(t, url, "chat")
	if got := resp.Header.Values("X-Model-Version"); len(got) != 1 || got[0] != "chat:v1" {
		t.Errorf("X-Model-Version = %q, want [chat:v1] (the version Sluice routed to): %s", got, body)
	}
}

// What the user does: calls an inference endpoint with the wrong method
// (GET /v1/chat/completions, a health probe or a browser), or POST
// /v1/models.
// What happens now: 400 bad_request with an Allow header. Allow belongs to
// a 405 (RFC 9110 15.5.6), and the model servers Sluice stands in front of
// (vLLM and TGI behind FastAPI/axum, OpenAI) answer 405 Method Not Allowed,
// which clients and probes tell apart from a malformed body.
// What should happen: 405 with Allow, in the OpenAI error shape.
func TestWrongMethodIs405(t *testing.T) {
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, "http://127.0.0.1:1", "")})
	for _, c := range []struct{ method, path, allow string }{
		{http.MethodGet, "/v1/chat/completions", "POST"},
		{http.MethodPost, "/v1/models", "GET"},
	} {
		resp, body := send(t, c.method, url+c.path, "")
		var e struct {
			Error struct{ Message, Type string }
		}
		if err := json.Unmarshal([]byte(body), &e); err != nil || e.Error.Message == "" {
			t.Errorf("%s %s: not an OpenAI error: %s", c.method, c.path, body)
		}
		if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s %s: status %d Allow %q, want 405 Allow %s", c.method, c.path, resp.StatusCode, resp.Header.Get("Allow"), c.allow)
		}
	}
}

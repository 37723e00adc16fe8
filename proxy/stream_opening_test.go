package proxy_test

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// hugeCreated is a response.created echoing 200 KiB of instructions, as a
// backend echoes a request's long system prompt or tools list.
var hugeCreated = strings.Replace(respCreatedEvent, `"output":[]`, `"output":[],"instructions":"`+strings.Repeat("be brief. ", 20<<10)+`"`, 1)

// What the user does: streams a response (client.Responses.NewStreaming)
// with a 200 KiB system prompt, which the backend echoes in its
// response.created, that the split sends to a version whose backend then
// fails (response.failed) before any of the answer.
// What happened: opening events past the 64 KiB reader passed unchecked:
// the client got a 200 stream ending in response.failed, never retried.
// What must happen: the reader grows for that stream (to 256 KiB here, at
// most 1 MiB) and the attempt failed (upstream_5xx, 502, retried on
// stable); a pinned request gets a 502 OpenAI error.
func TestResponsesStreamHugeOpeningThenFailedIsAFailedAttempt(t *testing.T) {
	good := MustBackend(t, fakellm.Config{})
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			bad := reviewSSE(t, hugeCreated, respInProgressEvt, respFailedEvent)
			rec, res := newSpyRecorder(), newResults()
			_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL(), bad, 0), Recorder: rec, Transport: tr.rt, OnResult: res.on})
			checkFailedAttempt(t, rec, res, func(model string) (string, error) { return respStream(t, url, model) }, "upstream_5xx", "CUDA out of memory")
		})
	}
}

// TestResponsesStreamHugeOpeningPassesIntact: the same 200 KiB opening
// followed by the answer reaches the client byte for byte (each event's
// data as the SDK reads it, and the whole body to a plain client), a
// success of the version.
func TestResponsesStreamHugeOpeningPassesIntact(t *testing.T) {
	events := []string{hugeCreated, respInProgressEvt, respTextDeltaEvent, respCompletedEvent}
	var parts []any
	for _, e := range events {
		parts = append(parts, e)
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			be := reviewSSE(t, parts...)
			rec := newSpyRecorder()
			_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, be, be, 0), Recorder: rec, Transport: tr.rt})

			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s := respSDK(url).Responses.NewStreaming(ctx, respInput("chat:v2", "hi"))
			defer s.Close()
			var got []string
			for s.Next() {
				got = append(got, s.Current().RawJSON())
			}
			if err := s.Err(); err != nil || len(got) != len(events) {
				t.Fatalf("SDK: %d events, error %v; want the backend's %d", len(got), err, len(events))
			}
			for i, e := range events {
				_, data, _ := strings.Cut(e, "data: ")
				if want := strings.TrimSuffix(data, "\n\n"); got[i] != want {
					t.Errorf("event %d: %d bytes, want the backend's %d byte for byte", i, len(got[i]), len(want))
				}
			}

			resp, err := http.Post(url+"/v1/responses", "application/json", strings.NewReader(`{"model":"chat:v2","input":"hi","stream":true}`))
			if err != nil {
				t.Fatal(err)
			}
			body, err := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := strings.Join(events, ""); err != nil || resp.StatusCode != 200 || string(body) != want {
				t.Errorf("plain client: status %d, %d bytes (%v); want 200 and the backend's %d bytes as sent", resp.StatusCode, len(body), err, len(want))
			}
			waitFor(t, "the observations", func() bool { return len(rec.all()) == 2 })
			for _, o := range rec.all() {
				if o.ErrorClass != "" || o.Status != 200 || o.Retried {
					t.Errorf("logged: class %q status %d retried %v, want a success", o.ErrorClass, o.Status, o.Retried)
				}
			}
		})
	}
}

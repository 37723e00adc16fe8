package proxy_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// What the user does: streams a response (openai-go, or any client typed
// on the Responses API's schema) whose backend breaks the stream off
// mid-answer.
// What happened: the gateway ended the stream with its own "error" event
// without a sequence_number, which the schema requires of every stream
// event: openai-go marked the field missing, and a client that decodes
// events strictly (a typed SDK in Rust or Java) failed on the gateway's
// event instead of reading its message.
// What must happen: the gateway's error event takes the number after the
// last event the client had, whatever the backend's numbering starts at.
func TestResponsesStreamGatewayErrorIsNumbered(t *testing.T) {
	// A backend numbering from 5, cut after its first delta.
	from5 := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		created := strings.Replace(respCreatedEvent, `"sequence_number":0`, `"sequence_number":5`, 1)
		inProgress := strings.Replace(respInProgressEvt, `"sequence_number":1`, `"sequence_number":6`, 1)
		delta := strings.Replace(respTextDeltaEvent, `"sequence_number":2`, `"sequence_number":7`, 1)
		w.Write([]byte(created + inProgress + delta))
	}))
	t.Cleanup(from5.Close)
	cut := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{StreamCutRate: 1, StreamCutAt: "middle"}})
	for _, tc := range []struct {
		name, backend string
	}{
		{"Fakellm", cut.URL()},
		{"NumberedFrom5", from5.URL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, tc.backend, tc.backend), Recorder: newSpyRecorder()})
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			s := respSDK(url).Responses.NewStreaming(ctx, respInput("chat:v2", "hi"))
			defer s.Close()
			last, events := int64(-1), 0
			for s.Next() {
				ev := s.Current()
				events++
				if ev.Type != "error" {
					last = ev.SequenceNumber
					continue
				}
				if !strings.Contains(ev.Message, "broke off the stream") {
					t.Fatalf("error event %s, want the gateway's saying the backend broke off the stream", ev.RawJSON())
				}
				if !ev.JSON.SequenceNumber.Valid() || ev.SequenceNumber != last+1 {
					t.Fatalf("the gateway's error event %s after an event numbered %d: want sequence_number %d", ev.RawJSON(), last, last+1)
				}
				return
			}
			t.Fatalf("no error event after %d events (stream error %v), want the gateway's", events, s.Err())
		})
	}
}

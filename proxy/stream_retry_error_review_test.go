package proxy_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/proxy"
)

// What the user does: streams a completion that the split sends to the
// canary; the canary answers 200 with its stream's headers and dies before
// its first event, so the gateway retries on stable, and stable (busy)
// answers an ordinary JSON error (429 or 503, application/json).
// What happens now: the first attempt's pooled line reader is left reset to
// a nil reader; relayBody reads stable's error body through it and panics
// (nil io.Reader), so the client's connection is cut with no answer at all
// (net/http recovers the handler's panic: "EOF" at the client), with both
// the gateway's own client and an http.Transport.
// What should happen: the client gets stable's error status and body.
func TestStreamRetryOnStableErrorAnswerIsRelayed(t *testing.T) {
	for _, tc := range []struct {
		name string
		tr   http.RoundTripper
	}{
		{"OwnClient", nil},
		{"Transport", proxy.NewTransport(5*time.Second, 5*time.Second)},
	} {
		for _, status := range []int{429, 503} {
			t.Run(tc.name+"/"+http.StatusText(status), func(t *testing.T) {
				bad := reviewSSE(t) // headers, then the connection closes
				good := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(status)
					w.Write([]byte(`{"error":{"message":"stable is busy","type":"overloaded"}}`))
				}))
				t.Cleanup(good.Close)
				_, url := MustProxy(t, proxy.Options{Routes: splitRoutes(t, good.URL, bad, 0), Transport: tc.tr})

				req, _ := http.NewRequest(http.MethodPost, url+"/v1/chat/completions", strings.NewReader(streamBody))
				req.Header.Set("Content-Type", "application/json")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatalf("stream: %v; want stable's %d error relayed", err, status)
				}
				defer resp.Body.Close()
				b, rerr := io.ReadAll(resp.Body)
				if rerr != nil || resp.StatusCode == 200 || !strings.Contains(string(b), "stable is busy") {
					t.Fatalf("status %d, body %q, read error %v: want stable's %d error relayed", resp.StatusCode, b, rerr, status)
				}
			})
		}
	}
}

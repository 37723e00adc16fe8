package proxy_test

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/proxy"
)

// TestProxy_UntypedImageStreamPassesThrough: a streamed image generation
// whose server sends its events without a Content-Type (Starlette's
// StreamingResponse without a media_type, which looksLikeSSE already
// covers for chat) reaches the client event by event. Before, the relay
// held such an answer whole, as it holds a JSON one, so the client saw the
// first partial image only once the last was made.
func TestProxy_UntypedImageStreamPassesThrough(t *testing.T) {
	release := make(chan struct{})
	byTimer := make(chan bool, 1)
	be := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header()["Content-Type"] = nil
		io.WriteString(w, "event: image_generation.partial_image\ndata: {\"type\":\"image_generation.partial_image\",\"b64_json\":\"AAAA\"}\n\n")
		w.(http.Flusher).Flush()
		select {
		case <-release:
			byTimer <- false
		case <-time.After(10 * time.Second):
			// The client never saw the first event: end the answer so
			// that the test can say so rather than hang.
			byTimer <- true
		}
		io.WriteString(w, "event: image_generation.completed\ndata: {\"type\":\"image_generation.completed\",\"b64_json\":\"BBBB\"}\n\n")
	}))
	t.Cleanup(be.Close)
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), NoRetry: true})

	resp, err := http.Post(url+"/v1/images/generations", "application/json", strings.NewReader(`{"model":"chat","prompt":"p","stream":true}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	br := bufio.NewReader(resp.Body)
	var first strings.Builder
	for {
		line, err := br.ReadString('\n')
		first.WriteString(line)
		if err != nil || line == "\n" {
			break
		}
	}
	close(release)
	if <-byTimer {
		t.Errorf("the client got the first event only once the backend ended its answer: the stream was held whole")
	}
	if !strings.Contains(first.String(), "partial_image") {
		t.Errorf("first event %q", first.String())
	}
	rest, _ := io.ReadAll(br)
	if !strings.Contains(string(rest), "image_generation.completed") {
		t.Errorf("the rest of the stream: %q", rest)
	}
}

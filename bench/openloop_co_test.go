package bench

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// What the user does: reads the open-loop latency of a gateway that stalls
// once for 300 ms, at 100 requests a second on one connection.
// What must happen: the requests the schedule meant to send during the
// stall, sent late behind it, count their wait: about 30 requests see
// 10-300 ms, so the p90 of 100 requests is tens of milliseconds. Timed
// from the write (coordinated omission), only the stalled request was
// slow and the p90 read well under a millisecond.
func TestOpenLoop_NoCoordinatedOmission(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if n.Add(1) == 10 {
			time.Sleep(300 * time.Millisecond)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"choices":[{"message":{"content":"ok"}}]}`)
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	rq := &request{addr: addr, path: "/v1/chat/completions", header: "Host: " + addr + "\r\nContent-Type: application/json\r\n",
		userHeader: "X-User-Id", users: 1000, body: []byte(chatBody)}
	res := openLoop(context.Background(), rq, nil, 100, 1, 0, time.Second)
	if res.Errors != 0 || res.Requests < 80 {
		t.Fatalf("%d requests, %d errors (%s): want about 100 answered", res.Requests, res.Errors, res.FirstError)
	}
	p90 := res.Latency.quantile(0.9)
	if p90 < 20*time.Millisecond {
		t.Fatalf("p90 %v over %d requests with a 300 ms stall at 100/s: the requests held behind the stall were timed from their late write", p90, res.Requests)
	}
	t.Logf("%d requests, p50 %v, p90 %v, p99 %v", res.Requests, res.Latency.quantile(0.5), p90, res.Latency.quantile(0.99))
}

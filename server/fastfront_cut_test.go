package server_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// An embeddings answer that is not JSON passes through as it arrives; a
// backend that breaks it off makes the proxy abort the answer so no
// client takes the part for the whole. Through net/http the client's read
// fails; the fasthttp front, which holds the whole answer before sending
// it, answers 502 saying the model server broke off, not a 500 "the
// gateway failed" with a panic's stack in the log.
func TestFront_BrokenOffPassThroughIs502NotAPanic(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	be := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", "3000")
		w.Write(bytes.Repeat([]byte{1}, 1000))
		w.(http.Flusher).Flush()
		c, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			c.Close()
		}
	})}
	go be.Serve(ln)
	t.Cleanup(func() { be.Close() })
	backend := "http://" + ln.Addr().String()
	body := `{"model":"chat","input":"hi"}`
	for _, srv := range []string{"fasthttp", "net/http"} {
		t.Run(strings.ReplaceAll(srv, "/", ""), func(t *testing.T) {
			logs := &syncBuffer{}
			gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.HTTPServer = srv }, logs,
				chatDoc(map[string]string{"v1.0.0": backend}, nil, nil))
			c, br := dialT(t, gw.Addr())
			fmt.Fprintf(c, "POST /v1/embeddings HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
			resp, err := http.ReadResponse(br, nil)
			var got []byte
			if err == nil {
				got, err = io.ReadAll(resp.Body)
			}
			switch srv {
			case "fasthttp":
				if err != nil {
					t.Fatalf("read: %v", err)
				}
				if resp.StatusCode != http.StatusBadGateway || !strings.Contains(string(got), "broke off") {
					t.Errorf("status %d, body %.300s; want 502 saying the model server broke off", resp.StatusCode, got)
				}
			default:
				if err == nil {
					t.Errorf("net/http: read %d bytes whole, status %d; want the answer to end short", len(got), resp.StatusCode)
				}
			}
			if strings.Contains(logs.String(), "panic serving a request") {
				t.Errorf("the gateway logged a panic for a backend's broken answer:\n%.2000s", logs.String())
			}
			// The request is recorded with the status the client got: the
			// 502 the fasthttp front sent, the 200 net/http began.
			want := `status_class="2xx"`
			if srv == "fasthttp" {
				want = `status_class="5xx"`
			}
			res, err := http.Get(gw.URL() + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			m, _ := io.ReadAll(res.Body)
			res.Body.Close()
			var lines []string
			for l := range strings.Lines(string(m)) {
				if strings.HasPrefix(l, "sluice_requests_total{") {
					lines = append(lines, strings.TrimSpace(l))
				}
			}
			if len(lines) != 1 || !strings.Contains(lines[0], want) {
				t.Errorf("sluice_requests_total = %q; want one series with %s, the status the client got", lines, want)
			}
		})
	}
}

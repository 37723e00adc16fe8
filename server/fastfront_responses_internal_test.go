package server

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// A non-streamed POST /v1/responses is served on the fasthttp side, as a
// chat completion is; a streamed one is handed to net/http.
func TestFront_ResponsesHotPath(t *testing.T) {
	s := &Server{Config: config.Default(), logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	side := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	}
	f := s.newFastFront(ln.Addr(), side("fasthttp"), newHTTPServer(side("net/http")))
	f.serve(s, ln)
	defer f.shutdown(context.Background())
	for body, want := range map[string]string{
		`{"model":"chat","input":"hi"}`:               "fasthttp",
		`{"model":"chat","input":"hi","stream":true}`: "net/http",
	} {
		resp, err := http.Post("http://"+ln.Addr().String()+"/v1/responses", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(got) != want {
			t.Errorf("%s served by %s, want %s", body, got, want)
		}
	}
}

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

// A panic in a hot request's handler is answered with a 500 in the OpenAI
// error shape and logged; the gateway goes on serving (fasthttp alone
// would let the panic end the process).
func TestFront_PanicIsAnswered(t *testing.T) {
	var logs strings.Builder
	s := &Server{Config: config.Default(), logger: slog.New(slog.NewTextHandler(&logs, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hot := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Half", "written")
		io.WriteString(w, "partial")
		panic("boom")
	})
	f := s.newFastFront(ln.Addr(), hot, newHTTPServer(http.NotFoundHandler()))
	f.serve(s, ln)
	defer f.shutdown(context.Background())
	for i := 0; i < 2; i++ {
		resp, err := http.Post("http://"+ln.Addr().String()+"/v1/chat/completions", "application/json",
			strings.NewReader(`{"model":"chat","messages":[]}`))
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 500 || !strings.Contains(string(body), `"code":"internal"`) || strings.Contains(string(body), "partial") || resp.Header.Get("X-Half") != "" {
			t.Fatalf("request %d: %d %v %s, want a clean 500 internal error", i+1, resp.StatusCode, resp.Header, body)
		}
	}
	if !strings.Contains(logs.String(), "boom") {
		t.Fatalf("the panic was not logged: %s", logs.String())
	}
}

// startFront serves a fast front on a loopback port, hot requests by hot
// and the rest by slow, until the test ends; it returns the address.
func startFront(t *testing.T, hot, slow http.Handler) string {
	t.Helper()
	s := &Server{Config: config.Default(), logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := s.newFastFront(ln.Addr(), hot, newHTTPServer(slow))
	f.serve(s, ln)
	t.Cleanup(func() { f.shutdown(context.Background()) })
	return ln.Addr().String()
}

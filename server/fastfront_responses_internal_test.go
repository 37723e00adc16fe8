package server

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// A non-streamed POST /v1/responses is served on the fasthttp side, as a
// chat completion is; a streamed one is handed to net/http.
func TestFront_ResponsesHotPath(t *testing.T) {
	side := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, name) })
	}
	addr := startFront(t, side("fasthttp"), side("net/http"))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	for body, want := range map[string]string{
		`{"model":"chat","input":"hi"}`:               "fasthttp",
		`{"model":"chat","input":"hi","stream":true}`: "net/http",
	} {
		// Each on a connection of its own: after a hand-over net/http keeps
		// the connection, so a request after the stream on a reused one is
		// net/http's whichever side it would have gone to (the map's order
		// is random, and the test failed about half the time).
		resp, err := client.Post("http://"+addr+"/v1/responses", "application/json", strings.NewReader(body))
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

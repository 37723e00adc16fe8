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
	for body, want := range map[string]string{
		`{"model":"chat","input":"hi"}`:               "fasthttp",
		`{"model":"chat","input":"hi","stream":true}`: "net/http",
	} {
		resp, err := http.Post("http://"+addr+"/v1/responses", "application/json", strings.NewReader(body))
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

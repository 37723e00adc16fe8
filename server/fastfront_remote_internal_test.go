package server

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// A hot request's handler sees its own client's address in RemoteAddr, as
// net/http gives it, on every connection and for every request on one:
// the front formats it once per connection and its pooled writers serve
// requests of many connections in turn.
func TestFront_RemoteAddrIsTheClients(t *testing.T) {
	addr := startFront(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.RemoteAddr)
	}), http.NotFoundHandler())

	conns := make([]net.Conn, 3)
	for i := range conns {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	body := `{"model":"chat","messages":[]}`
	req := fmt.Sprintf("POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	buf := make([]byte, 4096)
	for round := 0; round < 3; round++ {
		for i, c := range conns { // the connections take turns, so writers move between them
			if _, err := io.WriteString(c, req); err != nil {
				t.Fatal(err)
			}
			n, err := c.Read(buf)
			if err != nil {
				t.Fatalf("connection %d, round %d: %v", i, round, err)
			}
			answer := string(buf[:n])
			want := c.LocalAddr().String()
			if !strings.HasPrefix(answer, "HTTP/1.1 200") || !strings.HasSuffix(answer, "\r\n\r\n"+want) {
				t.Fatalf("connection %d, round %d: answer %q, want a 200 whose body is the client's address %s", i, round, answer, want)
			}
		}
	}
}

package server_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// blankStep is one write on a connection and the answer it must get.
type blankStep struct {
	send string
	// want is the answer expected from both servers ("200 ok" for the
	// health check, "200 chat" for a chat completion, "400" for a refusal);
	// fastWant, when set, is the fasthttp front's where it differs.
	want, fastWant string
}

// blankAnswer reads one answer on br within 2 s of start (the fasthttp
// front's header timeout is 10 s) and says what it was, as blankStep.want
// spells it, with how long it took.
func blankAnswer(resp *http.Response, err error, start time.Time) (string, time.Duration) {
	took := time.Since(start)
	if err != nil {
		return fmt.Sprintf("no answer (%v)", err), took
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	switch {
	case resp.StatusCode == 200 && string(body) == "ok\n":
		return "200 ok", took
	case resp.StatusCode == 200 && strings.Contains(string(body), `"chat.completion"`):
		return "200 chat", took
	case resp.StatusCode == 200:
		return fmt.Sprintf("200 %.80q", body), took
	}
	return fmt.Sprint(resp.StatusCode), took
}

// A request whose head ends its lines in a bare LF, after empty lines
// (RFC 9112 section 2.2 lets a server ignore at least one before the
// request line), is answered at once on the fasthttp front as net/http
// answers it: net/http refuses empty lines before a connection's first
// request (400), and skips up to 4 bytes of CR and LF after a POST. The
// front waited for a CRLF CRLF until its header timeout (10 s, then 400):
// it handed a bare-LF head to net/http only when its first line was a
// request line.
func TestFront_BlankLinesBeforeBareLFHeadAnsweredLikeNetHTTP(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	doc := chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil)
	health := "GET /healthz HTTP/1.1\nHost: sluice\n\n"
	chat := frontRequest(frontChat) // CRLF: the fasthttp front serves it itself
	cases := []struct {
		name  string
		steps []blankStep
	}{
		{"CRLFFirst", []blankStep{{send: "\r\n" + health, want: "400"}}},
		{"LFFirst", []blankStep{{send: "\n" + health, want: "400"}}},
		{"CRLFCRLFFirst", []blankStep{{send: "\r\n\r\n" + health, want: "400"}}},
		{"CRLFAfterPOST", []blankStep{{send: chat, want: "200 chat"}, {send: "\r\n" + health, want: "200 ok"}}},
		{"CRLFLFAfterPOST", []blankStep{{send: chat, want: "200 chat"}, {send: "\r\n\n" + health, want: "200 ok"}}},
		{"FourAfterPOST", []blankStep{{send: chat, want: "200 chat"}, {send: "\r\n\r\n" + health, want: "200 ok"}}},
		// net/http skips 4 bytes, no more.
		{"FiveAfterPOST", []blankStep{{send: chat, want: "200 chat"}, {send: "\r\n\r\n\n" + health, want: "400"}}},
		{"CRLFAfterPOSTPipelined", []blankStep{{send: chat + "\r\n" + health, want: "200 chat"}, {want: "200 ok"}}},
		{"CRLFAfterPOSTThenPOST", []blankStep{
			{send: chat, want: "200 chat"}, {send: "\r\n" + lfChat("\n", "\n"), want: "200 chat"}, {send: chat, want: "200 chat"},
		}},
		// The one difference: a bare LF first, after a POST, is refused at
		// once where net/http skips it. The front cannot tell those bytes
		// from the end of a chunked body it is reading ("0\r\n" then a
		// bare-LF empty line, a request pipelined behind), which must not
		// be answered as the next request
		// (TestFront_ChunkedBodyEndingInBareLFNotTakenForARequest).
		{"LFAfterPOST", []blankStep{{send: chat, want: "200 chat"}, {send: "\n" + health, want: "200 ok", fastWant: "400"}}},
	}
	for _, srv := range []string{"fasthttp", "net/http"} {
		t.Run(strings.ReplaceAll(srv, "/", ""), func(t *testing.T) {
			gw, _ := mustGatewayWith(t, func(c *config.Gateway) { c.HTTPServer = srv }, nil, doc)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					c, br := dialT(t, gw.Addr())
					for i, s := range tc.steps {
						start := time.Now()
						c.SetDeadline(start.Add(2 * time.Second))
						if s.send != "" {
							if _, err := io.WriteString(c, s.send); err != nil {
								t.Fatalf("step %d: write: %v", i, err)
							}
						}
						resp, err := http.ReadResponse(br, nil)
						got, took := blankAnswer(resp, err, start)
						want := s.want
						if srv == "fasthttp" && s.fastWant != "" {
							want = s.fastWant
						}
						if got != want {
							t.Fatalf("step %d (%q): %s after %s, want %s at once", i, s.send, got, took.Round(time.Millisecond), want)
						}
					}
				})
			}
		})
	}
}

// A chunked request body whose trailer section, or the empty line that
// ends it, has a bare LF: both servers wait for a CRLF CRLF there, until
// the request timeout, and answer 400 (net/http's body reader looks for
// one before it reads a trailer; fasthttp's trailer reader ends a trailer
// only with one). The fasthttp front must not take the bytes after
// "0\r\n" for a request's start either: with a bare-LF request pipelined
// behind a bare-LF empty line, handing "\nGET ..." to net/http with the
// empty line skipped would answer the GET in place of the POST.
func TestFront_ChunkedBodyEndingInBareLFNotTakenForARequest(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	doc := chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil)
	chunked := "POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
		fmt.Sprintf("%x\r\n%s\r\n0\r\n", len(frontChat), frontChat)
	health := "GET /healthz HTTP/1.1\nHost: sluice\n\n"
	cases := []struct{ name, end string }{
		{"EmptyLineLF", "\n"},
		{"TrailerLF", "X-Trailer: a\n\n"},
		{"EmptyLineLFThenLFRequest", "\n" + health},
		{"EmptyLineLFThenBlankAndLFRequest", "\n\r\n" + health},
	}
	const timeout = time.Second // timeouts.request: how long both wait for the rest of the body
	var mu sync.Mutex
	got := map[string]map[string]string{}
	for _, srv := range []string{"fasthttp", "net/http"} {
		got[srv] = map[string]string{}
		t.Run(strings.ReplaceAll(srv, "/", ""), func(t *testing.T) {
			gw, _ := mustGatewayWith(t, func(c *config.Gateway) {
				c.HTTPServer = srv
				c.Timeouts.Request = timeout
			}, nil, doc)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					c, br := dialT(t, gw.Addr())
					c.SetDeadline(time.Now().Add(timeout + 3*time.Second))
					// A first request the front serves, so that what
					// follows comes after a POST.
					io.WriteString(c, frontRequest(frontChat))
					resp, err := http.ReadResponse(br, nil)
					if a, _ := blankAnswer(resp, err, time.Now()); a != "200 chat" {
						t.Fatalf("first request: %s", a)
					}
					start := time.Now()
					io.WriteString(c, chunked+tc.end)
					resp, err = http.ReadResponse(br, nil)
					a, took := blankAnswer(resp, err, start)
					if a != "400" {
						t.Fatalf("%s after %s, want 400: the end of the chunked body was not read as net/http reads it", a, took.Round(time.Millisecond))
					}
					mu.Lock()
					got[srv][tc.name] = a
					mu.Unlock()
				})
			}
		})
	}
	for _, tc := range cases {
		if f, n := got["fasthttp"][tc.name], got["net/http"][tc.name]; f != n {
			t.Errorf("%s: fasthttp front answered %s, net/http %s", tc.name, f, n)
		}
	}
}

package server_test

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
)

// Requests whose header lines end in a bare LF (hand-written clients,
// scripts) are answered at once by both HTTP servers, the same way: Go's
// net/http reads them, and the fasthttp front, which waits for a CRLF CRLF
// to end a header block, hands them to net/http instead of waiting for the
// header timeout (10 s, then a 400).

// lfStep is one request on a connection and what its answer must be.
type lfStep struct {
	name string
	// parts are written in turn; a pause between them makes the client
	// send the rest of its request later.
	parts []string
	pause time.Duration
	// want is "chat" (a proxied chat completion) or the exact body.
	want string
}

// lfChat is a chat request with every line ending in eol, and the empty
// line ending the head in end.
func lfChat(eol, end string) string {
	return "POST /v1/chat/completions HTTP/1.1" + eol + "Host: sluice" + eol + "Content-Type: application/json" + eol +
		fmt.Sprintf("Content-Length: %d", len(frontChat)) + eol + end + frontChat
}

// lfAnswer is what a client saw of one answer.
type lfAnswer struct {
	status int
	body   string
}

func (a lfAnswer) String() string { return fmt.Sprintf("%d %.200q", a.status, a.body) }

// lfExchange sends the steps on one connection and reads each answer, which
// must arrive within 3 s (the front's header timeout is 10 s).
func lfExchange(t *testing.T, addr string, steps []lfStep) []lfAnswer {
	t.Helper()
	c, br := dialT(t, addr)
	var got []lfAnswer
	for _, s := range steps {
		start := time.Now()
		c.SetDeadline(start.Add(3 * time.Second))
		for i, p := range s.parts {
			if i > 0 && s.pause > 0 {
				time.Sleep(s.pause) // the client's own delay, part of the scenario
			}
			if _, err := io.WriteString(c, p); err != nil {
				t.Fatalf("%s: write: %v", s.name, err)
			}
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("%s: no answer after %s: %v", s.name, time.Since(start).Round(time.Millisecond), err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s: read body: %v", s.name, err)
		}
		a := lfAnswer{resp.StatusCode, string(body)}
		switch {
		case s.want == "chat" && (a.status != 200 || !strings.Contains(a.body, `"chat.completion"`)):
			t.Fatalf("%s: %v, want a chat completion", s.name, a)
		case s.want != "chat" && (a.status != 200 || a.body != s.want):
			t.Fatalf("%s: %v, want 200 %q", s.name, a, s.want)
		}
		if s.want == "chat" {
			a.body = "chat" // ids and times differ from answer to answer
		}
		got = append(got, a)
	}
	return got
}

func TestFront_BareLFRequestsAnsweredLikeNetHTTP(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	doc := chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil)
	chatLF := lfChat("\n", "\n")
	// Every line ends in CRLF but one: no CRLF CRLF anywhere in the head.
	mixed := "POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\nContent-Type: application/json\r\n" +
		fmt.Sprintf("Content-Length: %d\n\r\n", len(frontChat)) + frontChat
	mixedEnd := lfChat("\n", "\r\n") // "...\n\r\n": a CRLF empty line after a bare-LF line
	// Header lines in LF but the last, and the empty line in CRLF: fasthttp
	// reads this one itself.
	lfThenCRLFCRLF := strings.Replace(lfChat("\n", "\n"), fmt.Sprintf("Content-Length: %d\n\n", len(frontChat)),
		fmt.Sprintf("Content-Length: %d\r\n\r\n", len(frontChat)), 1)
	healthLF := "GET /healthz HTTP/1.1\nHost: sluice\n\n"
	cases := []struct {
		name  string
		steps func(admin string) []lfStep
	}{
		{"ChatLF", func(string) []lfStep { return []lfStep{{name: "chat", parts: []string{chatLF}, want: "chat"}} }},
		{"ChatMixed", func(string) []lfStep { return []lfStep{{name: "chat", parts: []string{mixed}, want: "chat"}} }},
		{"ChatMixedEnd", func(string) []lfStep { return []lfStep{{name: "chat", parts: []string{mixedEnd}, want: "chat"}} }},
		{"ChatLFThenCRLFCRLF", func(string) []lfStep {
			return []lfStep{{name: "chat", parts: []string{lfThenCRLFCRLF}, want: "chat"}}
		}},
		{"GetLF", func(string) []lfStep { return []lfStep{{name: "healthz", parts: []string{healthLF}, want: "ok\n"}} }},
		{"AdminLF", func(admin string) []lfStep {
			req := "GET /admin/v1/whoami HTTP/1.1\nHost: sluice\nAuthorization: Bearer " + admin + "\n\n"
			return []lfStep{{name: "whoami", parts: []string{req}, want: ""}}
		}},
		{"HeadThenBodyLater", func(string) []lfStep {
			head, body, _ := strings.Cut(chatLF, "\n\n")
			return []lfStep{{name: "chat", parts: []string{head + "\n\n", body}, pause: 100 * time.Millisecond, want: "chat"}}
		}},
		{"HeadInTwoParts", func(string) []lfStep {
			i := strings.Index(chatLF, "Content-Type")
			return []lfStep{{name: "chat", parts: []string{chatLF[:i], chatLF[i:]}, pause: 100 * time.Millisecond, want: "chat"}}
		}},
		// Requests fasthttp reads itself, which wait for more of their head
		// or trailer in the same way: not handed over, still answered.
		{"CRLFHeadInTwoParts", func(string) []lfStep {
			req := frontRequest(frontChat)
			i := strings.Index(req, "Content-Type")
			return []lfStep{{name: "chat", parts: []string{req[:i], req[i:]}, pause: 100 * time.Millisecond, want: "chat"}}
		}},
		{"ChunkedTrailerLater", func(string) []lfStep {
			req := "POST /v1/chat/completions HTTP/1.1\r\nHost: sluice\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n" +
				fmt.Sprintf("%x\r\n%s\r\n0\r\nX-Trailer: a\r\n", len(frontChat), frontChat)
			return []lfStep{{name: "chat", parts: []string{req, "\r\n"}, pause: 100 * time.Millisecond, want: "chat"}}
		}},
		{"KeepAliveLFFirst", func(string) []lfStep {
			return []lfStep{
				{name: "lf chat", parts: []string{chatLF}, want: "chat"},
				{name: "lf chat again", parts: []string{chatLF}, want: "chat"},
				{name: "crlf chat", parts: []string{frontRequest(frontChat)}, want: "chat"},
				{name: "lf healthz", parts: []string{healthLF}, want: "ok\n"},
			}
		}},
		{"KeepAliveCRLFFirst", func(string) []lfStep {
			return []lfStep{
				{name: "crlf chat", parts: []string{frontRequest(frontChat)}, want: "chat"},
				{name: "lf chat", parts: []string{chatLF}, want: "chat"},
				{name: "crlf chat again", parts: []string{frontRequest(frontChat)}, want: "chat"},
			}
		}},
		{"KeepAliveCRLFThenLFGet", func(string) []lfStep {
			return []lfStep{
				{name: "crlf chat", parts: []string{frontRequest(frontChat)}, want: "chat"},
				{name: "lf healthz", parts: []string{healthLF}, want: "ok\n"},
				{name: "crlf chat again", parts: []string{frontRequest(frontChat)}, want: "chat"},
			}
		}},
		{"Pipelined", func(string) []lfStep {
			// Both requests in one write: the bare-LF one is already
			// read, behind the first, when the first is answered.
			return []lfStep{
				{name: "crlf chat + lf chat", parts: []string{frontRequest(frontChat) + chatLF}, want: "chat"},
				{name: "lf chat (sent with the first)", want: "chat"},
			}
		}},
	}
	got := map[string]map[string][]lfAnswer{}
	for _, srv := range []string{"fasthttp", "net/http"} {
		got[srv] = map[string][]lfAnswer{}
		t.Run(strings.ReplaceAll(srv, "/", ""), func(t *testing.T) {
			gw, admin := mustGatewayWith(t, func(c *config.Gateway) { c.HTTPServer = srv }, nil, doc)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					steps := tc.steps(admin)
					if tc.name == "AdminLF" {
						// The whoami answer, whatever it is, must be the same on both servers.
						steps[0].want = whoami(t, gw.Addr(), admin)
					}
					got[srv][tc.name] = lfExchange(t, gw.Addr(), steps)
				})
			}
		})
	}
	for _, tc := range cases {
		f, n := fmt.Sprint(got["fasthttp"][tc.name]), fmt.Sprint(got["net/http"][tc.name])
		if f != n {
			t.Errorf("%s: fasthttp front answered %s, net/http %s", tc.name, f, n)
		}
	}
}

// whoami is the admin API's answer to a well-formed whoami request.
func whoami(t *testing.T, addr, admin string) string {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/admin/v1/whoami", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(bufio.NewReader(resp.Body))
	if resp.StatusCode != 200 {
		t.Fatalf("whoami: %d %s", resp.StatusCode, body)
	}
	return string(body)
}

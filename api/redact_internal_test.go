package api

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestRedactURLs(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{`{"endpoints":["http://u:p@h:1/v1"]}`, `{"endpoints":["http://REDACTED@h:1/v1"]}`},
		{`"https://tok@h","http://h2"`, `"https://REDACTED@h","http://h2"`},
		{`{"after":{"endpoints":["http://a%40b:p\u0026q@h"]}}`, `{"after":{"endpoints":["http://REDACTED@h"]}}`},
		{`"before \"http://u:p@h\" after"`, `"before \"http://REDACTED@h\" after"`},
		{`postgres://sluice:pw@db:5432/x`, `postgres://REDACTED@db:5432/x`},
		{`"http://h:8000/path@x"`, `"http://h:8000/path@x"`}, // an @ in the path is no userinfo
		{`"http://h:8000", "bob@example.com"`, `"http://h:8000", "bob@example.com"`},
		{`no urls at all`, `no urls at all`},
		// A password may hold a literal "@" (url.Parse splits the userinfo
		// at the last one, and CheckEndpoint accepts it): all of it goes.
		{`{"endpoints":["http://bob:hunter@2s3cret@h:1/v1"]}`, `{"endpoints":["http://REDACTED@h:1/v1"]}`},
		{`endpoint http://a@b@c@h down, mail ops@example.com`, `endpoint http://REDACTED@h down, mail ops@example.com`},
		// Query parameters whose names look secret, whatever their case,
		// lose their values; others (api-version) stay, in their order.
		{`{"endpoints":["https://h/openai?api-version=2024-02-01&api_key=sk-123"]}`, `{"endpoints":["https://h/openai?api-version=2024-02-01&api_key=REDACTED"]}`},
		// Go's encoder writes "&" as \u0026.
		{`{"endpoints":["https://h/v1?api-version=2024-02-01\u0026API_KEY=sk-123\u0026x=1"]}`, `{"endpoints":["https://h/v1?api-version=2024-02-01\u0026API_KEY=REDACTED\u0026x=1"]}`},
		{`["http://h?key=k1\u0026Token=t2&sig=s3%2F4&Signature=s5&X-Amz-Credential=c6&code=c7&client_secret=c8&password=p9"]`, `["http://h?key=REDACTED\u0026Token=REDACTED&sig=REDACTED&Signature=REDACTED&X-Amz-Credential=REDACTED&code=REDACTED&client_secret=REDACTED&password=REDACTED"]`},
		{`"https://u:p@h:1/p?sv=2022&sig=abc#frag"`, `"https://REDACTED@h:1/p?sv=2022&sig=REDACTED#frag"`},
		// A value holding JSON escapes goes whole; a URL in an escaped
		// string ends at its \".
		{`"x \"http://h/?api%5Fkey=a\u003cb\" y=1 token=2"`, `"x \"http://h/?api%5Fkey=REDACTED\" y=1 token=2"`},
		// A value holding a backslash (\\ in JSON) goes whole: it was
		// hidden up to its first backslash, the rest shown. So do the
		// parameters after it, and a value holding an escaped "\u0026"
		// or "%5C" or unicode, raw or escaped.
		{`["http://h/?api_key=sk\\TAIL1&v=1&token=a\\\\b\\u0026TAIL2\u0026sig=c\/d\\"]`, `["http://h/?api_key=REDACTED&v=1&token=REDACTED\u0026sig=REDACTED"]`},
		{`{"e":"http://h/p\\q?key=%5Cx%5C\\y&code=ünï€😀\u2028z\u00e9"}`, `{"e":"http://h/p\\q?key=REDACTED&code=REDACTED"}`},
		// A URL quoted in a message (%q: its quotes escaped, and so its
		// backslashes twice) ends at its \", whose value still goes whole.
		{`"invalid endpoint \"http://h/?sig=a\\\\b\" y=1"`, `"invalid endpoint \"http://h/?sig=REDACTED\" y=1"`},
		{`endpoint http://h:1/v1?key=sk-1 down`, `endpoint http://h:1/v1?key=REDACTED down`},
		{`"http://h/v1?api-version=1&deployment=gpt"`, `"http://h/v1?api-version=1&deployment=gpt"`},
		{`"http://h/v1?" and "what? key=1"`, `"http://h/v1?" and "what? key=1"`},
	} {
		if got := string(RedactURLs([]byte(c.in))); got != c.want {
			t.Errorf("RedactURLs(%s) = %s, want %s", c.in, got, c.want)
		}
	}
}

func TestRedactingWriter_Flushes(t *testing.T) {
	rec := httptest.NewRecorder()
	w := RedactingWriter(rec)
	n, err := w.Write([]byte(`data: "http://u:p@h"` + "\n\n"))
	if err != nil || n != len(`data: "http://u:p@h"`+"\n\n") {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if f, ok := w.(interface{ Flush() }); !ok {
		t.Fatal("the writer lost Flush, which event streams need")
	} else {
		f.Flush()
	}
	if got := rec.Body.String(); got != `data: "http://REDACTED@h"`+"\n\n" || !rec.Flushed {
		t.Errorf("wrote %q (flushed %v)", got, rec.Flushed)
	}
	if err := http.NewResponseController(RedactingWriter(struct{ http.ResponseWriter }{rec})).Flush(); err == nil {
		t.Error("Flush through a writer that cannot flush reported no error: an event stream would not see its client gone")
	}
}

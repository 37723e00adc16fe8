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

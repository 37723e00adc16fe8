package proxy_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/proxy"
)

// TestProxy_BadRequestClass: a JSON body the backend refuses with a 400
// is logged bad_request (not the version's failure) only when it is not
// JSON; a valid body of the wrong type refused so is the version's
// upstream_4xx, as before. The client gets the backend's answer either
// way, and the window counts the bad_request ones apart.
func TestProxy_BadRequestClass(t *testing.T) {
	b := MustBackend(t, fakellm.Config{})
	rec := newSpyRecorder()
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, b.URL(), ""), Recorder: rec})
	for i, c := range []struct {
		name, body, class string
		status            int
		failed            bool
	}{
		{"MissingComma", `{"model":"chat","messages":[{"role":"user" "content":"hi"}]}`, sluice.ClassBadRequest, 400, false},
		{"Truncated", `{"model":"chat","messages":[`, sluice.ClassBadRequest, 400, false},
		{"StreamString", `{"model":"chat","stream":"yes","messages":[{"role":"user","content":"hi"}]}`, "upstream_4xx", 400, true},
		{"Valid", `{"model":"chat","messages":[{"role":"user","content":"hi"}]}`, "", 200, false},
	} {
		resp, body := post(t, url, "/v1/chat/completions", c.body)
		if resp.StatusCode != c.status || c.status == 400 && !strings.Contains(body, "fakellm: invalid request body") {
			t.Errorf("%s: %d %s; want the backend's %d", c.name, resp.StatusCode, body, c.status)
		}
		waitFor(t, fmt.Sprintf("%s's observation", c.name), func() bool { return len(rec.all()) > i })
		o := rec.all()[i]
		if o.ErrorClass != c.class || o.Status != c.status || o.Failed() != c.failed {
			t.Errorf("%s: class %q, status %d, failed %v; want %q, %d, %v", c.name, o.ErrorClass, o.Status, o.Failed(), c.class, c.status, c.failed)
		}
	}
	w := rec.Window("chat", "v1", "", t0)
	if w.BadRequest != 2 || w.Requests != 2 || w.Errors != 1 || w.Canceled() != 0 {
		t.Errorf("v1's window: %d requests, %d errors, %d canceled, %d bad_request; want 2, 1, 0, 2", w.Requests, w.Errors, w.Canceled(), w.BadRequest)
	}
}

package api_test

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/sqlite"
)

func TestServer_RequestBodies(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	split := "/admin/v1/models/chat/split"

	t.Run("ErrMalformedJSON", func(t *testing.T) {
		r := e.do(t, "PUT", split, operatorSecret, []byte(`{"weights": [`+"\n"+`{"version": "v1.0.0", "percent": 100},], "reason": "r"}`))
		r.want(t, http.StatusBadRequest, "malformed JSON at byte", "send a valid JSON object")
	})
	t.Run("ErrTruncated", func(t *testing.T) {
		r := e.do(t, "PUT", split, operatorSecret, []byte(`{"weights": [`))
		r.want(t, http.StatusBadRequest, "malformed JSON", "send a complete JSON object")
	})
	t.Run("ErrWrongType", func(t *testing.T) {
		r := e.do(t, "PUT", split, operatorSecret, []byte(`{"weights": [{"version": "v1.0.0", "percent": "100"}], "reason": "r"}`))
		r.want(t, http.StatusBadRequest, `field "weights.percent" must be a JSON number, not string`, "fix its type")
		r.wantFields(t, "weights.percent")
	})
	t.Run("ErrWrongTypeTime", func(t *testing.T) {
		r := e.do(t, "PUT", "/admin/v1/versions/chat:v1.2.0/stage", operatorSecret, []byte(`{"stage": "production", "sunset_at": 5, "reason": "r"}`))
		r.want(t, http.StatusBadRequest, "a time field (sunset_at) is not an RFC 3339 string", `write it as "2026-11-22T14:00:00Z"`)
		r.wantFields(t, "sunset_at")
	})
	t.Run("ErrUnknownField", func(t *testing.T) {
		r := e.do(t, "PUT", split, operatorSecret, []byte(`{"weights": [{"version": "v1.0.0", "percent": 100}], "reason": "r", "sault": "x"}`))
		r.want(t, http.StatusBadRequest, `unknown field "sault"`, `this endpoint takes "weights", "salt", "reason"`)
		r.wantFields(t, "sault")
	})
	t.Run("ErrNotAnObject", func(t *testing.T) {
		r := e.do(t, "PUT", split, operatorSecret, []byte(`[1, 2]`))
		r.want(t, http.StatusBadRequest, `must be a JSON object with the fields "weights"`)
	})
	t.Run("ErrTrailingData", func(t *testing.T) {
		r := e.do(t, "PUT", split, operatorSecret, []byte(`{"reason": "r"} {"reason": "r"}`))
		r.want(t, http.StatusBadRequest, "unexpected data after the object", "send exactly one JSON object")
	})
	t.Run("ErrEmpty", func(t *testing.T) {
		r := e.do(t, "PUT", split, operatorSecret, nil)
		r.want(t, http.StatusBadRequest, "the request body is empty", `"reason"`)
	})
	t.Run("ErrTooLarge", func(t *testing.T) {
		big := append([]byte(`{"reason": "`), bytes.Repeat([]byte("x"), 2<<20)...)
		big = append(big, `"}`...)
		r := e.do(t, "PUT", split, operatorSecret, big)
		r.want(t, http.StatusRequestEntityTooLarge, "larger than 1048576 bytes (1 MiB)", "send a smaller body")
	})
	t.Run("ErrInvalidUTF8", func(t *testing.T) {
		r := e.do(t, "PUT", "/admin/v1/models/chat/labels/canary", operatorSecret, []byte("{\"version\": \"v1\xff\", \"reason\": \"r\"}"))
		r.want(t, http.StatusUnprocessableEntity, "not valid UTF-8", "send UTF-8 encoded JSON")
	})
	t.Run("ErrInvalidUTF8InPath", func(t *testing.T) {
		r := e.do(t, "PUT", "/admin/v1/models/chat/labels/can%FFary", operatorSecret, []byte(`{"version": "v1.0.0", "reason": "r"}`))
		r.want(t, http.StatusUnprocessableEntity, "invalid label", "use 1 to 128 letters")
		r.wantFields(t, "label")
	})
	t.Run("ErrControlInName", func(t *testing.T) {
		r := e.do(t, "GET", "/admin/v1/models/ch%00at", viewerSecret, nil)
		r.want(t, http.StatusUnprocessableEntity, "invalid model name", "use 1 to 128 letters")
	})
	t.Run("ErrControlInReason", func(t *testing.T) {
		r := e.do(t, "PUT", "/admin/v1/models/chat/labels/canary", operatorSecret, []byte(`{"version": "v1.0.0", "reason": "ok\u001b[31m"}`))
		r.want(t, http.StatusUnprocessableEntity, "control character", "remove it")
		r.wantFields(t, "reason")
	})
	t.Run("ErrMissingReason", func(t *testing.T) {
		for _, c := range []struct{ method, path, body, secret string }{
			{"POST", "/admin/v1/apply", `{"doc": {"models": [{"name": "chat"}]}}`, adminSecret},
			{"POST", "/admin/v1/versions", `{"version": {"model": "chat", "version": "v5", "endpoints": ["http://h:1"]}}`, adminSecret},
			{"PUT", "/admin/v1/versions/chat:v1.2.0/stage", `{"stage": "production"}`, operatorSecret},
			{"PUT", "/admin/v1/models/chat/policy", `{"policy": {"kind": "all"}}`, operatorSecret},
			{"PUT", split, `{"weights": [{"version": "v1.0.0", "percent": 100}]}`, operatorSecret},
			{"PUT", "/admin/v1/models/chat/labels/x", `{"version": "v1.0.0"}`, operatorSecret},
			{"DELETE", "/admin/v1/models/chat/labels/x", `{}`, operatorSecret},
			{"PUT", "/admin/v1/models/chat/rules", `{"rules": []}`, operatorSecret},
			{"POST", "/admin/v1/tokens", `{"name": "n", "role": "viewer"}`, adminSecret},
			{"DELETE", "/admin/v1/tokens/vera", `{"reason": ""}`, adminSecret},
		} {
			r := e.do(t, c.method, c.path, c.secret, []byte(c.body))
			r.want(t, http.StatusUnprocessableEntity, "a reason is required", `send "reason": "why"`)
			r.wantFields(t, "reason")
		}
	})
	t.Run("ErrMethodNotAllowed", func(t *testing.T) {
		r := e.do(t, "PATCH", "/admin/v1/models/chat/split", operatorSecret, []byte(`{}`))
		r.want(t, http.StatusMethodNotAllowed, "PATCH is not allowed", "use PUT")
	})
	t.Run("ErrUnknownPath", func(t *testing.T) {
		r := e.do(t, "GET", "/admin/v1/modles", viewerSecret, nil)
		r.want(t, http.StatusNotFound, "there is no admin endpoint GET /admin/v1/modles", "models, versions", "alerts, replicas or whoami")
	})
	t.Run("ErrBadQuery", func(t *testing.T) {
		r := e.do(t, "GET", "/admin/v1/audit?limit=ten", viewerSecret, nil)
		r.want(t, http.StatusBadRequest, `limit "ten" is not a whole number`, "use 1 to 10000")
		r = e.do(t, "GET", "/admin/v1/requests?limit=0", viewerSecret, nil)
		r.want(t, http.StatusUnprocessableEntity, "limit 0 is out of range", "use 1 to 10000")
		r = e.do(t, "GET", "/admin/v1/audit?since=yesterday", viewerSecret, nil)
		r.want(t, http.StatusBadRequest, `since: invalid time "yesterday"`, "such as 2026-11-22T14:00")
		r.wantFields(t, "since")
		r = e.do(t, "GET", "/admin/v1/audit?order=up", viewerSecret, nil)
		r.want(t, http.StatusUnprocessableEntity, `order "up" is not known`, "use asc")
		r = e.do(t, "GET", "/admin/v1/audit?since=2026-11-22&until=2026-11-21", viewerSecret, nil)
		r.want(t, http.StatusUnprocessableEntity, "is before since", "swap them")
	})
}

func TestServer_OptionalViews(t *testing.T) {
	ctx := context.Background()
	t.Run("OK", func(t *testing.T) {
		e := MustEnv(t)
		e.MustSeed(t)
		raw, err := e.Viewer.Routes(ctx)
		if err != nil || !bytes.Contains(raw, []byte(`"revision"`)) {
			t.Errorf("routes = %s, %v", raw, err)
		}
		raw, err = e.Viewer.Summary(ctx, "chat", "2h")
		if err != nil || !bytes.Contains(raw, []byte(`"since": "2026-11-22T08:00:00Z"`)) {
			t.Errorf("summary = %s, %v", raw, err)
		}
		_, err = e.Viewer.Summary(ctx, "nope", "")
		wantErr(t, err, sluice.CodeNotFound, nil, "sluice get models")
	})
	t.Run("ErrNotWired", func(t *testing.T) {
		st, err := sqlite.Open(filepath.Join(t.TempDir(), "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ctl, err := control.New(ctx, st, func() time.Time { return t0 })
		if err != nil {
			t.Fatal(err)
		}
		srv := api.New(api.Options{Control: ctl, Auth: api.NewAuth(st, []sluice.Token{{Name: "v", Role: sluice.RoleViewer, Hash: sluice.HashSecret("s")}})})
		hs := httptest.NewServer(srv.Handler())
		defer hs.Close()
		c := &api.Client{BaseURL: hs.URL, Token: "s"}
		_, err = c.Routes(ctx)
		wantErr(t, err, sluice.CodeNotFound, nil, "does not expose its routing table", "sluice serve")
	})
}

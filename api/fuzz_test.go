package api

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/sluicehq/sluice"
)

// FuzzReadJSON feeds arbitrary bodies to the admin API's decoder: it must
// never panic, and every refusal must be a *sluice.Error with a code that
// maps to a 4xx status and a message.
func FuzzReadJSON(f *testing.F) {
	for _, seed := range []string{
		`{"doc":{"models":[{"name":"chat"}]},"reason":"r"}`,
		`{"weights":[{"version":"v1","percent":95},{"version":"v2","percent":5}],"reason":"r"}`,
		`{"reason":"r"}{"reason":"again"}`,
		`{"weights":"not a list"}`,
		"{\"reason\":\"\xff\xfe\"}",
		`{"unknown":1}`,
		`[1,2,3]`,
		``,
		`{"version":{"model":"chat\u0000","version":"v1"},"reason":"r"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, v := range []any{&ApplyRequest{}, &SplitRequest{}, &RegisterRequest{}, &StageRequest{}, &RulesRequest{}, &TokenRequest{}, &StartRolloutRequest{}} {
			r := httptest.NewRequest(http.MethodPost, "/admin/v1/x", bytes.NewReader(body))
			w := httptest.NewRecorder()
			err := readJSON(w, r, v)
			if err == nil {
				continue
			}
			code := sluice.ErrorCode(err)
			if st := code.HTTPStatus(); st < 400 || st >= 500 {
				t.Fatalf("decoding %q into %T: %v (code %s, status %d), want a 4xx", body, v, err, code, st)
			}
			if sluice.ErrorMessage(err) == "" {
				t.Fatalf("decoding %q: empty message", body)
			}
		}
	})
}

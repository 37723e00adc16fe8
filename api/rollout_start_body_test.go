package api_test

import (
	"net/http"
	"testing"
)

// TestServer_StartRolloutSaysWhatToSend: a POST /admin/v1/rollouts whose
// spec named no model (or no candidate), as a first try at the API often
// is, answered 404 "model \"\" is not registered" (or "version chat: is not
// registered"), which says neither what was missing nor where it goes.
func TestServer_StartRolloutSaysWhatToSend(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	for _, c := range []struct{ name, body, field string }{
		{"ErrNoModel", `{"spec": {"candidate": "v1.2.0"}, "reason": "try"}`, "spec.model"},
		{"ErrNoCandidate", `{"spec": {"model": "chat"}, "reason": "try"}`, "spec.candidate"},
	} {
		t.Run(c.name, func(t *testing.T) {
			res := e.do(t, "POST", "/admin/v1/rollouts", operatorSecret, []byte(c.body))
			res.want(t, http.StatusUnprocessableEntity, `"spec": {"model": "chat", "candidate": "v1.2.0"}`)
			res.wantFields(t, c.field)
		})
	}
}

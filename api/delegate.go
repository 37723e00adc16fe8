package api

import (
	"context"
	"crypto/subtle"
	"net/http"

	"github.com/sluicehq/sluice"
)

// Delegate returns a handler for the API's paths (/admin/v1/...) that
// serves each request on behalf of the token its context carries (see
// WithActor) instead of reading an Authorization header. Every endpoint
// checks the token's role exactly as Handler does, runs the same code and
// audits the change under the token's name; a request whose context carries
// no token gets 401.
//
// It is for in-process front ends that sign people in their own way, such as
// the dashboard, which keeps a session rather than the secret: they go
// through the API instead of around it.
func (s *Server) Delegate() http.Handler {
	mux := http.NewServeMux()
	for _, e := range endpoints {
		h := s.serve(e.h)
		need := e.role
		mux.Handle(e.method+" "+e.path, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			t, ok := ActorFrom(r.Context())
			if !ok {
				WriteError(w, errNoToken)
				return
			}
			if err := Authorize(t, need); err != nil {
				WriteError(w, err)
				return
			}
			h.ServeHTTP(w, r)
		}))
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, sluice.Errorf(sluice.CodeNotFound, "there is no admin endpoint %s %s", r.Method, r.URL.Path))
	})
	return mux
}

// TokenByHash returns the token whose secret has the SHA-256 hash (as
// sluice.HashSecret returns it), for callers that keep the hash of a secret
// rather than the secret itself, such as the dashboard's sessions. A token
// deleted through the API stops matching at once; one deleted elsewhere
// once the cache is refreshed (CacheFor). Every token is compared in
// constant time.
func (a *Auth) TokenByHash(ctx context.Context, hash string) (*sluice.Token, error) {
	if hash == "" {
		return nil, errNoToken
	}
	is := func(t *sluice.Token) bool { return subtle.ConstantTimeCompare([]byte(t.Hash), []byte(hash)) == 1 }
	found := match(a.Static(), is)
	var storeErr error
	fromStore := found == nil
	if found == nil {
		var stored []sluice.Token
		stored, storeErr = a.storeTokens(ctx)
		found = match(stored, is)
	}
	if found == nil && storeErr != nil {
		return nil, storeErr
	}
	if found == nil {
		return nil, sluice.Errorf(sluice.CodeUnauthorized, "the admin token of this session is no longer known (it may have been deleted): sign in again with a valid token")
	}
	found.Hash = ""
	return a.admit(found, fromStore)
}

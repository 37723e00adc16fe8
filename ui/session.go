package ui

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// CookieName is the name of the session cookie. It holds a random session
// id, never the token.
const CookieName = "sluice_ui_session"

// CSRFHeader carries the session's CSRF token on every change.
const CSRFHeader = "X-Sluice-CSRF"

// maxSessions bounds the sessions kept; beyond it the least recently used
// goes.
const maxSessions = 1000

// session is a signed-in person. It keeps the SHA-256 of the token (the
// form the store keeps it in), so the token's current name and role are
// looked up on each request and a deleted token ends the session.
type session struct {
	key       string // hex SHA-256 of the cookie's id
	tokenHash string
	csrf      string
	created   time.Time
	lastSeen  time.Time
}

// sessions is the server-side session table.
type sessions struct {
	ttl, idle time.Duration
	now       func() time.Time

	mu sync.Mutex
	m  map[string]*session
}

func newSessions(ttl, idle time.Duration, now func() time.Time) *sessions {
	return &sessions{ttl: ttl, idle: idle, now: now, m: map[string]*session{}}
}

// keyOf returns the table key of a cookie's session id: its hash, so that
// the lookup's timing tells nothing of the ids held.
func keyOf(id string) string {
	h := sha256.Sum256([]byte(id))
	return hex.EncodeToString(h[:])
}

func randomString() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("ui: no randomness: " + err.Error()) // crypto/rand does not fail on supported systems
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// create starts a session for the token with the given hash and returns
// its id for the cookie.
func (ss *sessions) create(tokenHash string) (string, *session) {
	id := randomString()
	now := ss.now()
	s := &session{key: keyOf(id), tokenHash: tokenHash, csrf: randomString(), created: now, lastSeen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, o := range ss.m {
		if ss.expired(o, now) {
			delete(ss.m, k)
		}
	}
	if len(ss.m) >= maxSessions {
		var oldest *session
		for _, o := range ss.m {
			if oldest == nil || o.lastSeen.Before(oldest.lastSeen) {
				oldest = o
			}
		}
		delete(ss.m, oldest.key)
	}
	ss.m[s.key] = s
	return id, s
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.created) > ss.ttl || now.Sub(s.lastSeen) > ss.idle
}

// get returns the live session of a cookie's id, marking it used.
func (ss *sessions) get(id string) *session {
	if id == "" {
		return nil
	}
	key := keyOf(id)
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s := ss.m[key]
	if s == nil {
		return nil
	}
	if ss.expired(s, now) {
		delete(ss.m, key)
		return nil
	}
	s.lastSeen = now
	c := *s
	return &c
}

func (ss *sessions) delete(key string) {
	ss.mu.Lock()
	delete(ss.m, key)
	ss.mu.Unlock()
}

// cookieOutlives is how long the session cookie is kept after its
// session's lifetime, so that a page open then (a laptop woken the next
// morning) is told its session ended rather than only to sign in.
const cookieOutlives = 24 * time.Hour

var errSignIn = sluice.Errorf(sluice.CodeUnauthorized, "sign in to the dashboard with an admin token: open /ui/")

// errEnded answers a session cookie the gateway does not hold: the session
// ran out, was signed out elsewhere, or the gateway restarted (sessions
// live in its memory). The sign-in page shows it, so it says which.
func (ss *sessions) errEnded() error {
	return sluice.Errorf(sluice.CodeUnauthorized, "your dashboard session has ended (a session lasts %s, %s unused, and a restart of the gateway ends it): sign in again with your token",
		shortDuration(ss.ttl), shortDuration(ss.idle))
}

// shortDuration writes d as a person would: 8h, 1h30m, 45m, 30s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// resolve returns the request's session and its token as it stands now.
func (s *Server) resolve(r *http.Request) (*session, *sluice.Token, error) {
	c, err := r.Cookie(CookieName)
	if err != nil || c.Value == "" {
		return nil, nil, errSignIn
	}
	sess := s.sessions.get(c.Value)
	if sess == nil {
		return nil, nil, s.sessions.errEnded()
	}
	tok, err := s.auth.TokenByHash(r.Context(), sess.tokenHash)
	if err != nil {
		if sluice.ErrorCode(err) == sluice.CodeUnauthorized {
			s.sessions.delete(sess.key)
		}
		return nil, nil, err
	}
	return sess, tok, nil
}

// sessionHandler is a handler for signed-in requests.
type sessionHandler func(w http.ResponseWriter, r *http.Request, sess *session, tok *sluice.Token)

// withSession serves h to signed-in requests, with the token as the
// request's actor; a change (any method but GET and HEAD) must also carry
// the session's CSRF token.
func (s *Server) withSession(h sessionHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sess, tok, err := s.resolve(r)
		if err != nil {
			api.WriteError(w, err)
			return
		}
		s.samp.touch()
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			got := r.Header.Get(CSRFHeader)
			if subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
				api.WriteError(w, sluice.Errorf(sluice.CodeForbidden, "this change lacks the dashboard's CSRF token: reload the page and try again"))
				return
			}
		}
		if !api.SeesSecrets(tok.Role) {
			w = api.RedactingWriter(w) // backends' credentials, as the API does
		}
		h(w, r.WithContext(api.WithActor(r.Context(), tok)), sess, tok)
	})
}

// SessionInfo describes the signed-in person to the page.
type SessionInfo struct {
	// Name is the token's name, which the audit log records.
	Name string `json:"name"`
	// Role is the token's role.
	Role sluice.Role `json:"role"`
	// CanAct is true for operators and admins.
	CanAct bool `json:"can_act"`
	// CSRF is the token to send in the X-Sluice-CSRF header with changes.
	CSRF string `json:"csrf"`
	// ExpiresAt is when the token stops working, and the session with it;
	// left out when it never expires. ExpiresInMS is how far off that is
	// by the gateway's clock, which decides: the page counts down from it
	// and, asking again every while, sees a token renewed (a config
	// file's given a later expires and reloaded) without a reload.
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
	ExpiresInMS int64     `json:"expires_in_ms,omitempty"`
}

func (s *Server) sessionInfo(w http.ResponseWriter, r *http.Request, sess *session, tok *sluice.Token) {
	info := SessionInfo{Name: tok.Name, Role: tok.Role, CanAct: tok.Role.Allows(sluice.RoleOperator), CSRF: sess.csrf}
	if !tok.ExpiresAt.IsZero() {
		info.ExpiresAt = tok.ExpiresAt.UTC()
		info.ExpiresInMS = max(tok.ExpiresAt.Sub(s.opt.Now()).Milliseconds(), 1)
	}
	writeJSON(w, info)
}

// login signs in with an admin token sent in a JSON body, {"token": "..."},
// never in the URL.
func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Token string `json:"token"`
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 8<<10))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		api.WriteError(w, sluice.Errorf(sluice.CodeBadRequest, `send {"token": "<admin token>"} as JSON`))
		return
	}
	secret := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(req.Token), "Bearer "))
	// Wrong tokens are throttled per client address (and overall); the
	// attempt is counted before the check, so that a burst of concurrent
	// ones cannot all pass, and given back when the token was right.
	wait, at := s.throttle.take(clientKey(r, s.opt.TrustedProxies))
	if wait > 0 {
		w.Header().Set("Retry-After", retryAfter(wait))
		api.WriteError(w, sluice.Errorf(sluice.CodeRateLimited, "too many wrong tokens from this address: wait %s seconds, then paste the token again (the CLI and the admin API are not held back)", retryAfter(wait)))
		return
	}
	tok, err := s.auth.AuthenticateAdmin(r.Context(), secret) // a token just created through another replica too
	if err != nil {
		switch {
		case sluice.ErrorCode(err) == sluice.CodeUnauthorized && expired(err):
			// A real token past its expiry: say so, as the API does; it
			// is no guess, so it does not count against the address.
			s.throttle.good(at, false)
		case sluice.ErrorCode(err) == sluice.CodeUnauthorized:
			err = sluice.Errorf(sluice.CodeUnauthorized, "this token is not known: paste an admin token (sluice token create makes one; a new gateway prints one on first start)")
		default:
			s.throttle.good(at, false) // not the client's fault: the store did not answer
		}
		api.WriteError(w, err)
		return
	}
	s.throttle.good(at, true)
	if old, err := r.Cookie(CookieName); err == nil {
		s.sessions.delete(keyOf(old.Value))
	}
	id, sess := s.sessions.create(sluice.HashSecret(secret))
	// The cookie outlives the session by cookieOutlives: a browser that
	// dropped it as the session ended sent none, and the gateway could not
	// tell a page whose session ran out from one never signed in (the
	// sign-in page said "sign in", not why). The id is worth nothing once
	// the session has ended.
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: id, Path: "/ui", MaxAge: int((s.opt.SessionTTL + cookieOutlives).Seconds()),
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookie(r),
	})
	s.opt.Logger.Info("dashboard sign-in", "token", tok.Name, "role", tok.Role)
	writeJSON(w, SessionInfo{Name: tok.Name, Role: tok.Role, CanAct: tok.Role.Allows(sluice.RoleOperator), CSRF: sess.csrf})
}

// logout ends the session. It needs the CSRF token, so another site cannot
// sign people out.
func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(CookieName); err == nil {
		if sess := s.sessions.get(c.Value); sess != nil {
			if subtle.ConstantTimeCompare([]byte(r.Header.Get(CSRFHeader)), []byte(sess.csrf)) != 1 {
				api.WriteError(w, sluice.Errorf(sluice.CodeForbidden, "sign-out lacks the dashboard's CSRF token: reload the page and try again"))
				return
			}
			s.sessions.delete(sess.key)
		}
	}
	http.SetCookie(w, &http.Cookie{Name: CookieName, Value: "", Path: "/ui", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: s.secureCookie(r)})
	writeJSON(w, map[string]bool{"signed_out": true})
}

// secureCookie reports whether the session cookie of r's answer is marked
// Secure: always, never, or (auto) when the gateway itself served r over
// TLS. X-Forwarded-Proto is never read: any client can send it.
func (s *Server) secureCookie(r *http.Request) bool {
	switch s.opt.SecureCookie {
	case SecureCookieAlways:
		return true
	case SecureCookieNever:
		return false
	}
	return r.TLS != nil
}

// expired reports whether err refuses a token because it expired (the
// error names expires_at).
func expired(err error) bool {
	var e *sluice.Error
	return errors.As(err, &e) && slices.Contains(e.Fields, "expires_at")
}

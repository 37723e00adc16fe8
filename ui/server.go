package ui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/observe"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Windows is where the dashboard reads live observations: the observe
// package's Recorder, or on a shared store the fleet's windows (package
// fleet), so that every replica's dashboard shows the whole fleet.
type Windows interface {
	// Window returns the observations of model's version in category (""
	// for all) at or after since.
	Window(model, version, category string, since time.Time) observe.Sample
	// Between is Window with an end: observations before until only.
	Between(model, version, category string, since, until time.Time) observe.Sample
	// Categories returns the request categories seen for model.
	Categories(model string) []string
	// Versions returns the versions of model with observations.
	Versions(model string) []string
}

// Options configure a Server. Zero durations take the defaults given.
type Options struct {
	// API is the admin API. The dashboard reads and acts only through it
	// (its Delegate handler), on behalf of the signed-in token, and signs
	// people in with its Auth. Required.
	API *api.Server
	// Control holds the registry; the dashboard watches it to keep each
	// rollout's verdicts and to choose the versions it charts. Required.
	Control *control.Service
	// Windows supplies the observations charted; nil charts nothing.
	Windows Windows
	// Lag is how late an observation may reach Windows (the fleet's flush
	// and read, on a shared store); each chart point ends this long before
	// it is drawn, so the newest point does not undercount the other
	// replicas' traffic. Zero for a gateway on its own.
	Lag time.Duration
	// ShadowPairs returns up to limit of model's most recent stable and
	// shadow answer pairs, newest first (the proxy's ShadowPairs). Nil
	// shows that this gateway keeps no shadow pairs.
	ShadowPairs func(model string, limit int) []sluice.ShadowPair
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Step is the time between two chart points (default 1s); Smooth the
	// trailing window each point summarises (default 10s); History how long
	// points are kept (default 15m).
	Step, Smooth, History time.Duration
	// IdleAfter stops the sampling of chart points when no dashboard
	// request came for this long (default 5m); the next request starts it
	// again.
	IdleAfter time.Duration
	// SessionTTL is how long a sign-in lasts at most (default 8h);
	// SessionIdle ends a session unused for this long (default 1h).
	SessionTTL, SessionIdle time.Duration
	// Logger receives sign-ins and errors; nil discards them. Secrets are
	// never logged.
	Logger *slog.Logger
	// SecureCookie says when the session cookie is marked Secure (sent by
	// browsers over HTTPS only): SecureCookieAlways, SecureCookieNever, or
	// SecureCookieAuto ("" too) for when the request came over TLS to the
	// gateway itself. Behind a load balancer that ends TLS, set always.
	SecureCookie string
	// TrustedProxies are the proxies whose X-Forwarded-For the sign-in's
	// throttle reads to tell their clients apart (config key
	// ui.trusted_proxies); nil: the header is never read.
	TrustedProxies []netip.Prefix
}

// The values of Options.SecureCookie (config key ui.secure_cookie).
const (
	SecureCookieAuto   = "auto"
	SecureCookieAlways = "always"
	SecureCookieNever  = "never"
)

// Server serves the dashboard.
type Server struct {
	opt      Options
	auth     *api.Auth
	delegate http.Handler
	sessions *sessions
	throttle *signInThrottle
	samp     *sampler
	pages    *template.Template
	assets   fs.FS
	version  string
	handler  http.Handler

	mu       sync.Mutex
	stopping map[*http.Server]bool
	closed   chan struct{} // closed when a server serving the dashboard shuts down
}

// New returns a dashboard server. It panics when opt.API or opt.Control is
// nil, a wiring bug.
func New(opt Options) *Server {
	if opt.API == nil || opt.Control == nil {
		panic("ui.New: Options.API and Options.Control are required")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Step <= 0 {
		opt.Step = time.Second
	}
	if opt.Smooth <= 0 {
		opt.Smooth = 10 * time.Second
	}
	if opt.History <= 0 {
		opt.History = 15 * time.Minute
	}
	if opt.IdleAfter <= 0 {
		opt.IdleAfter = 5 * time.Minute
	}
	if opt.SessionTTL <= 0 {
		opt.SessionTTL = 8 * time.Hour
	}
	if opt.SessionIdle <= 0 {
		opt.SessionIdle = time.Hour
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	assets, err := fs.Sub(assetFS, "assets")
	if err != nil {
		panic(err)
	}
	s := &Server{
		opt:      opt,
		auth:     opt.API.Auth(),
		delegate: opt.API.Delegate(),
		sessions: newSessions(opt.SessionTTL, opt.SessionIdle, opt.Now),
		throttle: newSignInThrottle(opt.Now),
		pages:    template.Must(template.ParseFS(templateFS, "templates/*.html")),
		assets:   assets,
		version:  assetVersion(assets),
		stopping: map[*http.Server]bool{},
		closed:   make(chan struct{}),
	}
	s.samp = newSampler(s)
	opt.Control.Subscribe(s.samp.watchRegistry)
	s.handler = s.buildMux()
	return s
}

// Handler returns the dashboard's handler, for the paths under /ui/.
func (s *Server) Handler() http.Handler { return s.handler }

func (s *Server) buildMux() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ui/{$}", s.index)
	mux.Handle("GET /ui/assets/", s.assetHandler())
	mux.HandleFunc("POST /ui/login", s.login)
	mux.HandleFunc("POST /ui/logout", s.logout)
	mux.Handle("GET /ui/api/session", s.withSession(s.sessionInfo))
	mux.Handle("GET /ui/api/series", s.withSession(s.series))
	mux.Handle("GET /ui/api/events", s.withSession(s.events))
	mux.Handle("GET /ui/api/categories", s.withSession(s.categories))
	mux.Handle("GET /ui/api/verdicts", s.withSession(s.verdicts))
	mux.Handle("GET /ui/api/shadow", s.withSession(s.shadow))
	// Reads of the admin API, and the few changes the dashboard offers,
	// go through the API itself on behalf of the session's token.
	mux.Handle("GET /ui/api/admin/v1/", s.withSession(s.toAPI))
	mux.Handle("POST /ui/api/admin/v1/rollouts/{model}/{action}", s.withSession(s.toAPI))
	mux.Handle("PUT /ui/api/admin/v1/models/{model}/split", s.withSession(s.toAPI))
	mux.HandleFunc("GET /ui/api/admin/v1/tokens", s.notFound)
	mux.HandleFunc("/ui/", s.notFound)
	// Changes from another site are refused whatever they carry: the
	// cookie is SameSite=Strict, changes need the session's CSRF token, and
	// cross-origin unsafe requests are stopped here.
	return securityHeaders(http.NewCrossOriginProtection().Handler(mux))
}

// securityHeaders forbids framing, inline script, outside resources and
// sniffing on every dashboard answer.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		h.ServeHTTP(w, r)
	})
}

func (s *Server) notFound(w http.ResponseWriter, r *http.Request) {
	api.WriteError(w, sluice.Errorf(sluice.CodeNotFound, "there is no dashboard page %s %s: open /ui/", r.Method, r.URL.Path))
}

// page is what the templates get.
type page struct {
	Version string
	Name    string
	Role    sluice.Role
	CSRF    string
	CanAct  bool
	// TwoSided names the analysis's metrics held within their threshold
	// both ways (analysis.TwoSidedMetrics), space-separated, for the
	// verdict table's ±.
	TwoSided string
	// Notice is, on the sign-in page, why the session the request's
	// cookie named no longer serves; "" when it named none.
	Notice string
	// Expires is when the signed-in token expires (UTC), "" for never:
	// shown beside its name, as a token that ran out ended the session
	// with no warning. ExpiresSoon is set when that is within a day.
	Expires     string
	ExpiresSoon bool
	// ExpiresAt is the same time in RFC 3339 and ExpiresInMS how far off
	// it is by the gateway's clock, from which the page counts down (the
	// browser's clock may differ from the gateway's).
	ExpiresAt   string
	ExpiresInMS int64
}

// index serves the dashboard to a signed-in person and the sign-in page to
// anyone else.
func (s *Server) index(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	sess, tok, err := s.resolve(r)
	if err != nil {
		// A page opened with a session cookie says why that session no
		// longer serves (ended, its token expired or deleted, the store
		// not answering); one opened without says nothing.
		p := page{Version: s.version}
		if err != errSignIn {
			p.Notice = sluice.ErrorMessage(err)
		}
		if err := s.pages.ExecuteTemplate(w, "login.html", p); err != nil {
			s.opt.Logger.Error("render the sign-in page", "err", err)
		}
		return
	}
	s.samp.touch()
	p := page{Version: s.version, Name: tok.Name, Role: tok.Role, CSRF: sess.csrf, CanAct: tok.Role.Allows(sluice.RoleOperator),
		TwoSided: strings.Join(analysis.TwoSidedMetrics(), " ")}
	if !tok.ExpiresAt.IsZero() {
		p.Expires = tok.ExpiresAt.UTC().Format("2006-01-02 15:04:05") + " UTC"
		p.ExpiresSoon = tok.ExpiresAt.Sub(s.opt.Now()) < 24*time.Hour
		p.ExpiresAt = tok.ExpiresAt.UTC().Format(time.RFC3339Nano)
		p.ExpiresInMS = tok.ExpiresAt.Sub(s.opt.Now()).Milliseconds()
	}
	if err := s.pages.ExecuteTemplate(w, "index.html", p); err != nil {
		s.opt.Logger.Error("render the dashboard", "err", err)
	}
}

// assetHandler serves the embedded script and style. An asset asked for
// with the current version (?v=) may be cached; others are revalidated.
func (s *Server) assetHandler() http.Handler {
	files := http.StripPrefix("/ui/assets/", http.FileServerFS(s.assets))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("v") == s.version {
			w.Header().Set("Cache-Control", "private, max-age=86400")
		} else {
			w.Header().Set("Cache-Control", "no-cache")
		}
		if strings.HasSuffix(r.URL.Path, "/") {
			s.notFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
}

// assetVersion hashes the assets, so that a new binary's page asks for new
// files.
func assetVersion(assets fs.FS) string {
	h := sha256.New()
	fs.WalkDir(assets, ".", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := fs.ReadFile(assets, path)
			io.WriteString(h, path)
			h.Write(b)
		}
		return nil
	})
	return hex.EncodeToString(h.Sum(nil))[:12]
}

// toAPI serves a request of the page through the admin API, on behalf of
// the session's token: /ui/api/admin/v1/X is the API's /admin/v1/X.
func (s *Server) toAPI(w http.ResponseWriter, r *http.Request, _ *session, tok *sluice.Token) {
	r2 := r.Clone(api.WithActor(r.Context(), tok))
	r2.URL.Path = strings.TrimPrefix(r.URL.Path, "/ui/api")
	// Keep the escaping: a model named acme/chat is acme%2Fchat in the
	// path, one segment, as the API's routes read it.
	r2.URL.RawPath = strings.TrimPrefix(r.URL.RawPath, "/ui/api")
	r2.RequestURI = r2.URL.RequestURI()
	s.delegate.ServeHTTP(w, r2)
}

// writeJSON writes v with status 200.
func writeJSON(w http.ResponseWriter, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// stopSignal returns a channel closed when the http.Server serving r starts
// shutting down, so that event streams end and do not hold Shutdown until
// its deadline.
func (s *Server) stopSignal(r *http.Request) <-chan struct{} {
	srv, _ := r.Context().Value(http.ServerContextKey).(*http.Server)
	s.mu.Lock()
	defer s.mu.Unlock()
	if srv != nil && !s.stopping[srv] {
		s.stopping[srv] = true
		srv.RegisterOnShutdown(s.close)
	}
	return s.closed
}

// close ends the event streams and the sampling.
func (s *Server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case <-s.closed:
	default:
		close(s.closed)
	}
}

package api

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/control"
)

// Options configure a Server.
type Options struct {
	// Control applies every change as one audited transaction; required.
	Control *control.Service
	// Auth checks tokens; nil means the store's tokens only (no static
	// ones).
	Auth *Auth
	// Routes returns a JSON-able view of the current routing table; nil
	// makes GET /admin/v1/routes answer 404.
	Routes func() any
	// ModelRoutes returns a JSON-able view of one model's current routing,
	// ok=false when the routing table has no such model; nil makes GET
	// /admin/v1/routes/{model} answer 404.
	ModelRoutes func(model string) (view any, ok bool)
	// Summary returns live per-version metrics of model since a time; nil
	// makes GET /admin/v1/summary/{model} answer 404.
	Summary func(model string, since time.Time) any
	// Now is the clock for relative times ("since=1h") and token creation;
	// nil means the control service's clock.
	Now func() time.Time
	// Rollouts starts and drives rollouts; nil makes those endpoints
	// answer 503.
	Rollouts Rollouts
	// Rate returns a model's current request rate per second, for plans;
	// nil means unknown.
	Rate func(model string) float64
	// ShadowPairs reads the shadow pairs (the fleet's on a shared store
	// that keeps them); nil makes GET /admin/v1/shadow/{model}/pairs
	// answer 404.
	ShadowPairs ShadowPairs
	// Replica names this replica on a shared store, for answers that hold
	// one replica's data (shadow pairs kept in memory only); nil for a
	// gateway on its own.
	Replica func() string
	// Probe requests an endpoint once as the health checker does, and
	// says the URL it tried and why the endpoint did not answer (nil when
	// it did); an apply probes the endpoints it added with it and warns of
	// those that did not answer (HTTPProbe). Nil probes nothing.
	Probe func(ctx context.Context, endpoint string) (tried string, err error)
	// Logger receives internal errors; nil means slog.Default(). Secrets
	// are never logged.
	Logger *slog.Logger
	// ClientKeys says whether name is a client key of the gateway's config
	// (the keys in force, as SIGHUP reloads them), and whether it has any.
	// A request log or usage filter ?key= that names no configured key
	// and matches no request is then refused without repeating the value,
	// which may be a secret. Nil checks nothing (an empty answer).
	ClientKeys func(name string) (known, keyed bool)
	// ConfigKeys returns the config file's client keys in force (no
	// secrets; each key's Hash, never written out, marks the stored keys
	// it shadows) and whether the data plane requires keys, for the key
	// endpoints; nil means none and not required.
	ConfigKeys func() (keys []sluice.StoredKey, required bool)
	// ReloadKeys puts the store's client keys in force after a change the
	// API made; nil does nothing.
	ReloadKeys func(ctx context.Context) error
	// Alerts sends sluice alert test's alert to the gateway's alert
	// webhooks; nil makes POST /admin/v1/alerts/test answer 503.
	Alerts AlertTester
	// KeyBudget returns what the client key named name used of its token
	// budget in its current period, as this replica last summed it, and
	// when the period ends; known is false before the period's first sum
	// (and for a key without a budget).
	KeyBudget func(name string) (used int64, resets time.Time, known bool)
	// LimitReplicas returns how many live replicas share the client
	// keys' limits, each enforcing an even share; nil means one.
	LimitReplicas func() int
	// LimitShare returns this replica's share (0 to 1) of the limits of
	// the client key named name when LimitReplicas counts more than one;
	// nil leaves limit_share out of the key list.
	LimitShare func(name string) float64
	// LogRetention is how long the request log keeps its rows (0 for
	// ever): a key issued with a budget_period longer is refused, as its
	// budget is summed from the log.
	LogRetention time.Duration
	// Replicas returns the live replicas for GET /admin/v1/replicas; nil
	// makes it answer 404.
	Replicas Replicas
}

// Server serves the admin API.
type Server struct {
	ctl      *control.Service
	store    sluice.Store
	auth     *Auth
	routes   func() any
	routesOf func(string) (any, bool)
	summary  func(string, time.Time) any
	now      func() time.Time
	log      *slog.Logger
	rollouts Rollouts
	rate     func(string) float64
	pairs    ShadowPairs
	replica  func() string
	probe    func(context.Context, string) (string, error)
	keys     func(string) (bool, bool)
	cfgKeys  func() ([]sluice.StoredKey, bool)
	reload   func(context.Context) error
	alerts   AlertTester
	budget   func(string) (int64, time.Time, bool)
	// limitReplicas is Options.LimitReplicas.
	limitReplicas func() int
	// limitShare is Options.LimitShare.
	limitShare func(string) float64
	// logRetention is Options.LogRetention.
	logRetention time.Duration
	// replicas is Options.Replicas.
	replicas Replicas
	handler  http.Handler
}

// New returns a Server. It panics when opt.Control is nil, a wiring bug.
func New(opt Options) *Server {
	if opt.Control == nil {
		panic("api.New: Options.Control is nil")
	}
	s := &Server{
		ctl:           opt.Control,
		store:         opt.Control.Store(),
		auth:          opt.Auth,
		routes:        opt.Routes,
		routesOf:      opt.ModelRoutes,
		summary:       opt.Summary,
		now:           opt.Now,
		log:           opt.Logger,
		rollouts:      opt.Rollouts,
		rate:          opt.Rate,
		pairs:         opt.ShadowPairs,
		replica:       opt.Replica,
		probe:         opt.Probe,
		keys:          opt.ClientKeys,
		cfgKeys:       opt.ConfigKeys,
		reload:        opt.ReloadKeys,
		alerts:        opt.Alerts,
		budget:        opt.KeyBudget,
		limitReplicas: opt.LimitReplicas,
		limitShare:    opt.LimitShare,
		logRetention:  opt.LogRetention,
		replicas:      opt.Replicas,
	}
	if s.auth == nil {
		s.auth = NewAuth(s.store, nil)
	}
	if s.now == nil {
		s.now = opt.Control.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.handler = s.buildMux()
	return s
}

// Auth returns the server's token checker, for other handlers (the
// dashboard) to share.
func (s *Server) Auth() *Auth { return s.auth }

// Handler returns the HTTP handler for every path under /admin/v1/.
func (s *Server) Handler() http.Handler { return s.handler }

// Endpoint describes one route of the API.
type Endpoint struct {
	// Method is the HTTP method.
	Method string
	// Path is the ServeMux path pattern, such as /admin/v1/models/{model}.
	Path string
	// Role is the weakest role allowed to call it.
	Role sluice.Role
}

// Endpoints lists every route of the API with the role it needs.
func Endpoints() []Endpoint {
	out := make([]Endpoint, len(endpoints))
	for i, e := range endpoints {
		out[i] = Endpoint{Method: e.method, Path: e.path, Role: e.role}
	}
	return out
}

// handlerFunc is a handler that returns its error for the server to write.
type handlerFunc func(s *Server, w http.ResponseWriter, r *http.Request) error

type endpoint struct {
	method, path string
	role         sluice.Role
	h            handlerFunc
}

const (
	viewer   = sluice.RoleViewer
	operator = sluice.RoleOperator
	admin    = sluice.RoleAdmin
)

// endpoints is the API's route table.
var endpoints = []endpoint{
	{"GET", "/admin/v1/whoami", viewer, (*Server).whoami},
	{"GET", "/admin/v1/replicas", viewer, (*Server).listReplicas},
	{"GET", "/admin/v1/models", viewer, (*Server).listModels},
	{"GET", "/admin/v1/models/{model}", viewer, (*Server).getModel},
	{"GET", "/admin/v1/versions", viewer, (*Server).listVersions},
	{"GET", "/admin/v1/versions/{id}", viewer, (*Server).getVersion},
	{"POST", "/admin/v1/apply", admin, (*Server).apply},
	{"POST", "/admin/v1/versions", admin, (*Server).registerVersion},
	{"PUT", "/admin/v1/versions/{id}/stage", operator, (*Server).setStage},
	{"PUT", "/admin/v1/models/{model}/policy", operator, (*Server).setPolicy},
	{"PUT", "/admin/v1/models/{model}/split", operator, (*Server).setSplit},
	{"PATCH", "/admin/v1/models/{model}/labels", operator, (*Server).setLabels},
	{"PUT", "/admin/v1/models/{model}/labels/{label}", operator, (*Server).setLabel},
	{"DELETE", "/admin/v1/models/{model}/labels/{label}", operator, (*Server).deleteLabel},
	{"PUT", "/admin/v1/models/{model}/rules", operator, (*Server).setRules},
	{"GET", "/admin/v1/routes", viewer, (*Server).getRoutes},
	{"GET", "/admin/v1/routes/{model}", viewer, (*Server).getModelRoutes},
	{"GET", "/admin/v1/summary/{model}", viewer, (*Server).getSummary},
	{"GET", "/admin/v1/audit", viewer, (*Server).listAudit},
	{"GET", "/admin/v1/audit/at", viewer, (*Server).auditAt},
	{"GET", "/admin/v1/requests", viewer, (*Server).listRequests},
	{"GET", "/admin/v1/usage", viewer, (*Server).getUsage},
	{"GET", "/admin/v1/tokens", admin, (*Server).listTokens},
	{"POST", "/admin/v1/tokens", admin, (*Server).createToken},
	{"DELETE", "/admin/v1/tokens/{name}", admin, (*Server).deleteToken},
	{"GET", "/admin/v1/keys", viewer, (*Server).listKeys},
	{"POST", "/admin/v1/keys", admin, (*Server).createKey},
	{"DELETE", "/admin/v1/keys/{name}", admin, (*Server).deleteKey},
	{"PATCH", "/admin/v1/keys/{name}", admin, (*Server).updateKey},
	{"POST", "/admin/v1/keys/{name}/rotate", admin, (*Server).rotateKey},
	{"GET", "/admin/v1/rollouts", viewer, (*Server).listRollouts},
	{"GET", "/admin/v1/rollouts/{model}", viewer, (*Server).getRollout},
	{"POST", "/admin/v1/rollouts", operator, (*Server).startRollout},
	{"POST", "/admin/v1/rollouts/{model}/{action}", operator, (*Server).actRollout},
	{"GET", "/admin/v1/shadow/{model}/pairs", viewer, (*Server).listShadowPairs},
	{"GET", "/admin/v1/plan/{model}", viewer, (*Server).getPlan},
	{"POST", "/admin/v1/drills", operator, (*Server).drill},
	{"POST", "/admin/v1/alerts/test", admin, (*Server).testAlerts},
}

func (s *Server) buildMux() http.Handler {
	mux := http.NewServeMux()
	methods := map[string][]string{}
	var paths []string
	for _, e := range endpoints {
		mux.Handle(e.method+" "+e.path, s.auth.Middleware(e.role, s.serve(e.h)))
		if methods[e.path] == nil {
			paths = append(paths, e.path)
		}
		methods[e.path] = append(methods[e.path], e.method)
	}
	// A pattern without a method is less specific than the ones with, so
	// it catches only the other methods and answers them in JSON.
	for _, p := range paths {
		allow := methods[p]
		if slices.Contains(allow, "GET") {
			allow = append(allow, "HEAD")
		}
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", strings.Join(allow, ", "))
			msg := r.Method + " is not allowed on " + r.URL.Path + ": use " + strings.Join(allow, " or ")
			writeJSON(w, http.StatusMethodNotAllowed, ErrorBody{Error: ErrorDetail{Message: msg, Type: sluice.CodeBadRequest, Code: sluice.CodeBadRequest}})
		})
	}
	mux.HandleFunc("/admin/v1/", func(w http.ResponseWriter, r *http.Request) {
		WriteError(w, sluice.Errorf(sluice.CodeNotFound, NoEndpointMessage+" %s %s: the API's paths start with /admin/v1/ followed by models, versions, apply, routes, summary, audit, requests, usage, tokens, keys, rollouts, shadow, plan, drills, alerts, replicas or whoami", r.Method, r.URL.Path))
	})
	return mux
}

// serve adapts a handlerFunc, writing its error.
func (s *Server) serve(h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Backends' credentials are shown only to the role that sets them:
		// redacted from every answer to the others (versions, routes, the
		// request log, audit entries, messages).
		if t, ok := ActorFrom(r.Context()); !ok || !SeesSecrets(t.Role) {
			w = RedactingWriter(w)
		}
		if err := h(s, w, r); err != nil {
			if sluice.ErrorCode(err) == sluice.CodeInternal || sluice.ErrorCode(err) == sluice.CodeUnavailable {
				s.log.Error("admin api", "method", r.Method, "path", r.URL.Path, "err", err)
			}
			WriteError(w, err)
		}
	})
}

// actor returns the name of the token that made the request.
func actor(r *http.Request) string {
	if t, ok := ActorFrom(r.Context()); ok {
		return t.Name
	}
	return "unknown"
}

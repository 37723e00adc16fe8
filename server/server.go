package server

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/control"
	"github.com/sluicehq/sluice/fleet"
	"github.com/sluicehq/sluice/judge"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/route"
	"github.com/sluicehq/sluice/ui"
)

// Options are what a Server needs besides its configuration.
type Options struct {
	// Config is the gateway configuration (config.Default() when zero).
	Config config.Gateway
	// Store, if set, is used instead of opening Config.Store. The Server
	// closes it on Shutdown either way.
	Store sluice.Store
	// Logger receives operational logs; nil discards them.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// HealthInterval overrides Config.Health.Interval (tests use a short
	// one).
	HealthInterval time.Duration
	// BudgetInterval overrides BudgetInterval, how often the client keys'
	// token budgets are summed (tests use a short one).
	BudgetInterval time.Duration
}

// Server is a running gateway.
type Server struct {
	Config   config.Gateway
	Store    sluice.Store
	Control  *control.Service
	Routes   *route.Holder
	Recorder *observe.Recorder
	Log      *observe.RequestLog
	Health   *proxy.HealthChecker
	Proxy    *proxy.Proxy
	Auth     *api.Auth
	API      *api.Server
	Rollouts *rollout.Controller
	// Ejector is the circuit breaker per version (nil when disabled).
	Ejector *proxy.Ejector
	// Backends adds the backends' configured headers (config backends)
	// and their URLs' credentials to every request sent to them; swapped
	// by ReloadBackends.
	Backends *proxy.Backends

	backendsMu  sync.Mutex         // ReloadBackends, one at a time
	backendsCfg []config.Backend   // the backends in force, as configured
	keysMu      sync.Mutex         // ReloadClientKeys, one at a time
	keysCfg     []config.ClientKey // the client keys in force, as configured
	// Keys checks client API keys on the data plane (nil when none): the
	// keys the gateway started with; ClientKeys returns those in force
	// after ReloadClientKeys.
	Keys *proxy.KeySet
	keys atomic.Pointer[proxy.KeySet] // issue 6: the keys in force, swapped on SIGHUP
	// requireKeys is require_client_keys as the gateway started; stored
	// is the store's client keys as last read (storedkeys.go).
	requireKeys bool
	stored      storedKeys
	budget      budgets // the token budgets' sums (budgets.go)
	// keyShare is how the live replicas share the client keys' limits (each
	// key weighted by where its requests arrive):
	// set from the beats on a shared store (fleet.go), 1 on SQLite.
	keyShare *proxy.KeyShare

	logger    *slog.Logger
	now       func() time.Time
	httpSrv   *http.Server
	front     *fastFront // issue 4: fasthttp in front of httpSrv on a plain listener
	adminSrv  *http.Server
	ln, admLn net.Listener
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	unhealthy map[string]bool
	ejected   map[string]string // issue 6: outlier ejection
	certs     []*tlsCert
	mu        sync.Mutex

	synthClient *http.Client
	drillSecret string            // passes the client-key check for sendSynthetic; never stored or shown
	alerts      *rollout.Webhooks // the rollouts' alert webhooks; Shutdown waits for their sends
	judge       *judge.Judge      // nil unless configured
	seed        seedState         // the windows' refill from the request log after a restart mid-rollout (seed.go)
	replica     *replica          // nil unless the store is shared (PostgreSQL)
	fleet       *fleet.Windows    // issue 5: the fleet-wide windows; nil unless the store is shared
	stopping    atomic.Bool       // set as Shutdown begins: /readyz answers 503 from then on
	drain       *fleet.Drain      // publishes the requests in flight for the fleet's rollback drains; nil unless the store is shared
	stopBeat    func()            // stops drain's beat; nil until startFleet
	// cutBase is the base context of the data plane's net/http requests
	// and cutReqs ends it (and the fast front's requests') with
	// proxy.ErrDrainCut when the shutdown's drain runs out of time; nil
	// until Start.
	storeWrites *storeWrites // sluice_store_write_errors_total
	waiting     *storeWait   // the sockets bound while the store was awaited; nil if it answered at once
	storeState  storeState   // the wait for the store at the start, on /metrics
	cutBase     context.Context
	cutReqs     context.CancelCauseFunc
	pairs       shadowPairs // where the admin API and the dashboard read the shadow pairs
	// tracing exports the data plane's spans (config tracing); nil when
	// off. ReloadTracing replaces it, under traceMu, with traceCfg the
	// block it was made from; traceDropped is its drop counter, made and
	// registered once; the tracings it replaced shut down in the
	// background (traceRetiring), at once when traceStop is closed.
	tracing       *tracing
	traceMu       sync.Mutex
	traceCfg      config.Tracing
	traceDropped  prometheus.Counter
	traceStop     chan struct{}
	traceRetiring sync.WaitGroup
	// trustedProxies is ui.trusted_proxies, read: the proxies whose
	// X-Forwarded-For the dashboard's sign-in throttle reads.
	trustedProxies []netip.Prefix
}

// New opens the store and builds every part of the gateway, without
// listening yet; but while it waits for a store not reachable yet
// (store_wait) it listens, answering that it is alive and not ready
// (storeWait), and Start serves on the same sockets.
func New(ctx context.Context, opt Options) (*Server, error) {
	var made *Server
	s, err := newServer(ctx, opt, &made)
	if err != nil && made != nil {
		made.closeHeld()
	}
	return s, err
}

// newServer is New; it sets *made as soon as the Server exists, for New
// to close what the wait for the store bound when a later step fails.
func newServer(ctx context.Context, opt Options, made **Server) (*Server, error) {
	cfg := opt.Config
	if cfg.Listen == "" && cfg.Store == "" {
		cfg = config.Default()
	}
	logger := opt.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	trusted, err := cfg.UI.TrustedProxyPrefixes()
	if err != nil {
		return nil, err
	}
	s := &Server{Config: cfg, logger: logger, now: now, Store: opt.Store, synthClient: &http.Client{Timeout: 30 * time.Second}, drillSecret: "slk_drill_" + rand.Text(), trustedProxies: trusted,
		keyShare: proxy.NewKeyShare()}
	*made = s
	s.stored.reloading = make(chan struct{}, 1)
	s.budget.kick, s.budget.every = make(chan struct{}, 1), BudgetInterval
	if opt.BudgetInterval > 0 {
		s.budget.every = opt.BudgetInterval
	}
	// The metrics exist before the store is opened: while the gateway
	// waits for it (store_wait) it serves /metrics (the Go runtime's and
	// the wait's own), so a scrape does not mark it down just then.
	s.Recorder = observe.New(observe.Options{})
	s.Recorder.Registry().MustRegister(s.storeState.collectors()...)
	s.Recorder.Registry().MustRegister(buildCollector())
	if s.Store == nil {
		st, err := openStoreWaiting(ctx, cfg.Store, cfg.StoreWaitTime(), logger, s.storeWaiting, s.storeMigrating)
		if err != nil {
			s.closeHeld()
			return nil, err
		}
		s.endStoreWait() // Start takes its sockets over
		s.Store = st
	}
	s.storeState.opened()
	ctl, err := control.New(ctx, s.Store, now)
	if err != nil {
		s.Store.Close()
		return nil, err
	}
	s.Control = ctl
	retention := cfg.RequestLog.Retention
	if cfg.RequestLog.Keep {
		retention = -1
	}
	s.Log = observe.NewRequestLog(s.Store, observe.LogOptions{
		BatchSize: cfg.RequestLog.BatchSize, FlushInterval: cfg.RequestLog.FlushInterval,
		Retention: retention, Now: now, Logger: logger,
	})
	s.Recorder.Registry().MustRegister(s.Log)
	s.storeWrites = newStoreWrites(s.Log.AppendErrors)
	s.Recorder.Registry().MustRegister(s.storeWrites)
	s.Control.SetWriteFailed(s.storeWrites.failed(whatRegistry))
	interval := cfg.Health.Interval
	if opt.HealthInterval > 0 {
		interval = opt.HealthInterval
	}
	// The backends' own headers (their API keys), shared by the proxy,
	// the health checks and warm-ups, swapped by ReloadBackends.
	if s.Backends, err = proxy.NewBackends(backendHeaders(cfg.Backends)); err != nil {
		s.closeEarly()
		return nil, fmt.Errorf("backends: %w", err)
	}
	s.backendsCfg = slices.Clone(cfg.Backends)
	s.Health = &proxy.HealthChecker{Path: cfg.Health.Path, Interval: interval, Timeout: cfg.Health.Timeout, FailAfter: cfg.Health.FailAfter, Logger: logger, Backends: s.Backends}
	// One Loads for every table: the counts of requests in flight to each
	// endpoint outlive the rebuild every change makes.
	ropt := route.Options{StickyHeaders: config.CanonicalHeaders(cfg.StickyHeaders), ForceHeader: cfg.ForceHeader, CategoryHeader: cfg.CategoryHeader,
		Balance: route.Balance(cfg.Balance), Loads: &route.Loads{}}
	s.Routes = route.NewHolder(route.Build(sluice.NewRegistry(), nil, ropt))
	s.Recorder.Registry().MustRegister(s.Health)
	s.Health.OnChange = func(unhealthy map[string]bool) {
		s.mu.Lock()
		s.unhealthy = unhealthy
		s.mu.Unlock()
		logHealthChange(logger, unhealthy, len(s.Health.DownEndpoints()))
		s.Control.Republish()
	}
	rlog := &routingLog{logger: logger}
	ctl.Subscribe(func(reg *sluice.Registry) {
		s.Health.SetTargets(reg)
		o := ropt
		o.DownEndpoints = s.Health.DownEndpoints() // issue 6: a dead replica of a version
		if cfg.Rollouts.UnloadWebhook != "" {
			// A rolled-back candidate's backend is unloaded: a pin to it is
			// answered 410, saying so, not sent to a backend that is gone.
			o.Unloaded = rollout.Unloaded(reg)
		}
		out := s.outOfService()
		s.Routes.Store(route.Build(reg, out, o))
		rlog.rebuilt(reg, out, o.DownEndpoints)
	})
	s.Auth = api.NewAuth(s.Store, cfg.StaticTokens())
	s.Auth.Now = s.now // token expiry and last use read the server's clock
	s.warnTokenExpiry(cfg.Tokens)
	// Issue 6: ejected versions leave splits like unhealthy ones; client
	// API keys, when configured, guard the data plane.
	s.Ejector = s.newEjector(cfg.OutlierEjection)
	s.requireKeys = cfg.RequireClientKeys
	if s.Keys, err = s.newKeySet(cfg.ClientKeys); err != nil {
		s.closeEarly()
		return nil, err
	}
	s.keysCfg = slices.Clone(cfg.ClientKeys)
	if err := s.ReloadStoredKeys(ctx); err != nil {
		// The reconcile (on a shared store) or the first secret not held
		// reads them again.
		logger.Warn("client keys issued through the admin API not read; the config file's are in force", "err", err)
	}
	popt := proxy.Options{ForceAllowed: s.forceAllowed}
	if s.Ejector != nil {
		popt.OnResult = s.Ejector.Result
		s.Recorder.Registry().MustRegister(s.Ejector)
	}
	if s.Keys != nil {
		popt.Admit, popt.ForceAllowed = s.Keys.Admit, s.Keys.ForceAllowed
	}
	refusal := observe.NewRefusalDetector(cfg.RefusalPhrases)
	var rememberIDs, pairsKept int // 0: the proxy's defaults
	if n := cfg.Responses.RememberIDs; n != nil {
		rememberIDs = *n
	}
	if n := cfg.Shadow.PairsKept; n != nil {
		pairsKept = *n
	}
	// On a shared store, the replica's name and the fleet's windows come
	// before the proxy: its shadow pairs go to the store under that name.
	s.replica = newReplica(s.Store, logger)
	windows := s.windows() // issue 5: the fleet's union on a shared store
	// A restart mid-rollout carries on the stage's sample (SQLite: the
	// windows are memory): the rows before now are read back once the
	// gateway serves (Start), as the read can take seconds.
	s.planSeed()
	s.pairs.stored = s.newFleetPairs()
	var onPair func(proxy.ShadowPair)
	if s.pairs.stored != nil {
		onPair = s.pairs.stored.Add
	}
	var ptrace *proxy.Tracing
	s.traceCfg = cfg.Tracing
	if cfg.Tracing.Enabled() {
		s.traceDropped = newDroppedCounter()
	}
	if s.tracing, err = newTracing(cfg.Tracing, logger, s.traceDropped); err != nil {
		s.closeEarly()
		return nil, err
	}
	if s.tracing != nil {
		ptrace = s.tracing.proxyTracing(s)
		s.Recorder.Registry().MustRegister(s.traceDropped)
	}
	flog, lone := s.feedbackLog()
	s.Proxy = proxy.New(proxy.Options{
		Routes: s.Routes, Recorder: s.Recorder, Log: s.Log, Refusal: refusal,
		MaxBodyBytes: cfg.MaxBodyBytes, MaxAudioBodyBytes: cfg.MaxAudioBodyBytes, NoRetry: !*cfg.RetryOnStable,
		RetryBudget:    &proxy.RetryBudget{Percent: *cfg.Retries.BudgetPercent, MinPerSecond: *cfg.Retries.MinPerSecond},
		ConnectTimeout: cfg.Timeouts.Connect, FirstByteTimeout: cfg.Timeouts.FirstByte, RequestTimeout: cfg.Timeouts.Request,
		IdleTimeout:    proxyIdle(cfg.Timeouts),
		CategoryHeader: cfg.CategoryHeader, ForceAllowed: popt.ForceAllowed, ForceHeader: cfg.ForceHeader, Now: now,
		OnResult: popt.OnResult, Admit: popt.Admit,
		Judge: s.newJudge(cfg.Judge), ResponseIDs: rememberIDs, ShadowPairs: pairsKept, OnShadowPair: onPair,
		Backends: s.Backends, Tracing: ptrace, Logger: logger,
		FeedbackLog: flog, FeedbackLone: lone, FeedbackWait: cfg.RequestLog.FlushInterval + proxy.DefaultFeedbackWait,
	})
	s.pairs.proxy = s.Proxy
	// Issue 3 (shadow, quality signals): the proxy records heuristic and
	// feedback quality scores through the Recorder it was given; export its
	// shadow counters and in-flight gauges on the same /metrics.
	s.Recorder.Registry().MustRegister(s.Proxy.Collector())
	// The budgeted keys' budgets and use, of the keys in force at each
	// scrape (budgets.go sums the use).
	s.Recorder.Registry().MustRegister(proxy.BudgetCollector(s.ClientKeys))
	// This replica's share of each limited key's limits on a fleet, of the
	// keys in force at each scrape (fleet.go weighs the shares).
	s.Recorder.Registry().MustRegister(proxy.LimitShareCollector(s.ClientKeys))
	var hooks []rollout.Webhook
	for _, w := range cfg.Rollouts.Alerts {
		hooks = append(hooks, alertHook(w))
	}
	s.alerts = &rollout.Webhooks{Hooks: hooks, Logger: logger}
	prom, err := prometheusGates(cfg.Prometheus) // issue 5: Prometheus gates
	if err != nil {
		s.closeEarly()
		return nil, err
	}
	ropts := rollout.Options{
		Control: ctl, Windows: windows,
		Warmer:       &rollout.HTTPWarmer{HealthPath: cfg.Health.Path, Prepare: s.Backends.Prepare},
		Alerts:       s.alerts,
		DrainTimeout: cfg.Rollouts.DrainTimeout, Tick: cfg.Rollouts.Tick,
		Unload: unloadHook(cfg.Rollouts.UnloadWebhook, ctl.Registry),
		Now:    now, Logger: logger,
		// Issue 5: on a shared store only the elected replica decides.
		Leader: s.replica.leading(),
		// Issue 3: the proxy mirrors shadow traffic and counts the
		// requests in flight per version, for draining on rollback.
		Shadow: s.Proxy, InFlight: s.Proxy.InFlight,
		// Issue 6: a candidate ejected or failing health checks rolls back.
		OutOfService: s.OutOfService,
		Prometheus:   prom,
		// A restart mid-rollout: no analysis on half-filled windows.
		Seeding: s.seeding,
		// Users' ratings and the judge's grades, as the store keeps
		// them: an A/B report drawn after a restart or a change of
		// leader counts them all.
		Feedback: s.Store, Grades: s.Store,
	}
	// On a shared store the drain also waits for the other replicas'
	// requests, and the leader completes a dead replica's rollbacks.
	s.fleetDrain(&ropts)
	s.Rollouts = rollout.New(ropts)
	s.publishRouted()
	// Issue 7: the rollouts' phase, stage and outcomes on /metrics, for the
	// alerting rules in deploy/prometheus.
	s.Recorder.Registry().MustRegister(rollout.NewMetrics(ctl, s.Rollouts.StageSamples))
	s.API = api.New(api.Options{
		Control: ctl, Auth: s.Auth, Now: now,
		Logger:   logger, // not slog.Default's text lines under log.format json
		Rollouts: rolloutAPI{s},
		Alerts:   s.alerts,
		// An apply probes the endpoints it adds from here, where the
		// backends are reached, as the health checker will: the CLI may
		// run where they are not (a laptop outside the cluster).
		Probe: api.HTTPProbe(cfg.Health.Path, cfg.Health.Timeout, s.Backends.Prepare),
		Rate: func(model string) float64 {
			var total float64
			for _, v := range s.summary(model, now().Add(-5*time.Minute)) {
				total += v.RatePerSecond
			}
			return total
		},
		Routes: func() any { return s.Routes.Load().Models() },
		ModelRoutes: func(model string) (any, bool) {
			v, ok := s.Routes.Load().View(model)
			return v, ok
		},
		Summary:     func(model string, since time.Time) any { return s.summary(model, since) },
		ShadowPairs: s.pairs,
		Replica:     s.Replica,
		Replicas:    s.replicas,
		// The keys in force, as SIGHUP reloads them: a ?key= naming none
		// that matches no request is refused without being repeated.
		ClientKeys: func(name string) (bool, bool) {
			ks := s.ClientKeys()
			return ks.Has(name), ks != nil && ks.Len() > 0
		},
		ConfigKeys:    s.ConfigKeys,
		ReloadKeys:    s.ReloadStoredKeys,
		KeyBudget:     s.keyBudget,
		LimitReplicas: s.LimitReplicas,
		LimitShare:    s.LimitShare,
		LogRetention:  s.retention(),
	})
	if cfg.ModelsFile != "" {
		doc, refs, err := config.LoadApplyFileRefs(cfg.ModelsFile)
		if len(refs) > 0 {
			// A secret rotated in such a file was neither sent (the
			// file is applied at start only) nor, in an endpoint's
			// user:password@, taken at the next start: a version's
			// endpoints cannot change, so that start was refused.
			logger.Warn("models_file: its ${file:} references are read once, at start: a change of those files is not applied while the gateway runs, and a credential in an endpoint URL cannot change (a version's endpoints are fixed, so a restart after a rotation is refused); keep backend keys in the config file's backends headers with ${file:PATH}, which are watched and reloaded (reload.watch)", "file", cfg.ModelsFile, "references", strings.Join(refs, ", "))
		}
		if err == nil {
			_, err = ctl.Do(ctx, "config", "models_file "+cfg.ModelsFile+" applied at start", func(e *sluice.Edit) error {
				doc, kept := s.keepRolloutRouting(doc, e.Registry()).KeepLaterStages(e.Registry()) // issue 6: a restart mid-rollout
				for _, k := range kept {
					// A promotion since the file was written: the file is
					// behind, and refusing it refused every restart.
					logger.Info("models_file: "+k+"; a stage does not go back (write the new stage in the file, or leave stage out)", "file", cfg.ModelsFile)
				}
				return e.Apply(doc)
			})
		}
		if err != nil {
			s.closeEarly()
			var se *sluice.Error
			if errors.As(err, &se) {
				// The CLI prints a sluice.Error's message alone: name the
				// file in it, or a refused start does not say where to look.
				return nil, &sluice.Error{Code: se.Code, Fields: se.Fields, Message: "models_file " + cfg.ModelsFile + ": " + se.Message}
			}
			return nil, fmt.Errorf("apply models_file: %w", err)
		}
		for _, m := range doc.Models {
			if m.Target != "" {
				// A restart must not start rollouts: only an admin's apply does.
				logger.Warn("models_file: target is not acted on at start; start the rollout with sluice apply -f or sluice rollout start", "model", m.Name, "target", m.Target)
			}
		}
	}
	return s, nil
}

// closeEarly undoes New after the request log started: its writer stops
// (it would go on writing to, and pruning, a closed store) and the store
// closes.
// proxyIdle is timeouts.idle as proxy.Options takes it: its 0 (off) is
// the proxy's negative, as the proxy's 0 is the default.
func proxyIdle(t config.Timeouts) time.Duration {
	if d := t.IdleTimeout(); d > 0 {
		return d
	}
	return -1
}

func (s *Server) closeEarly() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.Log.Close(ctx)
	s.tracing.shutdown(ctx)
	s.Store.Close()
}

// forceAllowed honours the force-version header only for callers with an
// operator or admin token.
func (s *Server) forceAllowed(r *http.Request) bool {
	// Only a request that forces pays for the token check.
	if r.Header.Get(s.Config.ForceHeader) == "" || r.Header.Get("Authorization") == "" {
		return false
	}
	t, err := s.Auth.Authenticate(r)
	if err != nil {
		return false
	}
	// The credential is Sluice's own, not the backend's: it must not
	// reach the backend (or a shadow), which could then change routing.
	r.Header.Del("Authorization")
	return t.Role.Allows(sluice.RoleOperator)
}

// Handler returns the gateway's routes: the OpenAI API, and, unless the
// admin API listens apart, /admin/v1/, /metrics and the health endpoints.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/v1/", s.boundWrites(s.wrapKeys(s.Proxy)))
	if s.Config.AdminListen == "" {
		s.adminRoutes(mux)
	} else {
		// Say where to go rather than a bare 404 (the CLI's default server
		// is the default listen address). The admin address itself is not
		// named: it is often kept off the network the data plane faces.
		mux.HandleFunc("/admin/", func(w http.ResponseWriter, r *http.Request) {
			api.WriteError(w, sluice.Errorf(sluice.CodeNotFound, "the admin API is not served on this address: this gateway serves it on its admin_listen address; point --server (or SLUICE_SERVER) there"))
		})
		// The same for the dashboard, the metrics and readiness: an SRE
		// who curls /metrics or opens /ui on the data plane's address got
		// a bare "404 page not found" from a gateway that serves them.
		elsewhere := func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, r.URL.Path+" is not served on this address: this gateway serves the dashboard (/ui), /metrics, /readyz and /debug/pprof/ on its admin_listen address; use that one", http.StatusNotFound)
		}
		for _, p := range []string{"/ui", "/ui/", "/metrics", "/readyz", "/debug/pprof/"} {
			mux.HandleFunc(p, elsewhere)
		}
	}
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	// vLLM serves rerank and score outside /v1/ too (/rerank, /v2/rerank,
	// /score); the gateway's data plane is /v1/ alone, whose rerank and
	// score take the same bodies. A client sent there is told so rather
	// than given a bare "404 page not found".
	for p, at := range map[string]string{"/rerank": "/v1/rerank", "/v2/rerank": "/v1/rerank", "/score": "/v1/score"} {
		mux.HandleFunc(p, func(w http.ResponseWriter, r *http.Request) {
			proxy.WriteError(w, sluice.Errorf(sluice.CodeNotFound, "%s is not served: the gateway serves it at %s, which takes the same body (vLLM serves both); send the request there", p, at))
		})
	}
	return mux
}

// AdminHandler returns the admin routes alone.
func (s *Server) AdminHandler() http.Handler {
	mux := http.NewServeMux()
	s.adminRoutes(mux)
	return mux
}

func (s *Server) adminRoutes(mux *http.ServeMux) {
	mux.Handle("/admin/", s.API.Handler())
	s.pprofRoutes(mux) // issue 4: /debug/pprof/ for admin tokens
	// Issue 7: the dashboard, served through the admin API.
	var windows ui.Windows = s.Recorder
	var lag time.Duration
	if s.fleet != nil { // a shared store: chart the whole fleet's traffic
		windows, lag = s.fleet, s.fleet.Lag()
	}
	dash := ui.New(ui.Options{API: s.API, Control: s.Control, Windows: windows, Lag: lag, Now: s.now, Logger: s.logger,
		SecureCookie: s.Config.UI.SecureCookie, TrustedProxies: s.trustedProxies,
		ShadowPairs: s.recentPairs(s.pairs)})
	mux.Handle("/ui/", dash.Handler())
	mux.Handle("/ui", http.RedirectHandler("/ui/", http.StatusFound))
	mux.Handle("/metrics", s.Recorder.Handler())
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		s.ready(w, r) // issue 5: replicas stay ready while a shared store is down
	})
}

// Start listens on the configured addresses and serves until Shutdown.
func (s *Server) Start() error {
	ln, err := s.listen(s.Config.Listen, "listen", s.Config.TLS, "tls")
	if err != nil {
		return err
	}
	s.ln = ln
	s.httpSrv = newHTTPServer(s.Handler())
	s.cutBase, s.cutReqs = context.WithCancelCause(context.Background())
	s.httpSrv.BaseContext = func(net.Listener) context.Context { return s.cutBase }
	if s.Config.AdminListen != "" {
		aln, err := s.listen(s.Config.AdminListen, "admin_listen", s.Config.AdminTLSConfig(), "admin_tls")
		if err != nil {
			ln.Close()
			return err
		}
		s.admLn = aln
		s.adminSrv = newHTTPServer(s.AdminHandler())
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.Health.Run(ctx) }()
	go func() { defer s.wg.Done(); s.Rollouts.Run(ctx) }()
	s.wg.Add(2)
	go func() { defer s.wg.Done(); s.seedWindows(ctx) }()
	go func() { defer s.wg.Done(); s.watchStore(ctx) }() // sluice_store_ready after the start
	if s.Ejector != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.Ejector.Run(ctx) }()
	}
	if s.Keys != nil {
		s.wg.Add(1)
		go func() { defer s.wg.Done(); s.runBudgets(ctx) }()
	}
	s.startReplica(ctx) // issue 5: hear other replicas, elect the controller
	s.startFleet(ctx)   // issue 5: exchange observations for the fleet-wide analysis
	if s.Config.HTTPServer == "fasthttp" && !s.Config.TLS.Enabled() {
		s.front = s.newFastFront(s.ln.Addr(), s.wrapKeys(s.Proxy), s.httpSrv)
		s.front.serve(s, s.ln)
	} else {
		s.serve(s.httpSrv, s.ln)
	}
	if s.adminSrv != nil {
		s.serve(s.adminSrv, s.admLn)
	}
	// Which binary this is, and the schema it runs its store at: during a
	// rolling upgrade the logs say which replicas run which release.
	build := BuildInfo()
	if s.fleet != nil {
		// The name this replica's audit entries, beats and rollback work
		// carry, so that an operator can tell which process took an action.
		s.logger.Info("sluice listening", "addr", s.Addr(), "admin", s.AdminAddr(), "replica", s.fleet.Replica(), "release", build.Release, "schema", build.PostgresSchema)
	} else {
		s.logger.Info("sluice listening", "addr", s.Addr(), "admin", s.AdminAddr(), "release", build.Release, "schema", build.SQLiteSchema)
	}
	s.warnKeyModels(s.keysCfg)
	if s.Config.AdminListen == "" && !loopbackOnly(s.ln.Addr()) {
		s.logger.Warn("the admin API, the dashboard and its sign-in, /metrics and /readyz are served on the data plane's address, which is not loopback only: set admin_listen (such as 127.0.0.1:9090) to keep them off the network the data plane faces", "addr", s.Addr())
	}
	return nil
}

// loopbackOnly reports whether a listener's address is reached from this
// host only.
func loopbackOnly(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

func (s *Server) serve(srv *http.Server, ln net.Listener) {
	srv.ErrorLog = slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn) // TLS handshakes, broken connections
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logger.Error("serve", "err", err)
		}
	}()
}

// newHTTPServer sets the timeouts that keep slow clients from holding the
// server: headers must arrive within 10 s; there is no write timeout, since
// streams may last minutes (the proxy's request timeout bounds them).
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// Addr returns the data plane's listening address.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// AdminAddr returns the admin API's address (the data plane's when shared).
func (s *Server) AdminAddr() string {
	if s.admLn != nil {
		return s.admLn.Addr().String()
	}
	return s.Addr()
}

// URL returns the data plane's base URL, such as http://127.0.0.1:8080.
func (s *Server) URL() string { return scheme(s.Config.TLS) + s.Addr() }

// AdminURL returns the admin API's base URL.
func (s *Server) AdminURL() string {
	if s.admLn != nil {
		return scheme(s.Config.AdminTLSConfig()) + s.AdminAddr()
	}
	return s.URL()
}

// CreateToken creates an admin API token and returns its secret. It is how
// the first token is made (see EnsureBootstrapToken) and how tests get one.
func (s *Server) CreateToken(ctx context.Context, name string, role sluice.Role, actor, reason string) (string, error) {
	secret, err := api.NewSecret()
	if err != nil {
		return "", err
	}
	t := sluice.Token{Name: name, Role: role, Hash: sluice.HashSecret(secret), CreatedAt: s.now().UTC()}
	audit := sluice.AuditEntry{At: t.CreatedAt, Actor: actor, Action: "token.create", Subject: name, Reason: reason}
	if err := s.Store.PutToken(ctx, t, audit); err != nil {
		return "", err
	}
	return secret, s.Auth.Reload(ctx)
}

// EnsureBootstrapToken creates an admin token named "bootstrap-admin" when
// neither the configuration nor the store holds any token, so a fresh
// gateway can be administered; it returns the secret, or "" when tokens
// already exist.
func (s *Server) EnsureBootstrapToken(ctx context.Context) (string, error) {
	if len(s.Config.Tokens) > 0 {
		return "", nil
	}
	ts, err := s.Store.Tokens(ctx)
	if err != nil || len(ts) > 0 {
		return "", err
	}
	return s.CreateToken(ctx, "bootstrap-admin", sluice.RoleAdmin, "sluice", "first start: no admin token existed")
}

// The shutdown's time budget. `sluice serve` gives Shutdown a context that
// ends after the config's shutdown.drain (config.DefaultDrain, 30 s, when
// left out): the wait for the requests in flight (streams included) on
// SIGTERM. A supervisor (systemd's TimeoutStopSec, a Kubernetes pod's
// terminationGracePeriodSeconds less its preStop sleep) must allow that
// drain + ShutdownTail, or it kills the process while it writes the request
// log's last rows or sends a rollback's alert (deploy/kubernetes_test.go
// checks the files shipped in deploy/ against the default).
const (
	// ShutdownTail bounds what Shutdown does once its context has ended:
	// the pending rollback alerts, on a shared store this replica's last
	// observations for the fleet-wide analysis, the request log's last
	// rows, and the store's close (the PostgreSQL pool waits up to 3 s).
	ShutdownTail = alertFlushTimeout + fleetFlushTimeout + logFlushTimeout + 3*time.Second
)

// alertFlushTimeout is how long Shutdown waits at least for the alerts of
// rollbacks that ended during the drain.
const alertFlushTimeout = 5 * time.Second

// logFlushTimeout bounds writing the request log's last rows at shutdown.
const logFlushTimeout = 5 * time.Second

// Shutdown stops accepting requests, waits for those in flight (streams
// included) until ctx ends, flushes the request log (for up to
// logFlushTimeout more) and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	s.closeHeld()          // a gateway stopped before Start
	s.stopping.Store(true) // /readyz: not ready from here, while the drain runs
	if s.drain != nil {
		// No new requests from here: the other replicas stop counting
		// this one among those sharing the client keys' limits at once,
		// not when its drain ends and its beat goes.
		s.drain.Draining()
	}
	if s.cancel != nil {
		s.cancel()
	}
	var drainErrs []error
	if s.front != nil {
		if err := s.front.shutdown(ctx); err != nil {
			drainErrs = append(drainErrs, err)
		}
	}
	for _, srv := range []*http.Server{s.httpSrv, s.adminSrv} {
		if srv != nil && (s.front == nil || srv != s.httpSrv) {
			if err := srv.Shutdown(ctx); err != nil {
				drainErrs = append(drainErrs, err)
			}
		}
	}
	drained, ranOut := drainError(drainErrs, s.Proxy.InFlightVersions(), s.Proxy.InFlightMirrors())
	errs = append(errs, drained...)
	if ranOut {
		s.cutInFlight()
	}
	s.wg.Wait()
	// The alerts of rollbacks that ended during the drain: their page must
	// not be lost to the exit. Waited for until ctx ends, and at least 5 s
	// (a receiver that answers takes milliseconds).
	wait := alertFlushTimeout
	if dl, ok := ctx.Deadline(); ok {
		wait = max(wait, time.Until(dl))
	}
	actx, acancel := context.WithTimeout(context.WithoutCancel(ctx), wait)
	if ranOut {
		// The requests just cut off recorded (their rows enqueued, their
		// observations in the windows, their keys' last use) before what
		// follows flushes them: the fleet's last flush, the request log.
		// Within the alerts' bound, so ShutdownTail is unchanged.
		s.awaitCut(actx)
	}
	s.stored.touches.Wait() // the keys' last use, each write bounded
	s.alerts.Wait(actx)
	acancel()
	s.Proxy.Close() // stop shadow workers after the last request
	s.flushFleet()  // issue 5: what this replica observed last, for the others
	s.stopDrainBeat()
	// The request log has a bound of its own: the drain above may have
	// used all of ctx (a stream outliving it), and the rows of requests
	// already answered must still be written (ShutdownTail counts it).
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), logFlushTimeout)
	defer cancel()
	// The judge stops grading, and the grades it took that wait for the
	// store are written meanwhile, within the same bound (an A/B report
	// drawn after this restart counts them): ShutdownTail is unchanged.
	judged := make(chan struct{})
	go func() {
		defer close(judged)
		if s.judge != nil {
			s.judge.CloseContext(lctx)
		}
	}()
	// The last spans are exported meanwhile, within the same bound: the
	// shutdown's budget (ShutdownTail) is unchanged.
	traced := make(chan error, 1)
	go func() { traced <- s.shutdownTracing(lctx) }()
	if err := s.Log.Close(lctx); err != nil {
		errs = append(errs, fmt.Errorf("flush request log: %w", err))
	}
	if err := <-traced; err != nil {
		// Spans are not worth a failed shutdown: said, not returned.
		s.logger.Warn(err.Error(), "hint", "the collector (tracing.otlp_endpoint) did not take the last spans in time; they are lost")
	}
	<-judged
	if err := s.Store.Close(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// drainError is what the servers' shutdown errors tell an operator: a
// drain that ran out of time (each server's bare "context deadline
// exceeded", once per server) becomes one error saying how many requests
// were still in flight, of which versions, and what became of them, with
// the mirrored (shadow) requests among them, which no client waits on,
// counted apart; other errors are kept as they are. ranOut reports that the
// drain ran out of time.
func drainError(errs []error, inFlight, mirrors map[string]int64) (kept []error, ranOut bool) {
	for _, err := range errs {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			ranOut = true
			continue
		}
		kept = append(kept, err)
	}
	if !ranOut {
		return kept, false
	}
	clients := map[string]int64{}
	for id, c := range inFlight {
		// Read a moment apart: a mirror may have ended in between.
		if c -= mirrors[id]; c > 0 {
			clients[id] = c
		}
	}
	n, list := countsText(clients)
	m, mlist := countsText(mirrors)
	if n == 0 && m == 0 {
		return append(kept, errors.New("drain: its time ran out while connections were still being closed; no request was in flight")), true
	}
	var msg string
	if n > 0 {
		noun := "requests were"
		if n == 1 {
			noun = "request was"
		}
		msg = fmt.Sprintf("drain: its time ran out and %d %s cut off in flight (%s): their clients got a 503 saying the gateway shut down, or a stream cut short with an error event saying so; each is in the request log with the error class %s and the version that was serving it (sluice requests), and counted in sluice_requests_total, but not against its version in the canary analysis", n, noun, list, sluice.ClassDrainCut)
	} else {
		msg = "drain: its time ran out with no client's request in flight"
	}
	if m > 0 {
		noun := "mirrored requests"
		if m == 1 {
			noun = "mirrored request"
		}
		msg += fmt.Sprintf(", and %d %s (%s), whose answers no client waited for, were dropped", m, noun, mlist)
	}
	if n > 0 {
		msg += "; to let requests this long finish, raise shutdown.drain in the config (a reload applies it) and the supervisor's stop timeout with it (terminationGracePeriodSeconds, TimeoutStopSec)"
	}
	return append(kept, errors.New(msg)), true
}

// countsText sums counts and lists them by id ("chat:v1: 2, chat:v2: 1").
func countsText(counts map[string]int64) (int64, string) {
	var n int64
	ids := make([]string, 0, len(counts))
	for id, c := range counts {
		if c > 0 {
			n += c
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = fmt.Sprintf("%s: %d", id, counts[id])
	}
	return n, strings.Join(parts, ", ")
}

// cutInFlight ends the context of every data-plane request still in flight
// when the drain has run out of time, with proxy.ErrDrainCut as the cause:
// the proxy then records each (class drain_cut, the version serving it, its
// latency up to the cut), where the exit left them without a row.
func (s *Server) cutInFlight() {
	if s.cutReqs != nil {
		s.cutReqs(proxy.ErrDrainCut)
	}
	if s.front != nil {
		s.front.hangups.cut(proxy.ErrDrainCut)
	}
}

// clientsInFlight is the number of the data plane's requests in flight,
// mirrors left out.
func (s *Server) clientsInFlight() int64 {
	var n int64
	for _, c := range s.Proxy.InFlightVersions() {
		n += c
	}
	for _, c := range s.Proxy.InFlightMirrors() {
		n -= c
	}
	return n
}

// cutWait bounds how long Shutdown waits for the requests cutInFlight cut
// to be recorded: each ends within milliseconds of its context.
const cutWait = 2 * time.Second

// awaitCut waits, up to cutWait and until ctx ends, for the requests cut
// off by cutInFlight to leave the proxy (recorded, their rows enqueued).
// It runs within the alerts' bound (alertFlushTimeout), so ShutdownTail is
// unchanged.
func (s *Server) awaitCut(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, cutWait)
	defer cancel()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	// The clients' requests only: the mirrors still in flight end when
	// the proxy closes, after this.
	for s.clientsInFlight() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// logHealthChange logs the versions now out of service (every endpoint
// failing its health checks) as a warning naming them, or at info that
// every version is back; a version down from the start was logged at info
// as a Go map ("unhealthy=map[chat:v1.2.0:true]").
func logHealthChange(logger *slog.Logger, unhealthy map[string]bool, endpointsDown int) {
	var down []string
	for id, bad := range unhealthy {
		if bad {
			down = append(down, id)
		}
	}
	if len(down) == 0 {
		logger.Info("backend health changed", "unhealthy", "", "endpoints_down", endpointsDown)
		return
	}
	slices.Sort(down)
	logger.Warn("backend health changed", "unhealthy", strings.Join(down, ", "), "endpoints_down", endpointsDown,
		"hint", "these versions fail their health checks on every endpoint and get no traffic; sluice get routes shows each endpoint's health")
}

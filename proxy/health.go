package proxy

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
)

// HealthChecker polls every servable version's backends and reports the
// versions whose every endpoint has failed FailAfter checks in a row; the
// routing table leaves those out of splits.
type HealthChecker struct {
	// Path is requested on each endpoint; default /health (vLLM, TGI and
	// llama.cpp serve it). A 2xx answer is healthy.
	Path string
	// Interval between rounds; default 5 s.
	Interval time.Duration
	// Timeout per check; default 2 s.
	Timeout time.Duration
	// FailAfter is how many failures in a row mark an endpoint down;
	// default 2. One success marks it up again.
	FailAfter int
	// OnChange is called with the new set of unhealthy version ids when it
	// changes, or when the set of endpoints found down (DownEndpoints)
	// changes.
	OnChange func(unhealthy map[string]bool)
	// Client sends the checks; nil means a client per endpoint with
	// Timeout that does not follow redirects, whose idle connection is
	// closed when the endpoint is no longer named. A Client given is
	// shared: all its idle connections are closed when an endpoint it
	// checked is no longer named.
	Client *http.Client
	// Backends gives the headers each check carries, as the proxy's
	// requests do (the endpoint's credentials, the configured headers): a
	// backend that wants a key on /health gets it. Nil sends the URL's
	// credentials only.
	Backends *Backends
	// Logger gets a debug record for each endpoint's transition (its first
	// failed check, down after FailAfter, up again); nil means none. The
	// version-level change is the caller's to log (OnChange).
	Logger *slog.Logger

	mu        sync.Mutex
	targets   map[string][]string // version id → endpoints
	fails     map[string]int      // endpoint → failures in a row
	unhealthy map[string]bool
	down      map[string]bool         // endpoints with FailAfter failures in a row
	checked   map[string]bool         // endpoints checked at least once
	clients   map[string]*http.Client // endpoint → its own client (Client nil)
}

// DownEndpoints returns a copy of the set of endpoints found down (FailAfter
// failures in a row): a version with other endpoints up sends its requests
// to those (route.Options.DownEndpoints).
func (h *HealthChecker) DownEndpoints() map[string]bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.down)
}

// SetTargets replaces the versions to check with reg's servable versions.
func (h *HealthChecker) SetTargets(reg *sluice.Registry) {
	t := map[string][]string{}
	for id, v := range reg.Versions {
		if v.Stage.Servable() {
			t[id] = v.Endpoints
		}
	}
	h.mu.Lock()
	h.targets = t
	h.forget()
	h.mu.Unlock()
}

// forget drops what is kept of endpoints the targets no longer name (a
// version retired, an endpoint replaced): their failures in a row, down
// and checked marks, and closes their idle connections. Kept, an endpoint
// that failed before it was removed came back, named again, down from its
// first failed check (with no "down" transition logged), its
// sluice_endpoint_up at 0; a fleet whose backends come and go (pods) grew
// the map for ever; and the connection to a removed pod stayed in the
// idle pool for the transport's idle timeout (90 s). h.mu is held.
func (h *HealthChecker) forget() {
	named := h.named()
	for e, c := range h.clients {
		if !named[e] {
			c.CloseIdleConnections()
			delete(h.clients, e)
		}
	}
	if h.Client != nil {
		for e := range h.checked {
			if !named[e] {
				h.Client.CloseIdleConnections()
				break
			}
		}
	}
	for _, m := range []map[string]bool{h.down, h.checked} {
		for e := range m {
			if !named[e] {
				delete(m, e)
			}
		}
	}
	for e := range h.fails {
		if !named[e] {
			delete(h.fails, e)
		}
	}
}

// named returns the set of endpoints the targets name. h.mu is held.
func (h *HealthChecker) named() map[string]bool {
	named := map[string]bool{}
	for _, eps := range h.targets {
		for _, e := range eps {
			named[e] = true
		}
	}
	return named
}

// Unhealthy returns a copy of the set of unhealthy version ids.
func (h *HealthChecker) Unhealthy() map[string]bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return maps.Clone(h.unhealthy)
}

// Run checks every Interval until ctx ends.
func (h *HealthChecker) Run(ctx context.Context) {
	if h.Interval <= 0 {
		h.Interval = 5 * time.Second
	}
	t := time.NewTicker(h.Interval)
	defer t.Stop()
	for {
		h.CheckNow(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// CheckNow runs one round of checks and reports a change through OnChange.
func (h *HealthChecker) CheckNow(ctx context.Context) {
	if h.Path == "" {
		h.Path = "/health"
	}
	if h.Timeout <= 0 {
		h.Timeout = 2 * time.Second
	}
	if h.FailAfter <= 0 {
		h.FailAfter = 2
	}
	h.mu.Lock()
	targets := maps.Clone(h.targets)
	endpoints := map[string]bool{}
	clients := map[string]*http.Client{}
	for _, eps := range targets {
		for _, e := range eps {
			endpoints[e] = true
			clients[e] = h.client(e)
		}
	}
	h.mu.Unlock()
	results := make(map[string]bool, len(endpoints))
	var wg sync.WaitGroup
	var rmu sync.Mutex
	for e := range endpoints {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := h.probe(ctx, clients[e], e)
			rmu.Lock()
			results[e] = ok
			rmu.Unlock()
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return
	}
	h.mu.Lock()
	if h.fails == nil {
		h.fails = map[string]int{}
	}
	// The targets may have changed during the round: results for an
	// endpoint no longer named are dropped, not kept for ever, and the
	// connection its check left idle is closed (forget closed the client's
	// pool before the check put it back).
	named := h.named()
	for e := range results {
		if !named[e] {
			delete(results, e)
			clients[e].CloseIdleConnections()
		}
	}
	targets = h.targets
	type transition struct {
		endpoint, what string
		fails          int
	}
	var moved []transition
	for e, ok := range results {
		before := h.fails[e]
		if ok {
			delete(h.fails, e)
		} else {
			h.fails[e]++
		}
		switch n := h.fails[e]; {
		case ok && before >= h.FailAfter:
			moved = append(moved, transition{e, "up again", before})
		case ok && before > 0:
			moved = append(moved, transition{e, "passed again before it was marked down", before})
		case n == h.FailAfter:
			moved = append(moved, transition{e, "down", n})
		case n == 1:
			moved = append(moved, transition{e, "failed", n})
		}
	}
	next := map[string]bool{}
	for id, eps := range targets {
		down := len(eps) > 0
		for _, e := range eps {
			if h.fails[e] < h.FailAfter {
				down = false
			}
		}
		if down {
			next[id] = true
		}
	}
	down := map[string]bool{}
	for e, n := range h.fails {
		if n >= h.FailAfter && endpoints[e] && named[e] {
			down[e] = true
		}
	}
	changed := !maps.Equal(next, h.unhealthy) || !maps.Equal(down, h.down)
	h.unhealthy, h.down = next, down
	h.checked = endpoints
	h.forget()
	h.mu.Unlock()
	if h.Logger != nil {
		for _, m := range moved {
			h.Logger.Debug("health check: endpoint "+m.what, "endpoint", RedactedEndpoint(m.endpoint), "failures_in_a_row", m.fails, "fail_after", h.FailAfter, "path", h.Path)
		}
	}
	if changed && h.OnChange != nil {
		h.OnChange(maps.Clone(next))
	}
}

var endpointUpDesc = prometheus.NewDesc("sluice_endpoint_up",
	"1 while a version's backend endpoint passes its health checks, 0 once it has failed health.fail_after checks in a row (left out of the endpoints its version's requests go to; a version with every endpoint at 0 is left out of splits). Set after the endpoint's first check.",
	[]string{"model", "version", "endpoint"}, nil)

// Describe implements prometheus.Collector.
func (h *HealthChecker) Describe(ch chan<- *prometheus.Desc) { ch <- endpointUpDesc }

// Collect implements prometheus.Collector: sluice_endpoint_up for each
// endpoint of each servable version that has been checked, the endpoint
// named as logs name it (RedactedEndpoint). Before, a version whose every
// backend was down showed in no metric: alerting had to wait for its
// requests to fail, and a version pinned by no traffic never did.
func (h *HealthChecker) Collect(ch chan<- prometheus.Metric) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for id, eps := range h.targets {
		model, version, ok := sluice.SplitFullID(id)
		if !ok {
			continue
		}
		// One series per name: a version listing an endpoint twice, or
		// two that differ only in what redaction hides, has one (0 while
		// either is down); two with the same labels fail the whole scrape.
		up := make(map[string]float64, len(eps))
		var names []string
		for _, e := range eps {
			if !h.checked[e] {
				continue
			}
			name := RedactedEndpoint(e)
			v, seen := up[name]
			if !seen {
				names, v = append(names, name), 1
			}
			if h.down[e] {
				v = 0
			}
			up[name] = v
		}
		for _, name := range names {
			ch <- prometheus.MustNewConstMetric(endpointUpDesc, prometheus.GaugeValue, up[name], model, version, name)
		}
	}
}

// RedactedEndpoint is endpoint as a log names it: its credentials (the
// user:password@ of its URL) and the values of its query parameters that
// look secret (sluice.SecretQueryParam: ?api_key=, ?sig=...) replaced by
// REDACTED, as the admin API shows them to all but admins, since a log is
// read more widely.
func RedactedEndpoint(endpoint string) string { return sluice.RedactEndpoint(endpoint) }

// client returns the client that checks endpoint: Client, or the
// endpoint's own, made at its first check. h.mu is held.
func (h *HealthChecker) client(endpoint string) *http.Client {
	if h.Client != nil {
		return h.Client
	}
	if c := h.clients[endpoint]; c != nil {
		return c
	}
	if h.clients == nil {
		h.clients = map[string]*http.Client{}
	}
	c := &http.Client{
		Transport:     http.DefaultTransport.(*http.Transport).Clone(),
		Timeout:       h.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	h.clients[endpoint] = c
	return c
}

func (h *HealthChecker) probe(ctx context.Context, client *http.Client, endpoint string) bool {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, sluice.HealthURL(endpoint, h.Path), nil)
	if err != nil {
		return false
	}
	h.Backends.Prepare(req, endpoint)
	resp, err := client.Do(req)
	if err != nil {
		return false
	}
	// Read a short body to its end so the connection goes back to the
	// pool (an unread one is closed); a long one is not worth reading.
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	return resp.StatusCode >= 200 && resp.StatusCode < 300
}

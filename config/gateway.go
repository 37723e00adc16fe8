package config

import (
	"cmp"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/textproto"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice"
)

// Gateway is the configuration of `sluice serve`. Every field has a default
// (see Default), so an empty file is a valid configuration.
type Gateway struct {
	// Listen is the data plane address; default 127.0.0.1:8080. ":0" picks a
	// free port.
	Listen string `yaml:"listen"`
	// AdminListen, when set, serves the admin API, /metrics and the UI on a
	// separate address; empty serves them on Listen.
	AdminListen string `yaml:"admin_listen"`
	// Store is the SQLite file path, or a PostgreSQL DSN
	// (postgres://user:password@host:5432/db?sslmode=disable, usually
	// "${SLUICE_STORE}") for several replicas sharing one store; default
	// sluice.db.
	Store string `yaml:"store"`
	// StoreWait is how long a gateway starting on PostgreSQL waits for the
	// server when it cannot be reached yet (none listening, starting up,
	// no connection slot), trying again with a growing pause (1s, 2s, 4s,
	// up to 10s) and logging each try, before it gives up and exits; a
	// server that refuses the credentials, or has no such database, ends
	// the start at once. Left out it is DefaultStoreWait; 0 gives up at
	// the first failure. Use StoreWaitTime to read it.
	StoreWait *Duration `yaml:"store_wait"`
	// StickyHeaders are tried in order for the sticky key when the body has
	// no "user"; default [X-User-Id, X-Session-Id].
	StickyHeaders []string `yaml:"sticky_headers"`
	// ForceHeader names the header that forces a version, honoured only for
	// admin or operator tokens; default X-Sluice-Version.
	ForceHeader string `yaml:"force_header"`
	// CategoryHeader names the request-category header; default
	// X-Request-Category.
	CategoryHeader string `yaml:"category_header"`
	// HTTPServer chooses the HTTP server of the data plane's plain listener:
	// "fasthttp" (default), which serves non-streamed inference requests
	// itself and hands every other connection to net/http, or "net/http"
	// for net/http alone. A TLS listener is always net/http (HTTP/2).
	HTTPServer string `yaml:"http_server"`
	// Balance is how a version's requests are spread over its endpoints
	// (the replicas of its backend): "least_requests" (default), the less
	// busy of two live endpoints drawn at random, by the requests this
	// gateway has in flight to each, or "round_robin", in turn. It chooses
	// an endpoint of the version routing chose, never another version.
	Balance string `yaml:"balance"`
	// MaxBodyBytes caps request bodies; default 8 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxAudioBodyBytes caps the bodies of /v1/audio/transcriptions and
	// /v1/audio/translations (a form carrying an audio file, which OpenAI
	// takes up to 25 MB); default 25 MiB, or max_body_bytes when that is
	// larger (a gateway that raised max_body_bytes for audio keeps it).
	MaxAudioBodyBytes int64 `yaml:"max_audio_body_bytes"`
	// RetryOnStable retries failures before the first byte on the stable
	// version; default true.
	RetryOnStable *bool `yaml:"retry_on_stable"`
	// Retries bound the retries the gateway sends (its retry budget).
	Retries Retries `yaml:"retries"`
	// Timeouts bound backend calls.
	Timeouts Timeouts `yaml:"timeouts"`
	// Health configures backend health checks.
	Health Health `yaml:"health"`
	// RefusalPhrases replace the default refusal phrases when set.
	RefusalPhrases []string `yaml:"refusal_phrases"`
	// RequestLog configures the request log.
	RequestLog RequestLog `yaml:"request_log"`
	// Tokens are admin tokens known from the file, besides those created
	// through the API. Give each a secret (usually "${ENV}") or its SHA-256.
	Tokens []TokenConfig `yaml:"tokens"`
	// ModelsFile, when set, is applied at start (as `sluice apply -f`).
	ModelsFile string `yaml:"models_file"`
	// Rollouts configures the rollout controller.
	Rollouts Rollouts `yaml:"rollouts"`
	// Judge, when its endpoint is set, grades a sample of answers with an
	// OpenAI-compatible model (LLM-as-judge), off the request path; the
	// grades join the quality signal the canary analysis compares.
	Judge Judge `yaml:"judge"`
	// OutlierEjection configures the circuit breaker per version (on by
	// default).
	OutlierEjection OutlierEjection `yaml:"outlier_ejection"`
	// ClientKeys, when any is set, are required on the OpenAI API: each
	// scoped to models, with a rate limit (off by default).
	ClientKeys []ClientKey `yaml:"client_keys"`
	// RequireClientKeys requires a key on the OpenAI API even when
	// client_keys is empty: the keys are then those issued through the
	// admin API (sluice key create), kept in the store. A key issued that
	// way is accepted only by a gateway that requires keys (this, or any
	// client_keys); changing it takes a restart.
	RequireClientKeys bool `yaml:"require_client_keys"`
	// TLS serves the data plane (and the admin API when it shares the
	// address) over HTTPS with this certificate.
	TLS TLS `yaml:"tls"`
	// AdminTLS serves admin_listen over HTTPS; empty uses tls.
	AdminTLS TLS `yaml:"admin_tls"`
	// Prometheus is the server rollouts' Prometheus gates query (issue 5).
	Prometheus Prometheus `yaml:"prometheus"`
	// Responses configures the Responses API (/v1/responses).
	Responses Responses `yaml:"responses"`
	// Backends are headers sent to the backends whose endpoint URLs they
	// match: their API keys (SIGHUP reloads them).
	Backends []Backend `yaml:"backends"`
	// Shadow configures what is kept of shadow runs (their answer pairs).
	Shadow Shadow `yaml:"shadow"`
	// Log configures the gateway's own log on standard error.
	Log Log `yaml:"log"`
	// UI configures the dashboard.
	UI UI `yaml:"ui"`
	// Reload says what the gateway watches and reloads without a SIGHUP.
	Reload Reload `yaml:"reload"`
	// Tracing exports OpenTelemetry spans of the data plane's requests to
	// an OTLP/HTTP collector (off by default).
	Tracing Tracing `yaml:"tracing"`
	// Shutdown configures the stop on SIGTERM: how long the requests in
	// flight drain (a reload applies it).
	Shutdown Shutdown `yaml:"shutdown"`

	// Files are the files the configuration's ${file:PATH} references
	// name, as the load read them: a reload reads them again, and
	// reload.watch watches them. Not a setting.
	Files []string `yaml:"-"`
	// FileStates is the Fingerprint of each file the load read (the
	// configuration file itself and each of Files) from the bytes it
	// read, or why it could not read it: what was applied, which
	// reload.watch compares with. Not a setting.
	FileStates map[string]string `yaml:"-"`
}

// UI configures the dashboard (/ui).
type UI struct {
	// SecureCookie says when the session cookie is marked Secure, which
	// browsers send over HTTPS only: "auto" (default) when the gateway
	// itself serves the dashboard over TLS; "always", for a gateway behind
	// a load balancer or proxy that ends TLS; "never". X-Forwarded-Proto is
	// never read: any client can send it.
	SecureCookie string `yaml:"secure_cookie"`
	// TrustedProxies are the load balancers and reverse proxies in front
	// of the dashboard, as addresses or CIDR prefixes ("10.0.0.0/8",
	// "127.0.0.1"). A sign-in from one of them is counted against the
	// address its X-Forwarded-For names: the rightmost entry that is not
	// itself a trusted proxy, as nginx's realip and Envoy read it (the
	// entries to its left are the client's to forge). Empty (default):
	// X-Forwarded-For is never read, and every client behind a proxy
	// shares its address's allowance of wrong tokens.
	TrustedProxies []string `yaml:"trusted_proxies"`
}

// TrustedProxyPrefixes returns TrustedProxies as prefixes, an address as
// the prefix of that address alone; the error names the entry at fault.
func (u UI) TrustedProxyPrefixes() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range u.TrustedProxies {
		s = strings.TrimSpace(s)
		p, err := netip.ParsePrefix(s)
		if err == nil {
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 { // the gateway sees such peers as IPv4
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
		} else if a, aerr := netip.ParseAddr(s); aerr == nil && a.Zone() == "" {
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		} else {
			return nil, fmt.Errorf("ui.trusted_proxies[%d]: %q is not an IP address or CIDR prefix: write one such as 10.0.0.0/8, 127.0.0.1 or fd00::/8", i, s)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// Judge configures the optional LLM-as-judge.
type Judge struct {
	// Endpoint is the judge's OpenAI-compatible base URL.
	Endpoint string `yaml:"endpoint"`
	// Model is the judge model's name.
	Model string `yaml:"model"`
	// APIKey, if the endpoint needs one; use "${ENV}".
	APIKey string `yaml:"api_key"`
	// SampleRate is the fraction of answers graded; default 0.05.
	SampleRate float64 `yaml:"sample_rate"`
}

// Rollouts configures the rollout controller.
type Rollouts struct {
	// Alerts are webhooks told of rollbacks, promotions and failures.
	Alerts []Webhook `yaml:"alerts"`
	// UnloadWebhook, when set, receives a POST {"version": id, ...} when a
	// candidate is rolled back, so its serving replicas can be scaled down.
	UnloadWebhook string `yaml:"unload_webhook"`
	// DrainTimeout bounds the wait for a rolled-back candidate's in-flight
	// requests; default 30s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
	// Tick is how often the controller looks at rollouts; default 1s.
	Tick time.Duration `yaml:"tick"`
}

// Webhook is an alert destination.
type Webhook struct {
	// URL receives a POST per alert; a pagerduty webhook without one posts
	// to PagerDuty's Events API v2 (https://events.pagerduty.com/v2/enqueue).
	// An opsgenie webhook's is the Opsgenie API's base: without one,
	// https://api.opsgenie.com; an account in the EU region gives
	// https://api.eu.opsgenie.com.
	URL string `yaml:"url"`
	// Format is json (default), slack, msteams, discord, googlechat,
	// pagerduty or opsgenie.
	Format string `yaml:"format"`
	// RoutingKey is a pagerduty webhook's integration key, required there
	// and taken by no other format; write it as ${PD_ROUTING_KEY} or
	// ${file:/run/secrets/pd_routing_key}.
	RoutingKey string `yaml:"routing_key"`
	// APIKey is an opsgenie webhook's key (of an API integration, sent as
	// Authorization: GenieKey), required there and taken by no other
	// format; write it as ${OPSGENIE_API_KEY} or ${file:…}.
	APIKey string `yaml:"api_key"`
	// Severity is the least severity sent: info (all, the default),
	// warning or critical.
	Severity string `yaml:"severity"`
	// Events are the kinds of alert sent (sluice.AlertEvents); none given
	// sends every kind, but to pagerduty and opsgenie rolled_back, failed,
	// undone, paused, resumed and promoted (the last two close). A pager
	// that takes paused is also sent the close of the controller's pause's
	// incident when the paused rollout is resumed or aborted, resumed or
	// aborted listed or not, and one that leaves paused out is sent
	// neither.
	Events []string `yaml:"events"`
}

// alertFormats are the formats an alert webhook takes.
var alertFormats = []string{"json", "slack", "msteams", "discord", "googlechat", "pagerduty", "opsgenie"}

// validate checks the alert webhook rollouts.alerts[i].
func (w Webhook) validate(i int) error {
	key := fmt.Sprintf("rollouts.alerts[%d]", i)
	if w.Format != "" && !slices.Contains(alertFormats, w.Format) {
		msg := fmt.Sprintf("%s.format: %q is not one of %s", key, w.Format, strings.Join(alertFormats, ", "))
		if s := suggestKey(w.Format, alertFormats); s != "" {
			msg += "; did you mean " + s + "?"
		}
		return errors.New(msg)
	}
	pd, og := w.Format == "pagerduty", w.Format == "opsgenie"
	if w.URL != "" || !pd && !og {
		if err := sluice.CheckEndpoint(w.URL); err != nil {
			if w.URL == "" {
				return fmt.Errorf("%s.url: a %s webhook needs the URL it posts to", key, cmp.Or(w.Format, "json"))
			}
			return fmt.Errorf("%s.url: %s", key, sluice.ErrorMessage(err))
		}
	}
	if og && strings.ContainsAny(w.URL, "?#") {
		// The requests add their paths (/v2/alerts, .../close?identifierType=alias).
		return fmt.Errorf("%s.url: an opsgenie webhook's url is the Opsgenie API's base, with no query: write https://api.opsgenie.com, or https://api.eu.opsgenie.com for an account in the EU region (or leave url out for the first)", key)
	}
	switch {
	case pd && strings.TrimSpace(w.RoutingKey) == "":
		return fmt.Errorf("%s.routing_key: a pagerduty webhook needs the routing key of its PagerDuty service's Events API v2 integration: write routing_key: ${PD_ROUTING_KEY} (or ${file:/run/secrets/pd_routing_key}) and set it", key)
	case pd && strings.ContainsFunc(w.RoutingKey, unicode.IsSpace):
		return fmt.Errorf("%s.routing_key: holds a space or line break; a PagerDuty routing key is one word of 32 characters: check the variable or file it is read from", key)
	case og && w.RoutingKey != "":
		return fmt.Errorf("%s.routing_key: an opsgenie webhook takes api_key (the key of an API integration in Opsgenie), not routing_key: rename it api_key", key)
	case !pd && w.RoutingKey != "":
		return fmt.Errorf("%s.routing_key: only a pagerduty webhook takes a routing key; this one's format is %s: remove routing_key or write format: pagerduty", key, cmp.Or(w.Format, "json"))
	case og && strings.TrimSpace(w.APIKey) == "":
		return fmt.Errorf("%s.api_key: an opsgenie webhook needs the key of an API integration in Opsgenie (Settings, Integrations, API; or a team's): write api_key: ${OPSGENIE_API_KEY} (or ${file:/run/secrets/opsgenie_api_key}) and set it", key)
	case og && strings.ContainsFunc(w.APIKey, unicode.IsSpace):
		return fmt.Errorf("%s.api_key: holds a space or line break; an Opsgenie API key is one word (a UUID): check the variable or file it is read from", key)
	case pd && w.APIKey != "":
		return fmt.Errorf("%s.api_key: a pagerduty webhook takes routing_key (its Events API v2 integration's key), not api_key: remove api_key", key)
	case !og && w.APIKey != "":
		return fmt.Errorf("%s.api_key: only an opsgenie webhook takes an API key; this one's format is %s: remove api_key or write format: opsgenie", key, cmp.Or(w.Format, "json"))
	}
	if w.Severity != "" && sluice.AlertSeverityRank(w.Severity) < 0 {
		return fmt.Errorf("%s.severity: %q is not one of %s (the least severity sent)", key, w.Severity, strings.Join(sluice.AlertSeverities, ", "))
	}
	if w.Events != nil && len(w.Events) == 0 {
		return fmt.Errorf("%s.events: names no event, so nothing would be sent: name some (%s), or leave events out to send every kind", key, strings.Join(sluice.AlertEvents, ", "))
	}
	for j, e := range w.Events {
		if !slices.Contains(sluice.AlertEvents, e) {
			msg := fmt.Sprintf("%s.events[%d]: %q is not an alert event; the events are %s", key, j, e, strings.Join(sluice.AlertEvents, ", "))
			if s := suggestKey(e, sluice.AlertEvents); s != "" {
				msg += "; did you mean " + s + "?"
			}
			return errors.New(msg)
		}
	}
	return nil
}

// Retries is the retry budget: the retries the gateway sends (to the
// stable version, and to another endpoint of a version whose backend
// refused a request for load) may add at most BudgetPercent of the
// requests it forwarded in the last 10 s, plus MinPerSecond a second;
// past it a failed attempt is the request's answer, as a pinned one's is.
// The defaults are Linkerd's and Envoy's 20% and Linkerd's 10 a second.
// A refused connection (nothing reached the backend) takes nothing from
// it. Changing it takes a restart.
type Retries struct {
	// BudgetPercent is the share of requests retries may add; default 20.
	BudgetPercent *float64 `yaml:"budget_percent"`
	// MinPerSecond is the retries a second allowed whatever the traffic;
	// default 10.
	MinPerSecond *float64 `yaml:"min_per_second"`
}

// Retry budget defaults (Retries).
const (
	DefaultRetryBudgetPercent = 20
	DefaultRetryMinPerSecond  = 10
)

// Timeouts bound the calls to backends.
type Timeouts struct {
	// Connect bounds dialing; default 5s.
	Connect time.Duration `yaml:"connect"`
	// FirstByte bounds the wait for a backend's first byte: its response
	// headers and, for a stream, its first event (vLLM sends a stream's
	// headers before prefill, so they alone say little). A request that
	// runs out of it has had nothing sent to its client, so it is retried
	// on stable (retry_on_stable) and counts as the version's timeout;
	// default 120s.
	FirstByte time.Duration `yaml:"first_byte"`
	// Request bounds a whole request, stream included; default 10m.
	Request time.Duration `yaml:"request"`
	// Idle bounds a backend's silence once its answer has begun: the
	// longest it may go without sending a byte of a stream, or of any
	// answer's body, after the first. A backend that passes it (a wedged
	// GPU worker, a deadlocked server holding the connection open) is cut
	// off and the request counts as the version's failure (stream_idle).
	// Left out it is DefaultIdleTimeout, the first byte's 120s: a
	// reasoning model may think silently mid-answer as long as it may
	// before its first token. 0 turns the bound off (timeouts.request
	// alone bounds the answer). Use IdleTimeout to read it.
	Idle *Duration `yaml:"idle"`
}

// DefaultStoreWait is store_wait left out: a minute, so a replica
// rescheduled during a short PostgreSQL outage (a failover, a restart)
// comes up when it returns rather than after the kubelet's back-off,
// which grows to 5 minutes between tries, while one pointed at a wrong
// host still says so within a minute (each try is logged with its error
// from the first).
const DefaultStoreWait = time.Minute

// DefaultMaxAudioBodyBytes is max_audio_body_bytes unset (and
// max_body_bytes no larger): 25 MiB, which holds OpenAI's largest audio
// upload (25 MB) and the form around it.
const DefaultMaxAudioBodyBytes = 25 << 20

// StoreWaitTime returns store_wait: DefaultStoreWait when it was left
// out, 0 when it is off.
func (g Gateway) StoreWaitTime() time.Duration {
	if g.StoreWait == nil {
		return DefaultStoreWait
	}
	return time.Duration(*g.StoreWait)
}

// DefaultIdleTimeout is timeouts.idle left out: as long as the first
// byte's default, since what a backend does silently before its first
// event (prefill, a reasoning block) it may do between two (a long
// reasoning block, the hidden reasoning after a tool call in the
// Responses API). nginx's proxy_read_timeout is 60s, which LLM
// deployments commonly raise for such pauses.
const DefaultIdleTimeout = 120 * time.Second

// IdleTimeout returns timeouts.idle: DefaultIdleTimeout when it was left
// out, 0 when it is off.
func (t Timeouts) IdleTimeout() time.Duration {
	if t.Idle == nil {
		return DefaultIdleTimeout
	}
	return time.Duration(*t.Idle)
}

// Duration is a duration of the config file that may also be written as a
// bare 0 (yaml takes a number without a unit for no time.Duration): 90s,
// 2m, 0 or 0s.
type Duration time.Duration

// UnmarshalYAML reads a duration. A value that is not one is a yaml type
// error, which the loader rewrites to name the key (explainTypeErrors).
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v := strings.TrimSpace(n.Value)
	if n.Kind == yaml.ScalarNode && v == "0" {
		*d = 0
		return nil
	}
	p, err := time.ParseDuration(v)
	if n.Kind != yaml.ScalarNode || err != nil {
		return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: cannot unmarshal %s `%s` into time.Duration", n.Line, n.ShortTag(), n.Value)}}
	}
	*d = Duration(p)
	return nil
}

// Health configures backend health checks.
type Health struct {
	// Path requested on each endpoint; default /health.
	Path string `yaml:"path"`
	// Interval between checks; default 5s.
	Interval time.Duration `yaml:"interval"`
	// Timeout per check; default 2s.
	Timeout time.Duration `yaml:"timeout"`
	// FailAfter failures in a row take a version out of splits; default 2.
	FailAfter int `yaml:"fail_after"`
}

// RequestLog configures the request log.
type RequestLog struct {
	// Retention is how long rows are kept; default 168h (7 days); 0 with
	// Keep set keeps them forever.
	Retention time.Duration `yaml:"retention"`
	// Keep keeps rows forever, ignoring Retention.
	Keep bool `yaml:"keep"`
	// BatchSize rows are written per transaction; default 512.
	BatchSize int `yaml:"batch_size"`
	// FlushInterval bounds how long a row waits; default 250ms.
	FlushInterval time.Duration `yaml:"flush_interval"`
}

// TokenConfig is an admin token declared in the file.
type TokenConfig struct {
	// Name identifies the holder in the audit log.
	Name string `yaml:"name"`
	// Role is viewer, operator or admin.
	Role sluice.Role `yaml:"role"`
	// Secret is the token itself; prefer "${ENV}".
	Secret string `yaml:"secret"`
	// SHA256 is the hex SHA-256 of the secret, instead of Secret.
	SHA256 string `yaml:"sha256"`
	// Expires is when the token stops working: an RFC 3339 time or a
	// date (sluice.ParseExpiryTime; UTC unless a zone is given); empty or
	// "none" for never. A reload (SIGHUP) applies a new one.
	Expires string `yaml:"expires"`
}

// ExpiresAt returns when the token stops working, zero for never; an
// Expires Validate refused reads as never.
func (t TokenConfig) ExpiresAt() time.Time {
	at, _ := sluice.ParseExpiryTime(t.Expires)
	return at
}

// Default returns the configuration used when no file is given.
func Default() Gateway {
	var g Gateway
	g.setDefaults()
	return g
}

func (g *Gateway) setDefaults() {
	if g.Listen == "" {
		g.Listen = "127.0.0.1:8080"
	}
	if g.Store == "" {
		g.Store = "sluice.db"
	}
	if len(g.StickyHeaders) == 0 {
		g.StickyHeaders = []string{"X-User-Id", "X-Session-Id"}
	}
	if g.ForceHeader == "" {
		g.ForceHeader = "X-Sluice-Version"
	}
	if g.CategoryHeader == "" {
		g.CategoryHeader = "X-Request-Category"
	}
	if g.MaxBodyBytes == 0 {
		g.MaxBodyBytes = 8 << 20
	}
	if g.MaxAudioBodyBytes == 0 {
		g.MaxAudioBodyBytes = max(DefaultMaxAudioBodyBytes, g.MaxBodyBytes)
	}
	if g.UI.SecureCookie == "" {
		g.UI.SecureCookie = "auto"
	}
	if g.HTTPServer == "" {
		g.HTTPServer = "fasthttp"
	}
	if g.Balance == "" {
		g.Balance = "least_requests"
	}
	if g.RetryOnStable == nil {
		t := true
		g.RetryOnStable = &t
	}
	if g.Retries.BudgetPercent == nil {
		v := float64(DefaultRetryBudgetPercent)
		g.Retries.BudgetPercent = &v
	}
	if g.Retries.MinPerSecond == nil {
		v := float64(DefaultRetryMinPerSecond)
		g.Retries.MinPerSecond = &v
	}
	if g.Timeouts.Connect == 0 {
		g.Timeouts.Connect = 5 * time.Second
	}
	if g.Timeouts.FirstByte == 0 {
		g.Timeouts.FirstByte = 120 * time.Second
	}
	if g.Timeouts.Request == 0 {
		g.Timeouts.Request = 10 * time.Minute
	}
	if g.Timeouts.Idle == nil {
		d := Duration(DefaultIdleTimeout)
		g.Timeouts.Idle = &d
	}
	if g.StoreWait == nil {
		d := Duration(DefaultStoreWait)
		g.StoreWait = &d
	}
	if g.Health.Path == "" {
		g.Health.Path = "/health"
	}
	if g.Health.Interval == 0 {
		g.Health.Interval = 5 * time.Second
	}
	if g.Health.Timeout == 0 {
		g.Health.Timeout = 2 * time.Second
	}
	if g.Health.FailAfter == 0 {
		g.Health.FailAfter = 2
	}
	if g.RequestLog.Retention == 0 && !g.RequestLog.Keep {
		g.RequestLog.Retention = 7 * 24 * time.Hour
	}
	if g.RequestLog.BatchSize == 0 {
		g.RequestLog.BatchSize = 512
	}
	if g.Rollouts.DrainTimeout == 0 {
		g.Rollouts.DrainTimeout = 30 * time.Second
	}
	if g.Rollouts.Tick == 0 {
		g.Rollouts.Tick = time.Second
	}
	if g.RequestLog.FlushInterval == 0 {
		g.RequestLog.FlushInterval = 250 * time.Millisecond
	}
	g.OutlierEjection.setDefaults()
	g.Prometheus.setDefaults()
	g.Responses.setDefaults()
	g.Shadow.setDefaults()
	g.Log.setDefaults()
	g.Reload.setDefaults()
	g.Tracing.setDefaults()
}

// LoadGateway reads a gateway configuration file, applies defaults and
// validates it.
func LoadGateway(path string) (Gateway, error) {
	b, err := readFile(path)
	if err != nil {
		return Gateway{}, err
	}
	return ParseGateway(path, b)
}

// ParseGateway parses gateway configuration YAML; name labels errors.
func ParseGateway(name string, text []byte) (Gateway, error) {
	return parseGateway(name, text, Override{})
}

// Override is what `sluice serve`'s flags set over the configuration
// file: each field that is not empty replaces its key.
type Override struct {
	Listen    string // listen
	Store     string // store
	LogFormat string // log.format
	LogLevel  string // log.level
}

// Apply sets o's keys in g.
func (o Override) Apply(g *Gateway) {
	if o.Listen != "" {
		g.Listen = o.Listen
	}
	if o.Store != "" {
		g.Store = o.Store
	}
	if o.LogFormat != "" {
		g.Log.Format = strings.ToLower(o.LogFormat)
	}
	if o.LogLevel != "" {
		g.Log.Level = strings.ToLower(o.LogLevel)
	}
}

// keys returns the key paths o replaces.
func (o Override) keys() []string {
	var keys []string
	for _, k := range []struct{ path, v string }{{"listen", o.Listen}, {"store", o.Store}, {"log.format", o.LogFormat}, {"log.level", o.LogLevel}} {
		if k.v != "" {
			keys = append(keys, k.path)
		}
	}
	return keys
}

// LoadGatewayOver is LoadGateway with o applied before the configuration
// is checked: a key the command line replaces is neither expanded (its
// ${VAR} need not be set: `store: ${SLUICE_STORE}` with --store) nor
// validated as the file has it.
func LoadGatewayOver(path string, o Override) (Gateway, error) {
	b, err := readFile(path)
	if err != nil {
		return Gateway{}, err
	}
	g, err := parseGateway(path, b, o)
	if path != "-" {
		g.FileStates[path] = fingerprintOf(b)
	}
	return g, err
}

func parseGateway(name string, text []byte, o Override) (Gateway, error) {
	var g Gateway
	// An empty file, or one of comments only (a template with every key
	// commented out), is the defaults.
	var read readLog
	err := decodeStrictFiles(name, text, &g, &read, o.keys()...)
	g.Files, g.FileStates = read.paths, read.states
	if g.FileStates == nil {
		g.FileStates = map[string]string{}
	}
	if err != nil && !errors.Is(err, errEmpty) {
		return g, err
	}
	g.setDefaults()
	o.Apply(&g)
	if err := g.Validate(); err != nil {
		return g, fmt.Errorf("%s: %w", name, err)
	}
	return g, nil
}

// Validate checks the configuration; the error names the key.
func (g *Gateway) Validate() error {
	for _, l := range []struct{ key, addr string }{{"listen", g.Listen}, {"admin_listen", g.AdminListen}} {
		if l.addr == "" {
			continue
		}
		_, port, err := net.SplitHostPort(l.addr)
		if err != nil {
			return fmt.Errorf("%s: %q is not host:port (such as 127.0.0.1:8080 or :8080)", l.key, l.addr)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
			return fmt.Errorf("%s: port %q is not a port number (0 to 65535; 0 picks a free one)", l.key, port)
		}
	}
	if g.AdminListen != "" && g.AdminListen == g.Listen && !strings.HasSuffix(g.Listen, ":0") {
		return fmt.Errorf("admin_listen: %q is also listen: give the admin API its own port, or leave admin_listen out to serve it on listen", g.AdminListen)
	}
	// The sticky, force and category headers must be different headers:
	// a force header that is also sticky buckets every forced request by
	// the version it names; a category header that is the force header
	// reads categories as versions.
	headers := map[string]string{} // canonical name → key
	check := func(key, h string) error {
		if err := sluice.CheckHeaderName(h); err != nil {
			return fmt.Errorf("%s: %s", key, sluice.ErrorMessage(err))
		}
		c := textproto.CanonicalMIMEHeaderKey(h)
		if other, dup := headers[c]; dup {
			return fmt.Errorf("%s: %s is also %s: each of sticky_headers, force_header and category_header needs a header of its own", key, h, other)
		}
		headers[c] = key
		return nil
	}
	for i, h := range g.StickyHeaders {
		if err := check(fmt.Sprintf("sticky_headers[%d]", i), h); err != nil {
			return err
		}
	}
	if err := check("force_header", g.ForceHeader); err != nil {
		return err
	}
	if err := check("category_header", g.CategoryHeader); err != nil {
		return err
	}
	if err := checkStore(g.Store); err != nil {
		return err
	}
	switch g.UI.SecureCookie {
	case "auto", "always", "never":
	default:
		return fmt.Errorf("ui.secure_cookie: %q is not a choice: use auto (Secure when the gateway serves TLS itself), always (behind a load balancer that ends TLS) or never", g.UI.SecureCookie)
	}
	if _, err := g.UI.TrustedProxyPrefixes(); err != nil {
		return err
	}
	if g.HTTPServer != "fasthttp" && g.HTTPServer != "net/http" {
		return fmt.Errorf("http_server: %q is not a server Sluice has; use fasthttp or net/http", g.HTTPServer)
	}
	if p := g.Retries.BudgetPercent; p != nil && (*p < 0 || math.IsNaN(*p) || math.IsInf(*p, 0)) {
		return fmt.Errorf("retries.budget_percent: %v is not a share of requests: give a percentage of 0 or more, such as 20 (retries may add a fifth to the requests of the last 10 s)", *p)
	}
	if m := g.Retries.MinPerSecond; m != nil && (*m < 0 || math.IsNaN(*m) || math.IsInf(*m, 0)) {
		return fmt.Errorf("retries.min_per_second: %v is not a rate: give the retries a second allowed whatever the traffic, 0 or more, such as 10", *m)
	}
	if g.Balance != "least_requests" && g.Balance != "round_robin" {
		return fmt.Errorf("balance: %q is not a way to spread requests over a version's endpoints; use least_requests (the less busy of two) or round_robin (in turn)", g.Balance)
	}
	if g.MaxBodyBytes < 1024 {
		return fmt.Errorf("max_body_bytes: %d is too small; use at least 1024", g.MaxBodyBytes)
	}
	if g.MaxAudioBodyBytes < 1024 {
		return fmt.Errorf("max_audio_body_bytes: %d is too small; use at least 1024 (the default, 26214400, takes OpenAI's 25 MB audio files)", g.MaxAudioBodyBytes)
	}
	for key, d := range map[string]time.Duration{"timeouts.connect": g.Timeouts.Connect, "timeouts.first_byte": g.Timeouts.FirstByte, "timeouts.request": g.Timeouts.Request, "health.interval": g.Health.Interval, "health.timeout": g.Health.Timeout,
		"rollouts.tick": g.Rollouts.Tick, "rollouts.drain_timeout": g.Rollouts.DrainTimeout, "request_log.flush_interval": g.RequestLog.FlushInterval} {
		if d < 0 {
			return fmt.Errorf("%s: must be positive, such as 5s", key)
		}
	}
	if d := g.StoreWaitTime(); d < 0 {
		return fmt.Errorf("store_wait: %s is negative: give how long a gateway starting on PostgreSQL waits for the server, such as 1m, or 0 to give up at the first failure", d)
	}
	if d := g.Timeouts.IdleTimeout(); d < 0 {
		return fmt.Errorf("timeouts.idle: %s is negative: give the longest a backend may stay silent once its answer has begun, such as 120s, or 0 to turn the bound off", d)
	}
	if g.RequestLog.Retention < 0 {
		return fmt.Errorf("request_log.retention: must be positive, such as 168h; to keep every row, set request_log.keep: true")
	}
	for key, n := range map[string]int{"request_log.batch_size": g.RequestLog.BatchSize, "health.fail_after": g.Health.FailAfter} {
		if n < 0 {
			return fmt.Errorf("%s: %d must be positive", key, n)
		}
	}
	for i, w := range g.Rollouts.Alerts {
		if err := w.validate(i); err != nil {
			return err
		}
	}
	if u := g.Rollouts.UnloadWebhook; u != "" {
		if err := sluice.CheckEndpoint(u); err != nil {
			return fmt.Errorf("rollouts.unload_webhook: %s", sluice.ErrorMessage(err))
		}
	}
	if g.Judge.Endpoint != "" {
		if err := sluice.CheckEndpoint(g.Judge.Endpoint); err != nil {
			return fmt.Errorf("judge.endpoint: %s", sluice.ErrorMessage(err))
		}
		if g.Judge.Model == "" {
			return fmt.Errorf("judge.model: name the judge model, such as gpt-4o-mini")
		}
		if g.Judge.SampleRate < 0 || g.Judge.SampleRate > 1 {
			return fmt.Errorf("judge.sample_rate: %v must be between 0 and 1", g.Judge.SampleRate)
		}
	}
	if !strings.HasPrefix(g.Health.Path, "/") {
		return fmt.Errorf("health.path: %q must start with /", g.Health.Path)
	}
	names := map[string]bool{}
	for i, t := range g.Tokens {
		at := fmt.Sprintf("tokens[%d]", i)
		if err := sluice.CheckName("token name", t.Name); err != nil {
			return fmt.Errorf("%s.name: %s", at, sluice.ErrorMessage(err))
		}
		if names[t.Name] {
			return fmt.Errorf("%s.name: %q is declared twice", at, t.Name)
		}
		names[t.Name] = true
		if !t.Role.Valid() {
			return fmt.Errorf("%s.role: %q is not a role: use viewer, operator or admin", at, t.Role)
		}
		if (t.Secret == "") == (t.SHA256 == "") {
			return fmt.Errorf("%s: give exactly one of secret (such as \"${SLUICE_ADMIN_TOKEN}\") or sha256", at)
		}
		if t.Secret != "" && len(t.Secret) < 16 {
			return fmt.Errorf("%s.secret: shorter than 16 characters; use a long random secret", at)
		}
		if t.SHA256 != "" {
			if b, err := hex.DecodeString(t.SHA256); err != nil || len(b) != 32 {
				return fmt.Errorf("%s.sha256: must be 64 hex digits (the SHA-256 of the secret, such as printf %%s \"$SECRET\" | sha256sum)", at)
			}
		}
		if _, err := sluice.ParseExpiryTime(t.Expires); err != nil {
			msg := sluice.ErrorMessage(err)
			if looksLikeDuration(t.Expires) {
				// A duration would start again at every load of the file.
				msg += " (a duration such as 90d is for sluice token create --expires; the file, read again at each reload, needs the time itself)"
			}
			return fmt.Errorf("%s.expires: %s", at, msg)
		}
	}
	if err := g.Prometheus.validate(); err != nil {
		return err
	}
	if err := g.Responses.validate(); err != nil {
		return err
	}
	if err := g.validateBackends(); err != nil {
		return err
	}
	if err := g.Shadow.validate(); err != nil {
		return err
	}
	if err := g.Reload.validate(); err != nil {
		return err
	}
	if err := g.Log.validate(); err != nil {
		return err
	}
	if err := g.Tracing.validate(); err != nil {
		return err
	}
	if err := g.Shutdown.validate(); err != nil {
		return err
	}
	return g.validateReliability()
}

// looksLikeDuration reports whether s is a duration (12h) or a number of
// days (90d), as sluice token create --expires takes.
func looksLikeDuration(s string) bool {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		_, err := strconv.Atoi(days)
		return err == nil
	}
	_, err := time.ParseDuration(s)
	return err == nil
}

// StaticTokens returns the file's tokens, hashed.
func (g *Gateway) StaticTokens() []sluice.Token {
	var out []sluice.Token
	for _, t := range g.Tokens {
		h := strings.ToLower(t.SHA256)
		if t.Secret != "" {
			h = sluice.HashSecret(t.Secret)
		}
		out = append(out, sluice.Token{Name: t.Name, Role: t.Role, Hash: h, ExpiresAt: t.ExpiresAt()})
	}
	return out
}

// CanonicalHeaders returns hs in canonical form.
func CanonicalHeaders(hs []string) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = http.CanonicalHeaderKey(h)
	}
	return out
}

// checkStore refuses a store setting that is meant for PostgreSQL but is
// not a postgres:// URL, which would otherwise be taken as the name of a
// new SQLite file: a key=value DSN (host=db user=sluice ...), or a URL of
// another scheme.
func checkStore(store string) error {
	if strings.HasPrefix(store, "postgres://") || strings.HasPrefix(store, "postgresql://") {
		return nil
	}
	// The value may hold a password, so the errors do not quote it.
	if strings.Contains(store, "=") && strings.ContainsAny(store, " \t") {
		return fmt.Errorf("store: the value looks like a PostgreSQL key=value DSN (host=… user=…); write it as a URL, such as postgres://sluice:PASSWORD@db:5432/sluice?sslmode=require (anything else is the path of an SQLite file)")
	}
	if i := strings.Index(store, "://"); i > 0 {
		return fmt.Errorf("store: the value is a %q URL; use a postgres:// URL for PostgreSQL, or a file path for SQLite", store[:i])
	}
	return nil
}

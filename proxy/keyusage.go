package proxy

import (
	"net/http"
	"strconv"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/internal/cowmap"
	"github.com/sluicehq/sluice/route"
)

// keyUsage counts each client key's requests and tokens, per model and
// status, for sluice_client_key_requests_total and
// sluice_client_key_tokens_total. It counts in the proxy's record, beside
// the Recorder, rather than in the request log's writer: the log drops
// rows when its buffer is full, which would undercount a key exactly when
// it floods the gateway, and the cost here is one map read and three
// atomic adds (BenchmarkProxy_ServeHTTPKeyed,
// bench/benchstat-keylog.txt).
//
// The label set is bounded: key names come from the config file, models
// from the registry, statuses from HTTP. A request refused before it was
// routed (refused) is counted too, with its model only when the gateway
// serves one by that name: a client may send any name.
//
// A request without a known key has no name to count under: it is
// counted by reason (sluice_client_key_refused_total), never by what it
// presented. Those counters are exported, at 0 too, once a KeySet guards
// the proxy (keyed), so that a rate over them starts from the first one.
type keyUsage struct {
	cowmap.Map[keyUsageKey, keyCounts]
	keyed         atomic.Bool
	noKey, badKey atomic.Int64
	expired       atomic.Int64 // an operator or admin token that expired
	storeDown     atomic.Int64 // a secret not held while the token store could not be read
	viewer        atomic.Int64 // a viewer token, which may not call models
	keyExpired    atomic.Int64 // a client key past its expires_at
	keyRevoked    atomic.Int64 // a client key revoked
	keyRotated    atomic.Int64 // a client key's secret a rotation replaced, after its grace
	budgetSpent   atomic.Int64 // a client key whose token budget is spent (429 insufficient_quota)
	// feedbackWaits: a client key's feedback post refused because the key
	// had maxFeedbackWaits waiting for the fleet's request log (429).
	feedbackWaits atomic.Int64
}

type keyUsageKey struct {
	key, model string
	status     int
}

type keyCounts struct {
	requests, input, output atomic.Int64
	// estIn and estOut are the part of input and output the gateway
	// estimated (o.TokensEstimated), for
	// sluice_client_key_estimated_tokens_total.
	estIn, estOut atomic.Int64
}

// add counts o, a client request sent with a key (o.ClientKey set, not a
// retried attempt: its request is counted once, by the attempt that
// answered).
func (u *keyUsage) add(o *sluice.Observation) {
	c := u.Get(keyUsageKey{o.ClientKey, o.Model, o.Status})
	c.requests.Add(1)
	if o.InputTokens > 0 {
		c.input.Add(int64(o.InputTokens))
	}
	if o.OutputTokens > 0 {
		c.output.Add(int64(o.OutputTokens))
	}
	if o.TokensEstimated {
		c.estIn.Add(int64(o.InputTokens))
		c.estOut.Add(int64(o.OutputTokens))
	}
}

// refused counts a request of client key key answered with status before
// it reached a backend, model being "" or a model the gateway serves.
// u may be nil (a KeySet in front of no Proxy): nothing is counted.
func (u *keyUsage) refused(key, model string, status int) {
	if u != nil && key != "" {
		u.Get(keyUsageKey{key, model, status}).requests.Add(1)
	}
}

// overBudget counts a request refused because its key's token budget is
// spent (u may be nil, as for refused).
func (u *keyUsage) overBudget() {
	if u != nil {
		u.budgetSpent.Add(1)
	}
}

// unauthenticated counts a request refused for its key (401): err is
// what authenticate answered.
func (u *keyUsage) unauthenticated(err error) {
	switch {
	case u == nil:
	case err == errNoKey, err == errNotBearer:
		u.noKey.Add(1)
	case err == errBadKey:
		u.badKey.Add(1)
	case keyRefusal(err) == "key_expired":
		u.keyExpired.Add(1)
	case keyRefusal(err) == "key_revoked":
		u.keyRevoked.Add(1)
	case keyRefusal(err) == "key_rotated":
		u.keyRotated.Add(1)
	case sluice.IsTokenExpired(err):
		u.expired.Add(1)
	case sluice.ErrorCode(err) == sluice.CodeUnavailable:
		// During an outage of the token store: not an attack of unknown
		// keys, which is what an SRE would read into unknown_key.
		u.storeDown.Add(1)
	case sluice.ErrorCode(err) == sluice.CodeForbidden:
		u.viewer.Add(1)
	default:
		u.badKey.Add(1)
	}
}

// errStatus is the HTTP status writeError sends for err.
func errStatus(err error) int {
	if _, ok := err.(*overLimitError); ok {
		return http.StatusTooManyRequests
	}
	return sluice.ErrorCode(err).HTTPStatus()
}

// countRefused counts, for its client key, a request that err answered
// before it was routed (an inference request, or one refuse answers) (a body that cannot be read, a model the
// key may not use, its rate limit, a model or version that does not
// exist). model is the "model" the request sent, "" when not read; only
// its name, and only when the gateway serves a model by that name, is
// the label.
func (p *Proxy) countRefused(r *http.Request, model string, err error) {
	key := clientKeyName(r)
	if key == "" {
		return
	}
	name := model
	for i := 0; i < len(name); i++ {
		if name[i] == ':' || name[i] == '@' {
			name = name[:i]
			break
		}
	}
	if name != "" {
		var tab *route.Table
		if p.opt.Routes != nil {
			tab = p.opt.Routes.Load()
		}
		if _, ok := tab.View(name); !ok {
			name = ""
		}
	}
	p.keyUsage.refused(key, name, errStatus(err))
}

// refuse answers r with err and counts it for its client key as
// countRefused does: the refusals of requests that are not inference (the
// Responses API's by-id endpoints, GET /v1/models/{id}), model being the
// name or "model:version" they concern, "" when none.
func (p *Proxy) refuse(w http.ResponseWriter, r *http.Request, model string, err error) {
	p.countRefused(r, model, err)
	writeError(w, err)
}

var (
	keyRefusedDesc = prometheus.NewDesc("sluice_client_key_refused_total",
		"Data plane requests refused for their API key, by reason: no_key (none sent, or not as Authorization: Bearer), unknown_key (not a client key, nor an operator or admin token), expired_token (an operator or admin token that expired), viewer_token (an admin token whose role, viewer, may not call models: 403), store_unavailable (a secret this gateway does not hold while the token or key store cannot be read: 503), expired_key (a client key past its expires_at), revoked_key (a client key revoked, by sluice key delete), rotated_key (a client key's secret that sluice key rotate replaced, after its grace), budget_exceeded (a client key whose token_budget for its period is spent: 429 insufficient_quota, also counted under the key in sluice_client_key_requests_total), feedback_waits (a client key's POST /v1/feedback refused with a 429 because 64 of its feedback posts already wait on this replica for their answers to reach the fleet's request log). Exported once client keys are configured.",
		[]string{"reason"}, nil)
	keyRequestsDesc = prometheus.NewDesc("sluice_client_key_requests_total",
		"Client requests sent with each client key, by model and the HTTP status sent to the client (a failed attempt retried on stable is not counted again). Requests refused before routing (403, 429, an unknown model) count too; their model is empty unless the gateway serves it.",
		[]string{"key", "model", "code"}, nil)
	keyTokensDesc = prometheus.NewDesc("sluice_client_key_tokens_total",
		"Tokens of the requests sent with each client key, by model and direction (input: the prompt, output: the answer), as the backend's usage reported them or, for an answer that ended without usage, as the gateway estimated them (sluice_client_key_estimated_tokens_total counts those).",
		[]string{"key", "model", "direction"}, nil)
	keyEstimatedDesc = prometheus.NewDesc("sluice_client_key_estimated_tokens_total",
		"The part of sluice_client_key_tokens_total the gateway estimated (bytes over 4, an inline image 765) for answers that ended without the backend's usage: streams cut before their last chunk, requests the client abandoned, backends that report none. Same labels; subtract it for the backends' counts alone.",
		[]string{"key", "model", "direction"}, nil)
)

// collect sends the counters; the tokens are summed over statuses.
func (u *keyUsage) collect(ch chan<- prometheus.Metric) {
	if u.keyed.Load() {
		ch <- prometheus.MustNewConstMetric(keyRefusedDesc, prometheus.CounterValue, float64(u.noKey.Load()), "no_key")
		ch <- prometheus.MustNewConstMetric(keyRefusedDesc, prometheus.CounterValue, float64(u.badKey.Load()), "unknown_key")
		ch <- prometheus.MustNewConstMetric(keyRefusedDesc, prometheus.CounterValue, float64(u.expired.Load()), "expired_token")
		ch <- prometheus.MustNewConstMetric(keyRefusedDesc, prometheus.CounterValue, float64(u.viewer.Load()), "viewer_token")
		ch <- prometheus.MustNewConstMetric(keyRefusedDesc, prometheus.CounterValue, float64(u.storeDown.Load()), "store_unavailable")
		ch <- prometheus.MustNewConstMetric(keyRefusedDesc, prometheus.CounterValue, float64(u.keyExpired.Load()), "expired_key")
		ch <- prometheus.MustNewConstMetric(keyRefusedDesc, prometheus.CounterValue, float64(u.keyRevoked.Load()), "revoked_key")
		ch <- prometheus.MustNewConstMetric(keyRefusedDesc, prometheus.CounterValue, float64(u.keyRotated.Load()), "rotated_key")
		ch <- prometheus.MustNewConstMetric(keyRefusedDesc, prometheus.CounterValue, float64(u.budgetSpent.Load()), "budget_exceeded")
		ch <- prometheus.MustNewConstMetric(keyRefusedDesc, prometheus.CounterValue, float64(u.feedbackWaits.Load()), "feedback_waits")
	}
	type km struct{ key, model string }
	tokens := map[km][4]int64{}
	for k, c := range u.All() {
		ch <- prometheus.MustNewConstMetric(keyRequestsDesc, prometheus.CounterValue, float64(c.requests.Load()),
			k.key, k.model, strconv.Itoa(k.status))
		t := tokens[km{k.key, k.model}]
		t[0] += c.input.Load()
		t[1] += c.output.Load()
		t[2] += c.estIn.Load()
		t[3] += c.estOut.Load()
		tokens[km{k.key, k.model}] = t
	}
	for k, t := range tokens {
		ch <- prometheus.MustNewConstMetric(keyTokensDesc, prometheus.CounterValue, float64(t[0]), k.key, k.model, "input")
		ch <- prometheus.MustNewConstMetric(keyTokensDesc, prometheus.CounterValue, float64(t[1]), k.key, k.model, "output")
		ch <- prometheus.MustNewConstMetric(keyEstimatedDesc, prometheus.CounterValue, float64(t[2]), k.key, k.model, "input")
		ch <- prometheus.MustNewConstMetric(keyEstimatedDesc, prometheus.CounterValue, float64(t[3]), k.key, k.model, "output")
	}
}

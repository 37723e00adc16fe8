package sluice

import (
	"encoding/json"
	"math"
	"strings"
	"time"
)

// AuditEntry records one change: who made it, when, what it was (before and
// after) and why. The audit log is append-only.
type AuditEntry struct {
	// ID is assigned by the store, increasing, from 1. It is zero (and
	// left out of JSON) in an entry not read back from the store, such as
	// those a change's answer lists.
	ID int64 `json:"id,omitempty"`
	// At is when the change was committed: for a registry change, read
	// inside its transaction just before the COMMIT (Change.Stamp); the
	// data plane switches a moment later, when the COMMIT returns.
	At time.Time `json:"at"`
	// Actor is the name of the admin token (or "controller", "apply").
	Actor string `json:"actor"`
	// Action names the change, such as "version.register", "version.stage",
	// "model.policy", "model.labels", "model.rules", "model.create",
	// "token.create", "rollout.start".
	Action string `json:"action"`
	// Model is the model the change concerns, if any.
	Model string `json:"model,omitempty"`
	// Subject is the version id, label, token or rollout concerned, if any.
	Subject string `json:"subject,omitempty"`
	// Before and After are JSON documents of the changed object; empty for
	// creations and deletions respectively.
	Before json.RawMessage `json:"before,omitempty"`
	After  json.RawMessage `json:"after,omitempty"`
	// Reason is the operator's required explanation.
	Reason string `json:"reason"`
	// Replica names the gateway process that committed the change, on a
	// store several replicas share (the fleet's name for it, as in
	// replica_beats: host, pid and random bytes new at each start), so that
	// an operator's action and the controller's steps before and after a
	// failover can be told apart. Empty on SQLite (one gateway) and for
	// entries written before it was recorded.
	Replica string `json:"replica,omitempty"`
}

// AuditQuery selects audit entries. Zero fields do not filter.
type AuditQuery struct {
	// Model keeps entries about this model.
	Model string
	// Action keeps entries whose action starts with this prefix.
	Action string
	// ExcludeActions leaves out entries whose action starts with any of
	// these prefixes (empty ones are ignored), before Limit is applied: a
	// listing without the controller's rollout.analysis entries, written
	// every analysis interval, still holds Limit entries when that many
	// others match.
	ExcludeActions []string
	// Since and Until bound At (inclusive since, exclusive until).
	Since, Until time.Time
	// Text keeps entries whose actor, subject, reason or replica contains
	// it.
	Text string
	// Limit caps the result (newest first); 0 means 1000.
	Limit int
	// Ascending returns oldest first instead.
	Ascending bool
}

// Observation is what the data plane records of one request: the request
// log row and the input to the canary analysis.
type Observation struct {
	// RequestID is the X-Request-Id sent to the client.
	RequestID string `json:"request_id"`
	// At is when this attempt was sent to its backend, once the request's
	// body was read: a row per attempt, so a request retried on stable (or
	// on another endpoint) has its failed attempt's row at that attempt's
	// time and the retry's at the retry's, after the failed attempt's
	// Latency, and At plus Latency is when the attempt ended. Rows an
	// older gateway logged hold the request's arrival on every attempt.
	At time.Time `json:"at"`
	// Model is the model name; Version the version tag that served it.
	Model   string `json:"model"`
	Version string `json:"version"`
	// Route says how the version was chosen: pin, label, force, rule,
	// split, policy, previous_response (a continued Responses
	// conversation; see SplitConversation), or retry (served by the
	// stable version after the chosen one failed).
	Route string `json:"route"`
	// StickyHash is the hash of the sticky key (0 without one); the key
	// itself is never stored.
	StickyHash uint64 `json:"sticky_hash,omitempty"`
	// Category is the request category, "" if none.
	Category string `json:"category,omitempty"`
	// Endpoint is the API path, such as /v1/chat/completions.
	Endpoint string `json:"endpoint"`
	// Status is the HTTP status sent to the client.
	Status int `json:"status"`
	// ErrorClass is "" on success, else connect, timeout, upstream_5xx,
	// upstream_3xx (a redirect: the endpoint URL is wrong),
	// upstream_4xx, upstream_invalid (a whole answer's 200 whose body is
	// not JSON, or, to a streamed request, JSON that is no answer of the
	// kind asked for), upstream_overloaded (ClassOverloaded: the backend
	// refused it for load), stream_broken, stream_idle (the backend sent
	// nothing for timeouts.idle in the middle of its answer), canceled,
	// drain_cut (ClassDrainCut: the gateway's shutdown cut it off),
	// bad_request (ClassBadRequest: the backend refused a body that is
	// not JSON).
	ErrorClass string `json:"error_class,omitempty"`
	// Latency is the time to the last byte; TTFT the time to the first
	// content chunk of a stream (equal to Latency otherwise).
	Latency time.Duration `json:"latency_ns"`
	TTFT    time.Duration `json:"ttft_ns"`
	// InputTokens and OutputTokens come from the backend's usage, or are
	// an estimate when TokensEstimated is set.
	InputTokens  int `json:"input_tokens"`
	OutputTokens int `json:"output_tokens"`
	// FinishReason is the first choice's finish_reason, as the model gave
	// it; "" on a failure (see RetryBudgetSpent).
	FinishReason string `json:"finish_reason,omitempty"`
	// ResponseChars is the length of the generated text in bytes of UTF-8.
	// An int32 (saturating: a text of 2 GiB is no answer), as CachedTokens,
	// so that it, CachedTokens and Conversation share one word with the
	// booleans' (TestObservation_Size).
	ResponseChars int32 `json:"response_chars"`
	// CachedTokens is the backend's usage.prompt_tokens_details.cached_tokens:
	// the prompt tokens served from its prefix cache (see CacheReported).
	// An int32 (a prompt's tokens fit it many times over), next to the
	// booleans, so that they share its word's other half (see below).
	CachedTokens int32 `json:"cached_tokens,omitempty"`
	// Conversation names the Responses conversation the request belongs
	// to: a 32-bit hash (never 0) of the id of the conversation's first
	// response, set on that first turn and carried by the proxy's memory
	// of response ids onto each turn that continues it (previous_response_id).
	// 0 for a request in no conversation the gateway knows. The canary
	// analysis counts a conversation's turns as one cluster of correlated
	// samples, not as independent ones (stats.ClusteredRate). Two
	// conversations whose hashes collide (with 10,000 in a window, about one chance
	// in 90 that two of them do) are counted as one cluster, which moves the variance a
	// hair. Not kept in the request log (its rows are read for what one
	// request did; the analysis reads the windows).
	Conversation uint32 `json:"conversation,omitempty"`

	// The booleans are kept together, where they share one word: spread
	// among the other fields, each group took a word of its own, and the
	// struct, which the proxy allocates once per request, grew from the
	// allocator's 256-byte size class into the 288-byte one when Replica
	// was added (TestObservation_Size). The ninth (StreamWhole) found its
	// byte beside CachedTokens, made an int32 for it.

	// Stream is true for streamed responses.
	Stream bool `json:"stream,omitempty"`
	// CacheReported is true when the backend reported CachedTokens at all
	// (vLLM with prefix caching, OpenAI), so a cache miss (0) is told
	// apart from a backend that says nothing about its cache.
	CacheReported bool `json:"cache_reported,omitempty"`
	// TokensEstimated is true when the answer ended without the backend's
	// usage after text reached the client (a stream the client or the
	// backend cut before its last chunk, which alone carries usage; a
	// backend that reports none): InputTokens and OutputTokens are then
	// the gateway's estimate, the request body's and the relayed text's
	// bytes over 4, charged to the key's tokens_per_minute and counted in
	// its token_budget, but never read by the analysis as the version's
	// output (postgres 0023, sqlite 0018; rows written before are false).
	TokensEstimated bool `json:"tokens_estimated,omitempty"`
	// Refusal is true when the text matched a refusal phrase.
	Refusal bool `json:"refusal,omitempty"`
	// ToolsOffered is true when the request offered the model tools: a
	// non-empty tools array (or the legacy functions), not turned off by
	// tool_choice (or function_call) "none". The tool-call rate is over the
	// answers to these requests only, which requests without tools would
	// dilute.
	ToolsOffered bool `json:"tools_offered,omitempty"`
	// ToolCall is true when the answer called a tool (tool_calls, or the
	// legacy function_call, in the first choice).
	ToolCall bool `json:"tool_call,omitempty"`
	// Retried is true when this attempt failed and the request was sent
	// again: to the stable version, or, when the endpoint refused the
	// connection or refused the request for load, to another endpoint of
	// the same version.
	Retried bool `json:"retried,omitempty"`
	// SplitConversation is true on a Responses request that continued a
	// conversation the model's split began (Route previous_response, its
	// first turn routed by split): the split's random draw chose its
	// version, as it chose the first turn's, so the canary analysis judges
	// it with the split's requests. False for a conversation begun by a
	// pin, label, force header, rule or policy, and on rows logged before
	// it was kept (postgres 0027, sqlite 0022).
	SplitConversation bool `json:"split_conversation,omitempty"`
	// StreamWhole is true on a streamed request whose backend answered it
	// whole (it ignored stream: true, or sent the whole answer gzip- or
	// deflate-encoded, decoded here), which the gateway sent on to the
	// client as a stream: a success, whose TTFT is the whole answer's
	// time, and the sign of a backend that does not stream
	// (sluice_stream_whole_answers_total counts them per version). False
	// on rows logged before it was kept (postgres 0033, sqlite 0027).
	StreamWhole bool `json:"stream_whole,omitempty"`
	// RetryBudgetSpent is true on a failed attempt that was the client's
	// answer because the gateway's retry budget (the config's retries) had
	// no retry left for it: it would otherwise have been retried on
	// stable, or on another endpoint of its version (Envoy's URX response
	// flag). False on rows logged before it was kept (postgres 0035,
	// sqlite 0028), but for those logged with FinishRetryBudgetLegacy,
	// which read as it (see ReadLegacyFinish).
	RetryBudgetSpent bool `json:"retry_budget_spent,omitempty"`
	// ClientKey is the name of the client key (config client_keys) that
	// sent the request; never its secret. It is "" when the gateway has no
	// client keys, for a request sent with an operator or admin token, for
	// a mirrored request, and on rows logged before it was kept (sqlite
	// 0009, postgres 0012).
	ClientKey string `json:"client_key,omitempty"`
	// Replica names the gateway process that served the request, on a
	// store several replicas share (the fleet's name, as on the audit's
	// entries and in replica_beats: host, pid and random bytes new at each
	// start), so that "which pod served req_…" is answered from the log.
	// The PostgreSQL store stamps a row that has none with the name
	// SetReplica gave it. Empty for a lone gateway on SQLite and on rows
	// logged before it was kept (postgres 0024, sqlite 0019).
	Replica string `json:"replica,omitempty"`
}

// ClassDrainCut is the error class of a request still in flight when the
// gateway's shutdown drain ran out of time: the gateway cut it off, so its
// row says which version was serving it and for how long, but it is not the
// version's failure (Failed is false), as a client's hang-up is not.
const ClassDrainCut = "drain_cut"

// ClassBadRequest is the error class of an attempt whose backend refused
// with a 400 (or 422) a JSON request body that is not valid JSON: a
// client's mistake, not the version's failure (Failed is false), which
// the analysis counts apart from its requests, as it does drain_cut. The
// gateway reads only the fields it routes on, so such a body reaches the
// backend; the whole body is checked only once the backend refused it,
// off the success path. It is CodeBadRequest's name, the code the
// gateway's own 400s carry. Rows logged before it say upstream_4xx.
const ClassBadRequest = "bad_request"

// ClassOverloaded is the error class of an attempt whose backend refused
// it for load before any byte of its answer: a 429 or a 408, or a 503
// that says when to come back (Retry-After): TGI's "Model is overloaded",
// vLLM behind a queue limit, a hosted backend's rate limit. Nothing was
// generated, so a request the gateway routed (split, policy, rule) is
// retried on stable, as after a 5xx. It is the version's failure for the
// analysis (Failed is true: an overloaded canary fails its analysis), but
// not for outlier ejection, since ejecting a stable version that refuses
// under load would move its load onto the candidate.
const ClassOverloaded = "upstream_overloaded"

// FinishRetryBudgetLegacy is the FinishReason gateways of one release
// (before postgres 0035, sqlite 0028) gave a request log row whose failed
// attempt was the answer for the retry budget, in a field that elsewhere
// holds what the model said. It is no longer written: such a row now has
// RetryBudgetSpent set. Rows written with it read as the flag
// (ReadLegacyFinish).
const FinishRetryBudgetLegacy = "retry_budget"

// ReadLegacyFinish makes a request log row written with the former
// FinishRetryBudgetLegacy mark read as rows are written now: the mark
// becomes RetryBudgetSpent and the finish reason is "" (a failed attempt
// has none). Only a failed row holds the mark, so a model's finish reason
// of that name, on an answer, is left as it is. The stores call it on
// every row they read back.
func (o *Observation) ReadLegacyFinish() {
	if o.FinishReason == FinishRetryBudgetLegacy && o.ErrorClass != "" {
		o.FinishReason, o.RetryBudgetSpent = "", true
	}
}

// Failed reports whether the observation counts as an error for the
// version: an error class other than canceled (the client left),
// drain_cut (the gateway's shutdown cut it off) and bad_request (the
// client sent a body that is not JSON).
func (o *Observation) Failed() bool {
	return o.ErrorClass != "" && o.ErrorClass != "canceled" && o.ErrorClass != ClassDrainCut && o.ErrorClass != ClassBadRequest
}

// RequestQuery selects request log rows. Zero fields do not filter.
type RequestQuery struct {
	Model, Version string
	// RequestID finds one request.
	RequestID string
	// ClientKey keeps the rows of requests sent with the client key of
	// that name (Observation.ClientKey).
	ClientKey string
	// NoClientKey keeps the rows of requests sent without a client key
	// (Observation.ClientKey ""): with an operator's or admin's token, to
	// a gateway without client keys, or logged before keys were kept. It
	// and ClientKey are not given together.
	NoClientKey bool
	// Replica keeps the rows of requests served by the replica of that
	// name (Observation.Replica, ReplicaMatches): its whole name, or the
	// name it was given before the parts each start adds (a pod's name
	// covers each of its starts).
	Replica string
	// NoReplica keeps the rows that name no replica (Observation.Replica
	// ""): a lone gateway's, and those logged before the replica was
	// kept. It and Replica are not given together.
	NoReplica bool
	// Failed keeps the rows of failed attempts (Observation.Failed: an
	// error class other than canceled, drain_cut and bad_request), a retried attempt's
	// included: the rows the error rate counts, which an SRE chasing a
	// canary's errors asks for.
	Failed bool
	// Category keeps the rows of that request category
	// (Observation.Category); Route those whose version was chosen that
	// way (Observation.Route: split, pin, retry, ...).
	Category, Route string
	// RetryBudgetSpent, when not nil, keeps the rows whose
	// Observation.RetryBudgetSpent is *RetryBudgetSpent (as read back: a
	// row with the former mark, FinishRetryBudgetLegacy, counts as
	// flagged): true lists the failed attempts the retry budget left
	// unretried, which an SRE sizing the budget asks for.
	RetryBudgetSpent *bool
	// Since and Until bound At (inclusive since, exclusive until).
	Since, Until time.Time
	// Limit caps the result (newest first); 0 means 1000.
	Limit int
}

// RequestRoutes are the routes a request log row can hold
// (Observation.Route), how its version was chosen: the routing table's
// (route.RouteSplit, RoutePolicy, RoutePin, RouteLabel, RouteForce,
// RouteRule), a later turn of a Responses conversation kept on its version
// (proxy.RoutePrevious) and the retry on stable. The API refuses a route
// filter naming another, which could only be a typo (a mirrored request's
// "shadow" is never logged).
var RequestRoutes = []string{"split", "policy", "pin", "label", "force", "rule", "previous_response", "retry"}

// RequestCategoriesListed is how many categories an answer to a category
// no row has lists (Store.RequestCategory returns one more, to say there
// are more): a category is the clients' free text, as many as their users.
const RequestCategoriesListed = 20

// ReplicaMatches reports whether a request log row served by the replica
// named replica (Observation.Replica) is one RequestQuery.Replica filter
// keeps: the same name, or one that continues it after a dash. A replica's
// name is the name it was given (a pod's, or host and process id) and
// random bytes new at each start, so "sluice-2" keeps every start of that
// pod ("sluice-2-1-4f2a9c1e"), which the operator chasing it knows, but not
// "sluice-20-…". An empty filter keeps nothing here: NoReplica asks for
// the rows without a replica.
func ReplicaMatches(replica, filter string) bool {
	return filter != "" && strings.HasPrefix(replica, filter) && (len(replica) == len(filter) || replica[len(filter)] == '-')
}

// VersionCount is how many logged requests a version served.
type VersionCount struct {
	Version string `json:"version"`
	Count   int64  `json:"count"`
}

// UsageRow is what the requests of one client key to one version of a model
// used, summed from the request log (Store.RequestUsage). A row of an
// attempt retried on another version is left out wholly: the client's
// request counts once, on the version that answered it.
type UsageRow struct {
	// ClientKey is the name of the client key that sent the requests
	// (Observation.ClientKey): "" for requests sent with an operator's or
	// admin's token, to a gateway without client keys, or logged before
	// keys were kept.
	ClientKey string `json:"key"`
	// Model and Version name what served them; "" in a sum over several.
	Model   string `json:"model,omitempty"`
	Version string `json:"version,omitempty"`
	// Requests counts the requests; Errors those that finished with an
	// error (Observation.Failed), Canceled those the client gave up on.
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	Canceled int64 `json:"canceled"`
	// InputTokens, OutputTokens and CachedTokens sum the backend's usage:
	// prompt, completion, and prompt tokens served from its prefix cache
	// (0 from backends that do not say); InputTokens and OutputTokens
	// hold the gateway's estimates too (EstimatedTokens says how many).
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
	CachedTokens int64 `json:"cached_tokens"`
	// EstimatedTokens is how many of InputTokens and OutputTokens (input
	// and output together) are the gateway's estimate, not the backend's
	// usage: the rows with Observation.TokensEstimated.
	EstimatedTokens int64 `json:"estimated_tokens"`
}

// Add adds o's counts to u (not its names).
func (u *UsageRow) Add(o UsageRow) {
	u.Requests += o.Requests
	u.Errors += o.Errors
	u.Canceled += o.Canceled
	u.InputTokens += o.InputTokens
	u.OutputTokens += o.OutputTokens
	u.CachedTokens += o.CachedTokens
	u.EstimatedTokens += o.EstimatedTokens
}

// AddResponseChars adds n bytes of text to ResponseChars, saturating at the
// largest int32.
func (o *Observation) AddResponseChars(n int) {
	o.ResponseChars = int32(min(int64(o.ResponseChars)+int64(n), math.MaxInt32))
}

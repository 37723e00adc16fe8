package proxy

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/route"
)

// Recorder receives one observation per attempt at a backend; the observe
// package's Recorder implements it.
type Recorder interface {
	Record(o *sluice.Observation)
}

// RequestLogger receives one row per client request, and one more for an
// attempt that failed and was retried on stable (Observation.Retried, under
// the same request id), off the request path; the observe package's
// RequestLog implements it.
type RequestLogger interface {
	Enqueue(o sluice.Observation)
}

// RefusalMatcher says whether generated text is a refusal.
type RefusalMatcher interface {
	Match(text []byte) bool
}

// Options configures a Proxy. Zero fields take the defaults noted.
type Options struct {
	// Routes holds the current routing table. Required.
	Routes *route.Holder
	// Recorder gets an observation per backend attempt; nil records nothing.
	Recorder Recorder
	// Log gets a request log row per client request, and one per attempt
	// retried on stable; nil logs nothing.
	Log RequestLogger
	// Refusal detects refusals in generated text; nil detects none.
	Refusal RefusalMatcher
	// MaxBodyBytes caps request bodies (413 above it); default 8 MiB.
	MaxBodyBytes int64
	// MaxAudioBodyBytes caps the bodies of the audio paths (transcriptions,
	// translations) in MaxBodyBytes's place; default 25 MiB, or
	// MaxBodyBytes when larger.
	MaxAudioBodyBytes int64
	// NoRetry turns off retrying a failed attempt on the stable version.
	// By default connect errors, timeouts and 5xx answers that happen before
	// the first byte reaches the client are retried once on stable.
	NoRetry bool
	// RetryBudget bounds the retries this gateway sends; nil means
	// DefaultRetryBudgetPercent and DefaultRetryMinPerSecond.
	RetryBudget *RetryBudget
	// Logger gets a warning, at most one a RetryBudgetLogEvery per model,
	// when the retry budget refused retries (logRetryRefused); nil
	// discards.
	Logger *slog.Logger
	// ConnectTimeout bounds dialing a backend; default 5 s.
	ConnectTimeout time.Duration
	// FirstByteTimeout bounds the wait for the backend's response headers
	// (prefill included) and, for a stream, for its first event or comment:
	// vLLM sends a stream's headers before prefill. Comments before the
	// first event are held, and passed on once the attempt has been out
	// this long or 20 s, whichever is less (firstEvents). A failure
	// within it is retried on stable as a connection failure is, since the
	// client has been sent nothing yet. With the own client it runs from
	// when the request was sent; with Options.Transport the transport bounds
	// the headers (NewTransport's ResponseHeaderTimeout) and the proxy the
	// first line, each by this. Default 120 s.
	FirstByteTimeout time.Duration
	// RequestTimeout bounds a whole request, stream included; default 10 min.
	RequestTimeout time.Duration
	// IdleTimeout bounds a backend's silence once its answer has begun
	// (after the header, or a stream's first line, which FirstByteTimeout
	// bounds): a read of the answer's body that waits this long on the
	// backend is cut off, the backend connection closed, and the request
	// ends as the version's failure, class "stream_idle" (a stream with
	// an error event, a whole answer with a 504). Default 120 s; negative
	// turns the bound off.
	IdleTimeout time.Duration
	// CategoryHeader names the request header carrying the request category;
	// default X-Request-Category. The body's metadata.category is the
	// fallback.
	CategoryHeader string
	// ForceAllowed says whether the caller may use the force-version header;
	// nil means nobody may.
	ForceAllowed func(r *http.Request) bool
	// ForceHeader names the force-version header when it is not the
	// default X-Sluice-Version (which is never forwarded), so that a custom
	// one does not reach backends either.
	ForceHeader string
	// Admit, if set, checks that the caller may use the model named in the
	// body (client API key scopes, KeySet.Admit); its error is the answer.
	Admit func(r *http.Request, model string) error
	// Transport sends requests to backends; nil means the proxy's own
	// HTTP/1.1 client, which costs far less per request than an
	// http.Transport (see upstream.go). Redirects are never followed.
	Transport http.RoundTripper
	// Backends adds to every request to a backend (live, retried,
	// mirrored, by id) Authorization: Basic from its endpoint URL's
	// user:password@ and the headers configured for its endpoint,
	// replacing the client's of the same names; nil adds the URL's
	// credentials only. The gateway's health checks and warm-ups share it.
	Backends *Backends
	// OnResult, if set, is told the outcome of every backend attempt
	// (outlier ejection uses it).
	OnResult func(versionID string, failed bool)
	// Now is the clock; nil means time.Now.
	Now func() time.Time

	// Quality receives quality scores: the heuristic score of each answer
	// and user feedback. Nil means Recorder, when it implements
	// QualityRecorder (observe.Recorder does); else scores are dropped.
	Quality QualityRecorder
	// NoHeuristicQuality turns off the heuristic quality score the proxy
	// records for every successful chat or completion answer (see
	// HeuristicScore).
	NoHeuristicQuality bool
	// Judge grades a sample of answers off the request path; nil grades
	// none. judge.Judge implements it.
	Judge Judge
	// ShadowQueue is how many mirrored requests may wait for a shadow
	// worker; default 1024. A mirrored request that finds the queue full is
	// dropped and counted (sluice_shadow_dropped_total), so a slow candidate
	// never slows the live path.
	ShadowQueue int
	// ShadowWorkers is how many mirrored requests run at once; default 4.
	ShadowWorkers int
	// ShadowPairs is how many primary/shadow answer pairs are kept for
	// review (ShadowPairs), across models; default DefaultShadowPairs.
	ShadowPairs int
	// OnShadowPair, if set, is given each pair as it is kept, its Seq set,
	// in a shadow worker (never on the request path): on a shared store it
	// queues the pair for the store (fleet.Pairs.Add). It must not block.
	OnShadowPair func(ShadowPair)
	// FeedbackWindow is how many of the most recent requests accept
	// feedback through POST /v1/feedback; default 100000. It costs 56 bytes
	// per request, allocated by New.
	FeedbackWindow int
	// FeedbackLog lets a gateway take feedback on an answer another
	// process gave (another replica on a shared store, or this gateway
	// before a restart, or longer ago than FeedbackWindow): the answer is
	// read from the request log, and each answer's one score is claimed
	// in the store with its score (sluice.Feedback), which the ring's
	// answers are too, so an A/B test's report reads them back whichever
	// process took them. Nil takes feedback on this process's last
	// FeedbackWindow answers alone, and keeps the scores in its memory.
	FeedbackLog FeedbackLog
	// FeedbackWait is how long feedback read from FeedbackLog waits for
	// the answer's row, which its replica's request log writes in
	// batches; default DefaultFeedbackWait.
	FeedbackWait time.Duration
	// FeedbackLone says FeedbackLog is one gateway's alone (SQLite): the
	// rows it reads are this process's former self's, written before it
	// ended or never, so an answer's row is read once, with no wait, and
	// a 404 names a restart rather than the replicas. Each score is still
	// claimed there, with its score, so that it outlives the process.
	FeedbackLone bool
	// Tracing, if set, makes OpenTelemetry spans of every inference
	// request and its attempts (trace.go); nil makes none, and a client's
	// traceparent reaches the backend untouched. SetTracing replaces it.
	Tracing *Tracing
	// ResponseIDs is how many Responses API response ids the proxy
	// remembers the version (and endpoint) of, so that a request that
	// continues one (previous_response_id) reaches the backend that keeps
	// it; default DefaultResponseIDs (about 150 bytes each, see
	// affinity.go; the gateway's config key responses.remember_ids). The
	// oldest are forgotten first.
	ResponseIDs int
}

// Proxy is the OpenAI-compatible data plane handler.
type Proxy struct {
	opt       Options
	transport http.RoundTripper
	// tracing is the tracing in force: Options.Tracing, then SetTracing's.
	tracing atomic.Pointer[Tracing]
	up      *upstream // the own client, when Options.Transport is nil
	// idle bounds the silence of Options.Transport's answers (idle.go).
	idle     idleWatch
	bufs     sync.Pool
	quality  QualityRecorder
	inflight inflight
	mirrors  inflight // the mirrored requests among inflight's
	// wholeStreams counts, per version, the streamed requests answered
	// by one whole answer that the proxy relayed as a stream
	// (relayWholeAsStream).
	wholeStreams inflight
	keyUsage     keyUsage
	shadow       shadowState
	feedback     *feedbackRing
	// responseIDs remembers where Responses API answers were answered.
	responseIDs *responseIDs
	// byID sends the Responses API's by-id requests when Options.Transport
	// is nil, made at the first (responses_byid.go).
	byID     http.RoundTripper
	byIDOnce sync.Once
	// forceHeader is Options.ForceHeader, canonical, when it is not the
	// default; "" otherwise.
	forceHeader string
	// retryBudget bounds the retries (Options.RetryBudget); retryStats
	// counts them per model for /metrics.
	retryBudget *retryBudget
	retryStats  retryStats
	// retryConf is the budget's settings, for its log line.
	retryConf RetryBudget
	// traceWrites: Options.Transport is an http.Transport, whose trace
	// tells a request canceled before it was written (wroteWatch).
	traceWrites bool
}

// New returns a Proxy with opt's defaults filled in.
func New(opt Options) *Proxy {
	if opt.MaxBodyBytes <= 0 {
		opt.MaxBodyBytes = 8 << 20
	}
	if opt.MaxAudioBodyBytes <= 0 {
		opt.MaxAudioBodyBytes = max(25<<20, opt.MaxBodyBytes)
	}
	if opt.ConnectTimeout <= 0 {
		opt.ConnectTimeout = 5 * time.Second
	}
	if opt.FirstByteTimeout <= 0 {
		opt.FirstByteTimeout = 120 * time.Second
	}
	if opt.RequestTimeout <= 0 {
		opt.RequestTimeout = 10 * time.Minute
	}
	if opt.IdleTimeout == 0 {
		opt.IdleTimeout = 120 * time.Second
	}
	if opt.CategoryHeader == "" {
		opt.CategoryHeader = "X-Request-Category"
	}
	opt.CategoryHeader = http.CanonicalHeaderKey(opt.CategoryHeader)
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.ShadowQueue <= 0 {
		opt.ShadowQueue = 1024
	}
	if opt.ShadowWorkers <= 0 {
		opt.ShadowWorkers = 4
	}
	if opt.ShadowPairs <= 0 {
		opt.ShadowPairs = DefaultShadowPairs
	}
	if opt.FeedbackWindow <= 0 {
		opt.FeedbackWindow = 100_000
	}
	if opt.FeedbackWait <= 0 {
		opt.FeedbackWait = DefaultFeedbackWait
	}
	if opt.ResponseIDs <= 0 {
		opt.ResponseIDs = DefaultResponseIDs
	}
	if opt.Backends == nil {
		opt.Backends, _ = NewBackends(nil) // the URLs' credentials, worked out once per endpoint
	}
	p := &Proxy{opt: opt, transport: opt.Transport, quality: opt.Quality}
	rb := RetryBudget{Percent: DefaultRetryBudgetPercent, MinPerSecond: DefaultRetryMinPerSecond}
	if opt.RetryBudget != nil {
		rb = *opt.RetryBudget
	}
	p.retryBudget = newRetryBudget(rb.Percent, rb.MinPerSecond)
	p.retryConf = rb
	if p.opt.Logger == nil {
		p.opt.Logger = slog.New(slog.DiscardHandler)
	}
	p.tracing.Store(opt.Tracing)
	_, p.traceWrites = p.transport.(*http.Transport)
	if p.transport == nil {
		p.up = newUpstream(opt.ConnectTimeout, opt.FirstByteTimeout, opt.Backends)
		p.up.idle = max(opt.IdleTimeout, 0)
	}
	if p.quality == nil {
		p.quality, _ = opt.Recorder.(QualityRecorder)
	}
	p.shadow.init(opt.ShadowQueue, opt.ShadowPairs)
	p.feedback = newFeedbackRing(opt.FeedbackWindow)
	p.responseIDs = newResponseIDs(opt.ResponseIDs)
	p.bufs.New = func() any { b := make([]byte, 0, 4<<10); return &b }
	if h := textproto.CanonicalMIMEHeaderKey(opt.ForceHeader); h != "" && h != "X-Sluice-Version" {
		p.forceHeader = h
	}
	return p
}

// NewTransport returns the http.Transport the proxy uses by default: many
// idle keep-alive connections per backend, no compression (the proxy reads
// usage from the answer), no proxy from the environment.
func NewTransport(connect, firstByte time.Duration) *http.Transport {
	d := &net.Dialer{Timeout: connect, KeepAlive: 30 * time.Second}
	return &http.Transport{
		DialContext:           d.DialContext,
		MaxIdleConns:          4096,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: firstByte,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
		WriteBufferSize:       32 << 10,
		ReadBufferSize:        32 << 10,
	}
}

// ServeHTTP routes the OpenAI API paths.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && isInferencePath(r.URL.Path) {
		p.serveInference(w, r)
		return
	}
	if t := p.tracing.Load(); t != nil {
		h := p.startHTTP(t, w, r)
		defer h.endHTTP()
		w = h
	}
	p.serveOther(w, r)
}

// serveOther serves the paths that are not inference: /v1/models, its
// entries, /v1/feedback and the Responses API's by-id endpoints, and an
// inference path asked with another method than POST.
func (p *Proxy) serveOther(w http.ResponseWriter, r *http.Request) {
	switch path := r.URL.Path; {
	case isInferencePath(path):
		w.Header().Set("Allow", "POST")
		WriteErrorStatus(w, http.StatusMethodNotAllowed, sluice.CodeBadRequest, r.URL.Path+" takes POST with a JSON body")
	case path == "/v1/models":
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", "GET")
			WriteErrorStatus(w, http.StatusMethodNotAllowed, sluice.CodeBadRequest, "/v1/models takes GET")
			return
		}
		p.serveModels(w, r)
	case path == pathFeedback:
		p.serveFeedback(w, r)
	default:
		if id, ok := strings.CutPrefix(r.URL.Path, "/v1/models/"); ok && id != "" {
			if r.Method != http.MethodGet {
				w.Header().Set("Allow", "GET")
				WriteErrorStatus(w, http.StatusMethodNotAllowed, sluice.CodeBadRequest, "/v1/models/{model} takes GET")
				return
			}
			p.serveModel(w, r, id)
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, pathResponsesByID); ok && rest != "" {
			p.serveResponseByID(w, r, rest)
			return
		}
		writeErrorCode(w, sluice.CodeNotFound, "unknown path "+r.URL.Path+": "+servedPaths)
	}
}

// exchange is one client request on its way through the proxy.
type exchange struct {
	w     http.ResponseWriter
	r     *http.Request
	reqID string
	seq   uint64    // the counter in reqID
	start time.Time // when the request arrived: its server span's start
	// sent is when the attempt under way was sent to its backend, after
	// the request body was read: its observation's At, and latency and
	// TTFT are measured from it, so a slow upload or a failed attempt
	// before a retry is not charged to the version, and each attempt's
	// row in the request log is at its own time (a retry's after the
	// attempt it followed, not at the request's arrival as both were).
	sent     time.Time
	body     []byte
	f        fields
	category string

	// keep is nil unless the answer is mirrored or judged, so that other
	// requests pay nothing for keeping its text.
	keep *keep
	// deadline ends the request (Options.RequestTimeout, on the wall
	// clock) when the own client enforces it; zero otherwise.
	deadline time.Time
	// br reads a streamed answer's body from its first line on (pooled,
	// streamReaders); nil until an attempt waits for that line.
	br *bufio.Reader
	// idle bounds the silence of an answer that came through
	// Options.Transport (pooled, idleBodies); nil until one did.
	idle *idleBody
	// prev is where the response a Responses request continues
	// (previous_response_id) was answered, when the proxy knows; nil
	// otherwise.
	prev *answeredBy
	// endpoint is the backend base URL of the last attempt.
	endpoint string
	// endpointNext, when not 0, is 1 + the index of the endpoint the next
	// attempt goes to (forward's choice after a refused connection),
	// used once by endpointFor.
	endpointNext int
	// endpointN counts the last attempt in flight to endpoint, until
	// releaseEndpoint; nil when released.
	endpointN *route.Load
	// held is a whole chat or completions answer read before the
	// attempt's outcome was decided (holdAnswer), in a buffer of p.bufs
	// that relayBody puts back; heldF and heldOK are what the walker read
	// of it.
	held   *[]byte
	heldF  answerFields
	heldOK bool
	// wholeStream says held is the whole answer of a streamed request, of
	// the kind asked for, which relay sends as a stream
	// (relayWholeAsStream).
	wholeStream bool
	// cut is set by relayRaw when the answer it passed on ended short
	// (the backend broke off, the request's time ran out): forward
	// aborts the response once the request is recorded.
	cut bool
	// unmeasured is the bytes of the answer's reasoning text and tool
	// calls' arguments the walker read (chunkFields.unmeasured), which
	// obs.ResponseChars leaves out: an answer cut before its usage is
	// estimated with them (estimateTokens).
	unmeasured int
	// tr are the request's spans; nil when tracing is off.
	tr *spans
	// registered says the answer is in the feedback ring (Proxy.answered).
	registered bool
}

// releaseReader returns x.br and x.idle to their pools; the answer's body
// has been closed.
func (x *exchange) releaseReader() {
	if x.br != nil {
		putReader(x.br)
		x.br = nil
	}
	if x.idle != nil {
		x.idle.body = nil
		idleBodies.Put(x.idle)
		x.idle = nil
	}
}

// requestContext returns the context of the request's backend attempts.
// With the own client the request timeout is a deadline on the backend
// connection (x.deadline), which costs no timer and context of its own.
func (p *Proxy) requestContext(x *exchange) (context.Context, context.CancelFunc) {
	if p.up != nil {
		x.deadline = time.Now().Add(p.opt.RequestTimeout)
		return x.r.Context(), func() {}
	}
	return context.WithTimeout(x.r.Context(), p.opt.RequestTimeout)
}

// keep is what the proxy keeps of an answer that is mirrored or judged.
type keep struct {
	limit  int    // how many bytes of the text to keep
	text   []byte // the start of the generated text
	judged bool   // the answer goes to the judge
	shadow bool   // this is the mirrored request, sent to the candidate
	// mirror is the rule the request is mirrored by, or nil.
	mirror *shadowRule
	// calls are the answer's tool calls, for its shadow pair (wantCalls).
	calls pairCalls
}

// wantCalls reports whether the answer's tool calls are kept: for a shadow
// pair, the live answer of a mirrored request and the candidate's; not for
// an answer kept for the judge alone.
func (k *keep) wantCalls() bool { return k != nil && (k.mirror != nil || k.shadow) }

// keptText returns the kept text cut to n bytes, "" when none is kept.
func (x *exchange) keptText(n int) string {
	if x.keep == nil {
		return ""
	}
	return textOf(x.keep.text, n)
}

func (p *Proxy) serveInference(w http.ResponseWriter, r *http.Request) {
	x := exchange{w: w, r: r, start: p.opt.Now()}
	x.reqID, x.seq = newRequestID(x.start)
	w.Header().Set("X-Request-Id", x.reqID)
	if t := p.tracing.Load(); t != nil {
		p.startServer(&x, t)
		defer p.endServer(&x)
	}
	bp := p.bufs.Get().(*[]byte)
	defer p.bufs.Put(bp)
	body, err := p.readBody(r, (*bp)[:0])
	*bp = body[:0]
	if err != nil {
		chargeUnadmitted(r)
		p.countRefused(r, "", err)
		x.tr.failed(err)
		writeError(w, err)
		return
	}
	x.body = body
	if err := x.parse(p.opt.CategoryHeader); err != nil {
		chargeUnadmitted(r)
		p.countRefused(r, "", err)
		x.tr.failed(err)
		writeError(w, err)
		return
	}
	x.tr.named(&x)
	if p.opt.Admit != nil {
		if err := p.opt.Admit(r, x.f.model.Str); err != nil {
			admitRefusedHeaders(w, r)
			p.countRefused(r, x.f.model.Str, err)
			x.tr.failed(err)
			writeError(w, err)
			return
		}
	}
	allowed := p.opt.ForceAllowed != nil && p.opt.ForceAllowed(r)
	rq := route.Request{Model: x.f.model.Str, StickyKey: x.f.stickyKey(), Header: r.Header, ForceAllowed: allowed, Category: x.category}
	if x.f.prevID != "" {
		if a, ok := p.responseIDs.get(x.f.prevID); ok {
			if !mayActOn(r, a.key) {
				err := errNotYourResponse(x.f.prevID)
				p.countRefused(r, x.f.model.Str, err)
				x.tr.failed(err)
				writeError(w, err)
				return
			}
			x.prev = &a
		}
	}
	d, n, tab, err := p.decide(&rq, &x)
	if err != nil {
		p.countRefused(r, x.f.model.Str, err)
		x.tr.failed(err)
		p.writeRouteError(w, tab, err)
		return
	}
	x.tr.routed(d)
	if p.forceHeader != "" {
		delete(r.Header, p.forceHeader)
	}
	p.forward(&x, d, n, tab)
}

// writeRouteError sends the error of a routing decision. The OpenAI SDKs
// retry a 503 twice on their own; a 503 from a loaded routing table (the
// model's policy is off, or names nothing that can serve) lasts until an
// operator acts, so it carries X-Should-Retry: false, which the SDKs obey.
// The 503 of a table not loaded yet is left to their retries: tab is the
// table the decision was made by, nil when none was loaded (read again
// here, one loaded meanwhile would have marked that 503 final).
func (p *Proxy) writeRouteError(w http.ResponseWriter, tab *route.Table, err error) {
	if sluice.ErrorCode(err) == sluice.CodeUnavailable && tab != nil {
		w.Header().Set("X-Should-Retry", "false")
	}
	writeError(w, err)
}

// decide routes rq and counts the request in flight to the version it
// chose (see hold), returning that version's counter, already raised, and
// the table it routed by (see retryOn). A request that continues a known
// response goes to the version that answered it (previousDecision).
func (p *Proxy) decide(rq *route.Request, x *exchange) (route.Decision, *atomic.Int64, *route.Table, error) {
	tab := p.opt.Routes.Load()
	for {
		d, err := tab.Decide(rq)
		if err == nil && x.prev != nil {
			d, err = previousDecision(tab, d, x.f.prevID, *x.prev)
		}
		if err != nil {
			return d, nil, tab, err // tab, nil when none is loaded, tells writeRouteError which 503 it is
		}
		n, now := p.hold(tab, d.Target)
		if n != nil {
			return d, n, tab, nil
		}
		tab = now
	}
}

// hold counts a request in flight to t, chosen from routing table tab, and
// returns t's counter, raised; or, when tab is no longer the table in
// force, nil and the table that is, with nothing raised, for the caller to
// choose again. A rollback's drain swaps the table and then waits for the
// candidate's count to reach 0: a request that chose the candidate from
// the old table but raised its count only after the drain read it would be
// missed, and sent to a candidate being unloaded. So the table is read
// again after the count is raised. The cost is one atomic load.
func (p *Proxy) hold(tab *route.Table, t *route.Target) (*atomic.Int64, *route.Table) {
	n := p.inflight.counter(t.ID)
	n.Add(1)
	if now := p.opt.Routes.Load(); now != tab {
		n.Add(-1)
		return nil, now
	}
	return n, tab
}

func (x *exchange) parse(categoryHeader string) error {
	if isFormPath(x.r.URL.Path) {
		if ct := x.r.Header.Get("Content-Type"); isForm(ct) {
			if err := compressedError(x.r.Header.Get("Content-Encoding")); err != nil {
				return err
			}
			f, err := readFormFields(x.body, ct)
			if err != nil {
				return err
			}
			x.f = f
			x.f.forPath(x.r.URL.Path)
			return x.checkFields(categoryHeader)
		}
	}
	trim := bytes.TrimLeft(x.body, " \t\r\n")
	if len(trim) == 0 || trim[0] != '{' {
		if err := compressedError(x.r.Header.Get("Content-Encoding")); err != nil {
			// The body is what the client compressed: say that, not
			// that it is no JSON object (only on this error path).
			return err
		}
		return sluice.Errorf(sluice.CodeBadRequest, "the request body must be a JSON object such as {\"model\": \"chat\", \"messages\": [...]}")
	}
	// Only the fields the proxy routes on are read: a body broken after
	// them goes to the backend, and is checked whole only when the
	// backend refuses it (clientBodyClass), off the success path.
	x.f = readFields(x.body)
	x.f.forPath(x.r.URL.Path)
	return x.checkFields(categoryHeader)
}

// compressedError is the error for a body sent with Content-Encoding enc,
// which the gateway does not read, or nil when enc is none or identity.
func compressedError(enc string) error {
	if enc == "" || strings.EqualFold(enc, "identity") {
		return nil
	}
	if len(enc) > 32 {
		enc = enc[:32] + "…"
	}
	return sluice.Errorf(sluice.CodeBadRequest, "the request body is compressed (Content-Encoding: %s), which the gateway does not read: send it uncompressed, as the OpenAI SDKs do", enc)
}

// checkFields checks the fields parse read and sets the request's
// category.
func (x *exchange) checkFields(categoryHeader string) error {
	if x.f.form && !x.f.model.Exists() {
		m := "image"
		if x.r.URL.Path == pathTranscriptions || x.r.URL.Path == pathTranslations {
			m = "whisper"
		}
		return sluice.Errorf(sluice.CodeBadRequest, "the form has no \"model\" field: add one naming a model such as \"%s\", a pin such as \"%s:v1.2.0\" or a label such as \"%s@canary\" (GET /v1/models lists them)", m, m, m)
	}
	if !x.f.model.Exists() {
		if !json.Valid(x.body) {
			// {'model': 'chat'}: it has one, in a shape no JSON reader
			// takes (checked on this error path alone).
			return sluice.Errorf(sluice.CodeBadRequest, "the request has no \"model\" the gateway could read: the body is not valid JSON; send a JSON object, its names and strings in double quotes, such as {\"model\": \"chat\", \"messages\": [...]}")
		}
		return sluice.Errorf(sluice.CodeBadRequest, "the request has no \"model\": set it to a model name such as \"chat\", a pin such as \"chat:v1.2.0\" or a label such as \"chat@canary\" (GET /v1/models lists them)")
	}
	if x.f.dupModel {
		// The proxy routes on one and a backend may read another.
		return sluice.Errorf(sluice.CodeBadRequest, "the request body has \"model\" more than once: send it once")
	}
	if x.f.dupStream != "" {
		// The proxy reads one and adds include_usage to one; a backend
		// may read another (see keyStream).
		return sluice.Errorf(sluice.CodeBadRequest, "the request body has \"%s\" more than once: send it once", x.f.dupStream)
	}
	if x.f.model.Type.String() != "String" {
		return sluice.Errorf(sluice.CodeBadRequest, "\"model\" must be a string such as \"chat\"")
	}
	if !validName(x.f.model.Str) {
		return sluice.Errorf(sluice.CodeBadRequest, "\"model\" contains control characters or invalid UTF-8: send a plain name such as \"chat\"")
	}
	// An empty header (a client template's unset variable) is absent, as
	// for the sticky and force headers.
	if cat := x.r.Header[categoryHeader]; len(cat) > 0 && cat[0] != "" {
		x.category = cat[0]
	} else {
		x.category = x.f.category
	}
	if len(x.category) > 64 || !validName(x.category) {
		x.category = "invalid"
	}
	return nil
}

// AudioPath reports whether path is an audio upload's (transcriptions,
// translations), whose body max_audio_body_bytes bounds (BodyLimit).
func AudioPath(path []byte) bool {
	switch string(path) { // compared, not kept: no allocation
	case pathTranscriptions, pathTranslations:
		return true
	}
	return false
}

// BodyLimit returns the largest body a request may send and the setting
// that bounds it: max_audio_body_bytes for an audio upload (AudioPath),
// max_body_bytes for every other path.
func BodyLimit(audio bool, maxBody, maxAudio int64) (limit int64, setting string) {
	if audio {
		return maxAudio, "max_audio_body_bytes"
	}
	return maxBody, "max_body_bytes"
}

// TooLargeError is the answer to a request body over limit bytes, which
// setting bounds (BodyLimit).
func TooLargeError(limit int64, setting string) error {
	return sluice.Errorf(sluice.CodeTooLarge, "the request body is larger than the %d-byte limit: send a smaller request or raise %s", limit, setting)
}

func (p *Proxy) readBody(r *http.Request, buf []byte) ([]byte, error) {
	audio := r.URL.Path == pathTranscriptions || r.URL.Path == pathTranslations
	limit, setting := BodyLimit(audio, p.opt.MaxBodyBytes, p.opt.MaxAudioBodyBytes)
	// Made only when needed: formatting it cost every request an
	// allocation and a Sprintf.
	tooLarge := func() error { return TooLargeError(limit, setting) }
	if r.ContentLength > limit {
		return buf, tooLarge()
	}
	lr := io.LimitedReader{R: r.Body, N: limit + 1}
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := lr.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return buf, sluice.Errorf(sluice.CodeBadRequest, "the request body did not arrive within the gateway's request timeout (timeouts.request): send the whole body promptly")
			}
			return buf, sluice.Errorf(sluice.CodeBadRequest, "reading the request body failed (%s): resend the request", bodyErrText(err))
		}
	}
	if int64(len(buf)) > limit {
		return buf, tooLarge()
	}
	return buf, nil
}

// forward sends the request to the decided version, retries on stable when
// allowed, and relays the answer; then it records the quality score, hands
// the answer to the judge and the mirror when they want it, and remembers
// the request for feedback.
//
// n is the counter of requests in flight to d.Target, raised by decide; it
// is lowered when the answer ends (or moved to stable's on a retry). tab is
// the routing table d was decided by.
func (p *Proxy) forward(x *exchange, d route.Decision, n *atomic.Int64, tab *route.Table) {
	defer func() { n.Add(-1); x.releaseEndpoint() }()
	ctx, cancel := p.requestContext(x)
	defer cancel()
	target := d.Target
	routeName := d.Route
	p.plan(x, target)
	x.sent = p.opt.Now()
	p.retryBudget.request(x.sent.Unix())
	resp, class, err := p.attempt(ctx, x, target, routeName)
	// spent: a retry the budget did not have (retryBudget); the request
	// ends with the failed attempt's answer, as a pinned one does.
	spent := false
	if class != "" && class != "canceled" && x.prev == nil && !p.opt.NoRetry && !p.expired(ctx, x) {
		// Another replica of the same version may answer, and the
		// version decided stands: after a refused connection (or one not
		// accepted in time: nothing was sent), as nginx's
		// proxy_next_upstream error does, and after a refusal for load
		// (the replica did nothing with it), as proxy_next_upstream
		// http_429 does, within the retry budget. Not for a request
		// continuing a response, which only its endpoint holds.
		dial := refused(err)
		if dial || class == sluice.ClassOverloaded {
			if i := target.ChooseOther(target.Index(x.endpoint)); i >= 0 {
				// A refused connection reached no backend: it takes
				// nothing from the budget, which bounds the load retries
				// add.
				if p.spendRetry(target.Model, false, dial) {
					p.recordRetried(x, target, d, routeName, resp, class)
					x.sent = p.opt.Now()
					x.endpointNext = i + 1
					resp, class, err = p.attempt(ctx, x, target, routeName)
				} else {
					spent = true
				}
			}
		}
	}
	var stable *route.Target
	var sn *atomic.Int64
	if class != "" && !spent && !p.opt.NoRetry && retriable(d.Route) && d.Stable != nil && d.Stable != target && class != "canceled" && !p.expired(ctx, x) {
		stable, sn = p.retryOn(tab, x.f.model.Str, d.Stable, target)
		// After a refused connection nothing reached a backend: stable
		// takes the request once, as it would have without the failed
		// version, so the retry spends nothing from the budget, which
		// bounds the load retries add.
		if stable != nil && !p.spendRetry(target.Model, true, refused(err)) {
			sn.Add(-1)
			stable, spent = nil, true
		}
	}
	if stable != nil {
		// The failed attempt counts against the version that failed.
		p.recordRetried(x, target, d, routeName, resp, class)
		n.Add(-1)
		x.releaseEndpoint()
		target, routeName, n = stable, "retry", sn
		x.sent = p.opt.Now()
		resp, class, err = p.attempt(ctx, x, target, routeName)
	}
	obs := p.observation(x, target, d, routeName)
	h := x.w.Header()
	h.Set("X-Model-Version", target.ID)
	if target.Deprecated {
		h.Set("Deprecation", "true")
		if target.Sunset != "" {
			h.Set("Sunset", target.Sunset)
		}
	}
	p.relay(x, target, resp, class, err, &obs)
	// Ended before its answer: the client left, or the shutdown's drain
	// cut it off (drain_cut from here on).
	abandoned := obs.ErrorClass == "canceled"
	if abandoned {
		drainCut(x.r.Context(), &obs)
	}
	if x.tr != nil {
		x.tr.endAttempt(x, target, &obs)
		x.tr.answered(x, target, &obs)
	}
	// After the spans, which carry the backend's usage alone (an estimate
	// is no gen_ai.usage), before the request log and the key's charge.
	// A request the client left (or the drain cut off) after it was sent
	// (not while its connection was dialled or its TLS handshake made:
	// unsent) had its prompt read by the backend.
	estimateTokens(&obs, len(x.body), x.f.images, x.unmeasured, abandoned && !unsent(err))
	// Its row says why the failure was the answer (Envoy's URX flag).
	obs.RetryBudgetSpent = spent
	p.record(&obs, target.ID)
	chargeTokens(x.r, &obs)
	p.afterAnswer(x, target, &obs)
	if x.cut {
		// An answer passed through as it arrived (relayRaw) ended short:
		// the headers and part of the body are sent, and a normal end
		// would make the part look whole (net/http would end the chunked
		// body properly). Aborting closes the connection (resets the
		// stream in HTTP/2), as httputil.ReverseProxy does when its copy
		// fails.
		panic(http.ErrAbortHandler)
	}
}

// spendRetry takes a retry of a request to model from the budget, toStable
// or to another endpoint of the version, and counts it for /metrics either
// way: sent, or refused for the budget. free: the failed attempt's
// connection was refused, so the retry takes nothing from the budget. On
// the error path alone.
func (p *Proxy) spendRetry(model string, toStable, free bool) bool {
	ok := free || p.retryBudget.take(p.opt.Now().Unix())
	c := p.retryStats.Get(model)
	switch {
	case ok && toStable:
		c.stable.Add(1)
	case ok:
		c.endpoint.Add(1)
	case toStable:
		c.stableRefused.Add(1)
	default:
		c.endpointRefused.Add(1)
	}
	if !ok {
		p.logRetryRefused(model, c)
	}
	return ok
}

// recordRetried records an attempt at t that failed and is tried again
// (on another endpoint of t, or on the stable version): it counts against
// the version that failed, as a row of the request log marked retried,
// which request counts leave out. It closes the failed answer's body.
func (p *Proxy) recordRetried(x *exchange, t *route.Target, d route.Decision, routeName string, resp *http.Response, class string) {
	failed := p.observation(x, t, d, routeName)
	failed.Status = statusFor(resp, class)
	failed.ErrorClass = class
	failed.Retried = true
	failed.Latency = p.opt.Now().Sub(x.sent)
	failed.TTFT = failed.Latency
	x.tr.endAttempt(x, t, &failed)
	p.record(&failed, t.ID)
	chargeTokens(x.r, &failed)
	if resp != nil {
		resp.Body.Close()
	}
}

// refused reports whether an attempt's error is a failure to connect to
// the backend (refused, unreachable, or not accepted in time): the request
// was not sent, so sending it elsewhere cannot run it twice.
func refused(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// unsent reports whether an attempt's error came before any of the request
// reached the backend: its connection was being dialled (refused) or, to
// an HTTPS endpoint of the own client, its TLS handshake was under way;
// through Options.Transport, an http.Transport's trace saw none of it
// written (wroteWatch, for a key with a token limit). Such a request the
// client abandons cost the backend nothing.
func unsent(err error) bool {
	var he *handshakeError
	var nw *notWrittenError
	return refused(err) || errors.As(err, &he) || errors.As(err, &nw)
}

// retryOn returns the version a request that failed at version failed is
// retried on, with its count of requests in flight already raised, or nil
// (nothing raised) when there is none. stable is the retry version of tab,
// the table the request was routed by. A rollback may have swapped the
// table since (an undo takes out a promoted candidate, the stable one):
// then, as in decide, the retry goes to the stable version of the table in
// force (see hold).
func (p *Proxy) retryOn(tab *route.Table, model string, stable, failed *route.Target) (*route.Target, *atomic.Int64) {
	for stable != nil && stable.ID != failed.ID {
		n, now := p.hold(tab, stable)
		if n != nil {
			return stable, n
		}
		tab, stable = now, now.Stable(model)
	}
	return nil, nil
}

// expired reports whether the request's time (Options.RequestTimeout) has
// run out: a retry then could only fail at once, and would be charged to
// the stable version for the failed version's hang.
func (p *Proxy) expired(ctx context.Context, x *exchange) bool {
	if !x.deadline.IsZero() {
		return !time.Now().Before(x.deadline)
	}
	return ctx.Err() != nil
}

// retriable reports whether a request routed by route may be answered by
// the stable version when its own fails: yes when the gateway chose the
// version (the split, the policy, an operator's rule); no when the caller
// named it (a pin, a label, the force header), who then gets the failure
// naming the version rather than another version's answer.
func retriable(how string) bool {
	switch how {
	case route.RouteSplit, route.RoutePolicy, route.RouteRule:
		return true
	}
	return false
}

func (p *Proxy) observation(x *exchange, t *route.Target, d route.Decision, routeName string) sluice.Observation {
	return sluice.Observation{
		RequestID: x.reqID, At: x.sent, Model: t.Model, Version: t.Version, Route: routeName,
		StickyHash: d.StickyHash, Category: x.category, Endpoint: x.r.URL.Path, Stream: x.f.stream,
		ToolsOffered: x.f.toolsOffered, ClientKey: clientKeyName(x.r),
		// A turn of a conversation the split began: the split's draw
		// chose its version, so the analysis judges it with the split's.
		SplitConversation: routeName == RoutePrevious && x.prev != nil && x.prev.split,
		Conversation:      x.conversation(),
	}
}

// conversation is the conversation the request continues
// (sluice.Observation.Conversation), 0 when it continues no response the
// gateway remembers.
func (x *exchange) conversation() uint32 {
	if x.prev == nil {
		return 0
	}
	return x.prev.conv
}

// record hands an observation of the attempt at version id ("model:version",
// route.Target.ID) to the recorder and the request log: the attempt that
// answered the client, and one that failed before a retry (Retried set),
// so the log shows a canary's failures that stable covered.
func (p *Proxy) record(o *sluice.Observation, id string) {
	o.FinishReason = cleanLabel(o.FinishReason, maxFinishReason)
	if p.opt.Recorder != nil {
		p.opt.Recorder.Record(o)
	}
	if p.opt.Log != nil {
		p.opt.Log.Enqueue(*o)
	}
	if o.ClientKey != "" && !o.Retried {
		p.keyUsage.add(o)
	}
	// A refusal for load is neither the version's failure nor its
	// success for outlier ejection: ejecting a stable version that
	// refuses under load would move its load onto the candidate, and three
	// refusals must not trust a version on probation again.
	if p.opt.OnResult != nil && o.ErrorClass != "canceled" && o.ErrorClass != sluice.ClassDrainCut && o.ErrorClass != sluice.ClassOverloaded {
		p.opt.OnResult(id, o.ErrorClass != "" && o.ErrorClass != "upstream_4xx" && o.ErrorClass != sluice.ClassBadRequest)
	}
}

func statusFor(resp *http.Response, class string) int {
	if resp != nil {
		return resp.StatusCode
	}
	switch class {
	case "timeout", "stream_idle":
		return 504
	case "canceled":
		return 499
	case sluice.ClassOverloaded:
		// A stream's error event refusing for load (firstEventError).
		return 429
	}
	return 502
}

func upstreamMessage(t *route.Target, class string, err error) string {
	switch class {
	case "timeout":
		return "the backend for " + t.ID + " did not answer in time; try again, and if it persists ask an operator to check the backend or move traffic off it"
	case "stream_idle":
		// Its stream's keep-alive put timeouts.idle in force before its
		// first event (opening.keepAlive).
		d, _ := idleCut(err)
		return "the backend for " + t.ID + " sent nothing for " + d.String() + " after a keep-alive, before its first event, and was cut off (timeouts.idle); try again, and if it persists ask an operator to check the backend or move traffic off it"
	case "connect":
		return "the backend for " + t.ID + " cannot be reached (" + bodyErrText(err) + "); try again, and if it persists ask an operator to check the backend or move traffic off it"
	case "stream_broken":
		return "the backend for " + t.ID + " broke off its stream before its first event (" + bodyErrText(err) + "); try again, and if it persists ask an operator to check the backend or move traffic off it"
	case "upstream_invalid":
		return "the backend for " + t.ID + " answered 200 with " + err.Error() + "; try again, and if it persists ask an operator to check the backend or move traffic off it"
	case sluice.ClassOverloaded:
		// A stream's error event refusing for load before any of the
		// answer (streamErrorEvent.overloaded): the 429 it would have
		// sent before its stream; or such an error sent whole with a 200.
		var ev *streamErrorEvent
		if errors.As(err, &ev) && ev.whole {
			return "the backend for " + t.ID + " refused the request for load, in an error sent with a 200 instead of its answer: " + err.Error() + "; try again shortly"
		}
		return "the backend for " + t.ID + " refused the request for load, in its stream before any of the answer: " + err.Error() + "; try again shortly"
	case "upstream_5xx":
		// An error event before any of the stream's answer, or an error
		// sent whole with a 200 (streamErrorEvent): its message is the
		// backend's own.
		var ev *streamErrorEvent
		if errors.As(err, &ev) && ev.whole {
			return "the backend for " + t.ID + " answered 200 with an error instead of its answer: " + err.Error() + "; try again, and if it persists ask an operator to check the backend or move traffic off it"
		}
		return "the backend for " + t.ID + " failed the request after accepting it, in its stream before any of the answer: " + err.Error() + "; try again, and if it persists ask an operator to check the backend or move traffic off it"
	}
	// The socket addresses of a net.OpError are the backend's internal
	// address: clients are not told it.
	return "the backend for " + t.ID + " failed (" + bodyErrText(err) + "); try again"
}

// formStreamUsage returns body, the form of a streamed transcription or
// translation bound for x.endpoint, with stream_include_usage=true added
// when the endpoint's backends entry asks for it
// (BackendHeaders.TranscriptionStreamUsage: vLLM sends a stream's usage
// only then) and the client's form has no such field; any other body as
// it is.
func (p *Proxy) formStreamUsage(x *exchange, body []byte) []byte {
	if !x.f.form || !x.f.stream || x.f.formUsage || !(x.r.URL.Path == pathTranscriptions || x.r.URL.Path == pathTranslations) ||
		!p.opt.Backends.StreamUsageForm(x.endpoint) {
		return body
	}
	return withFormStreamUsage(body, &x.f, len(body)-len(x.body))
}

// attempt sends the request to one version, routed by routeName (the
// span's sluice.route). class is "" on a 2xx-4xx answer, else the error
// class; err is set only when there is no response. With tracing on it
// starts the attempt's span, which the caller ends (spans.endAttempt).
func (p *Proxy) attempt(ctx context.Context, x *exchange, t *route.Target, routeName string) (*http.Response, string, error) {
	if p.up != nil {
		// The own client writes the whole request before it returns, so
		// the body can be built in a pooled buffer.
		bp := p.bufs.Get().(*[]byte)
		x.endpoint = x.endpointFor(t)
		body := p.formStreamUsage(x, appendUpstreamBody((*bp)[:0], x.body, x.f, t.Upstream))
		r := upRequest{path: x.r.URL.Path, header: x.r.Header, reqID: x.reqID, shadow: x.keep != nil && x.keep.shadow, body: body, deadline: x.deadline, holdFirstByte: x.f.stream}
		if x.tr != nil {
			x.tr.startAttempt(x, t, routeName)
			r.traced, r.traceparent, r.tracestate = true, x.tr.traceparent, x.tr.tracestate
		}
		resp, err := p.up.roundTrip(ctx, x.endpoint, &r)
		*bp = body[:0]
		p.bufs.Put(bp)
		resp, class, err := classified(x, resp, err)
		resp, class, err = p.awaitFirstLine(x, resp, class, err)
		resp, class, err = p.holdAnswer(x, resp, class, err)
		x.endpointResult(class)
		return resp, class, err
	}
	// A fresh buffer: the transport may still read the body after
	// RoundTrip returns, and rewinds it through GetBody to retry a request
	// that hit a keep-alive connection the backend had just closed.
	x.endpoint = x.endpointFor(t)
	up := p.formStreamUsage(x, appendUpstreamBody(make([]byte, 0, len(x.body)+64), x.body, x.f, t.Upstream))
	ctx, wrote := p.watchWrites(ctx, x.r)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, backendURL(x.endpoint, x.r.URL.Path), bytes.NewReader(up))
	if err != nil {
		return nil, "connect", err
	}
	copyRequestHeaders(req.Header, x.r.Header)
	if x.tr != nil {
		x.tr.startAttempt(x, t, routeName)
		x.tr.setTraceHeaders(req.Header)
	}
	p.opt.Backends.Prepare(req, x.endpoint)
	req.Header.Set("X-Request-Id", x.reqID)
	if x.keep != nil && x.keep.shadow {
		req.Header.Set(ShadowHeader, "true")
	}
	req.ContentLength = int64(len(up))
	resp, err := p.transport.RoundTrip(req)
	err = wrote.unwritten(err)
	if err == nil && p.opt.IdleTimeout > 0 {
		// A whole answer's body is bounded from its header on, a
		// stream's from its first line (firstByteArrived).
		x.idle = p.idle.wrap(x.idle, resp.Body, p.opt.IdleTimeout, !x.f.stream)
		resp.Body = x.idle
	}
	resp, class, err := classified(x, resp, err)
	resp, class, err = p.awaitFirstLine(x, resp, class, err)
	resp, class, err = p.holdAnswer(x, resp, class, err)
	x.endpointResult(class)
	return resp, class, err
}

// classified returns an attempt's outcome with its error class.
func classified(x *exchange, resp *http.Response, err error) (*http.Response, string, error) {
	if err != nil {
		return nil, classify(x.r.Context(), err), err
	}
	if resp.StatusCode >= 400 && overloaded(resp) {
		return resp, sluice.ClassOverloaded, nil
	}
	if resp.StatusCode >= 500 {
		return resp, "upstream_5xx", nil
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		// An inference endpoint answers; a redirect (an ingress sending
		// http to https, or to a login page) means the version's endpoint
		// is wrong. It is not passed on: its Location is the backend's.
		resp.Body.Close()
		return nil, "upstream_3xx", fmt.Errorf("it answered %d, a redirect, instead of the completion: fix the version's endpoint URL", resp.StatusCode)
	}
	return resp, "", nil
}

// overloaded reports whether a backend's error answer, before any byte of
// the answer, refuses the request for load (sluice.ClassOverloaded): a 429
// (TGI's "Model is overloaded", a hosted backend's rate limit), a 408 (a
// server that timed the request out in its queue), or a 503 that says
// when to come back (Retry-After or OpenAI's Retry-After-Ms), as vLLM's
// and TGI's routers send. A 503 without one (a dead pod behind a Service,
// a proxy with no healthy upstream) stays upstream_5xx: a broken version,
// which outlier ejection should see. Read on the error path alone.
func overloaded(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusTooManyRequests, http.StatusRequestTimeout:
		return true
	case http.StatusServiceUnavailable:
		return len(resp.Header["Retry-After"]) > 0 || len(resp.Header["Retry-After-Ms"]) > 0
	}
	return false
}

func classify(clientCtx context.Context, err error) string {
	if clientCtx.Err() != nil {
		return "canceled"
	}
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) || strings.Contains(err.Error(), "timeout awaiting response headers") {
		return "timeout"
	}
	return "connect"
}

// backendURL joins an endpoint and the API path (sluice.EndpointURL),
// accepting endpoints written with or without the /v1 suffix that OpenAI
// clients use and keeping the endpoint's query after the path.
func backendURL(endpoint, path string) string {
	return sluice.EndpointURL(endpoint, path)
}

// hopHeaders are not forwarded in either direction (RFC 9110, 7.6.1), nor
// are the ones the proxy sets itself, nor those a sender lists in its
// Connection header (meant for the next hop only).
var hopHeaders = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
	"Content-Length": true, "Accept-Encoding": true, "X-Sluice-Version": true,
	ShadowHeader: true, // set by the proxy on mirrored requests only
}

func copyRequestHeaders(dst, src http.Header) {
	conn := src["Connection"]
	for k, v := range src {
		if !hopHeaders[k] && !httpguts.HeaderValuesContainsToken(conn, k) {
			dst[k] = v
		}
	}
}

func copyResponseHeaders(dst, src http.Header) {
	conn := src["Connection"]
	for k, v := range src {
		if !hopHeaders[k] && !ownHeaders[k] && !httpguts.HeaderValuesContainsToken(conn, k) {
			if k == "Set-Cookie" {
				v = withoutOwnCookies(v)
				if len(v) == 0 {
					continue
				}
			}
			dst[k] = v
		}
	}
}

// ownHeaders are the response headers the gateway sets itself: a backend's
// (another gateway in front of the model servers, a server that labels
// itself) must not replace them, or the client would be told another
// version served it than the request log says.
var ownHeaders = map[string]bool{"X-Request-Id": true, "X-Model-Version": true, "Deprecation": true, "Sunset": true}

// withoutOwnCookies drops the cookies a backend sets under the dashboard's
// names (sluice_…): where the admin API shares the data plane's address, a
// backend could otherwise plant a session cookie in a user's browser.
func withoutOwnCookies(vs []string) []string {
	if !slices.ContainsFunc(vs, isOwnCookie) {
		return vs
	}
	return slices.DeleteFunc(slices.Clone(vs), isOwnCookie)
}

func isOwnCookie(v string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "sluice_")
}

// bodyErrText says what broke a body's read or a backend's exchange
// without what the client must not learn of the gateway's network: the
// socket addresses a net.OpError carries, the host name and resolver
// address of a failed DNS lookup, and the endpoint URL itself (which may
// hold credentials), nor the names of a TLS certificate that did not
// verify. The message still names the version, whose endpoint
// an operator finds in the registry.
func bodyErrText(err error) string {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		if dns.IsNotFound {
			return "the backend's host name does not resolve"
		}
		return "the DNS lookup of the backend's host name failed"
	}
	var cv *tls.CertificateVerificationError
	if errors.As(err, &cv) {
		// x509's messages list the names the certificate holds and the
		// host name it was checked against.
		var (
			hn *x509.HostnameError
			ua x509.UnknownAuthorityError
			ci x509.CertificateInvalidError
		)
		switch {
		case errors.As(err, &hn):
			return "the backend's TLS certificate is not valid for the endpoint's host name"
		case errors.As(err, &ua):
			return "the backend's TLS certificate is signed by an unknown authority"
		case errors.As(err, &ci) && ci.Reason == x509.Expired:
			return "the backend's TLS certificate has expired or is not yet valid"
		}
		return "the backend's TLS certificate did not verify"
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		// A request the transport could not send: its message quotes the
		// whole URL.
		err = ue.Err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err.Error()
	}
	return err.Error()
}

// endpointError is a version's endpoint URL that cannot be used. Its
// message does not quote the URL, which may hold credentials and names a
// host inside the gateway's network; the admin API shows the URL.
type endpointError struct{ reason string }

func (e *endpointError) Error() string {
	return "the version's endpoint URL is not usable (" + e.reason + "): an admin must register a version with a valid http:// or https:// base URL"
}

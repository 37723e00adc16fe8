package proxy

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/route"
)

// Tracing makes OpenTelemetry spans of the data plane's requests, named
// and attributed per the GenAI semantic conventions: a SERVER span per
// client request (its parent the client's traceparent), a CLIENT span per
// attempt at a backend (a retry on stable is a second one) whose
// traceparent replaces the client's on the request to the backend, so the
// model server's own spans nest under the attempt, and for a mirrored
// request a CLIENT span in a trace of its own, linked to the request's.
// No prompt or answer text is recorded. A nil *Tracing (Options.Tracing)
// costs the request path a nil check.
type Tracing struct {
	// Tracer starts the spans. Required.
	Tracer trace.Tracer
	// Propagator reads the client's trace context and writes the
	// attempt's; nil means W3C tracecontext and baggage.
	Propagator propagation.TextMapPropagator
	// RolloutID, if set, returns the id of the model's live rollout, ""
	// for none: the spans' sluice.rollout.id.
	RolloutID func(model string) string
}

// Span names and attributes (OpenTelemetry GenAI semantic conventions,
// and Sluice's own under sluice.*).
const (
	attrOperation    = attribute.Key("gen_ai.operation.name")
	attrProvider     = attribute.Key("gen_ai.provider.name")
	attrRequestModel = attribute.Key("gen_ai.request.model")
	attrRespModel    = attribute.Key("gen_ai.response.model")
	attrInputTokens  = attribute.Key("gen_ai.usage.input_tokens")
	attrOutputTokens = attribute.Key("gen_ai.usage.output_tokens")
	attrFinish       = attribute.Key("gen_ai.response.finish_reasons")
	attrServerAddr   = attribute.Key("server.address")
	attrServerPort   = attribute.Key("server.port")
	attrStatus       = attribute.Key("http.response.status_code")
	attrMethod       = attribute.Key("http.request.method")
	attrPath         = attribute.Key("url.path")
	attrErrorType    = attribute.Key("error.type")
	attrVersion      = attribute.Key("sluice.version")
	attrRoute        = attribute.Key("sluice.route")
	attrHTTPRoute    = attribute.Key("http.route")
	attrRollout      = attribute.Key("sluice.rollout.id")
	attrRequestID    = attribute.Key("sluice.request_id")
	attrClientKey    = attribute.Key("sluice.client_key")
	attrCategory     = attribute.Key("sluice.category")
	attrStream       = attribute.Key("sluice.stream")
	// ProviderName is gen_ai.provider.name on every span with gen_ai.*
	// attributes (an inference request's, its attempts' and mirrors', a
	// by-id forward's; not the HTTP-only spans of /v1/models or of a
	// request refused before routing). The conventions set it from what the
	// instrumentation knows, and make it the discriminator of the
	// attributes that go with it (openai.* with openai); Sluice speaks the
	// OpenAI API to every backend (vLLM, SGLang, TGI, llama.cpp, OpenAI
	// itself), and neither a version nor a backends entry says who serves
	// it, so it is openai, as the conventions advise for a service reached
	// through the OpenAI API; gen_ai.request.model, gen_ai.response.model
	// and server.address say which model and server answered.
	ProviderName = "openai"
	// EventFirstToken marks, on a stream's spans, when its first token
	// (its first event with content) reached the gateway.
	EventFirstToken = "gen_ai.first_token"
)

// operationName is gen_ai.operation.name for an API path: the
// convention's names where it has one (chat, text_completion, embeddings),
// else the endpoint's own noun.
func operationName(path string) string {
	switch path {
	case pathChat, pathResponses:
		return "chat"
	case pathCompletions:
		return "text_completion"
	case pathEmbeddings:
		return "embeddings"
	case pathRerank:
		return "rerank"
	case pathScore:
		return "score"
	case pathModerations:
		return "moderation"
	case pathImages:
		return "image_generation"
	case pathImageEdits:
		return "image_edit"
	case pathImageVariations:
		return "image_variation"
	case pathTranscriptions:
		return "transcription"
	case pathTranslations:
		return "translation"
	case pathSpeech:
		return "speech"
	}
	return "request"
}

// spans are the spans of one client request (or of one mirrored
// request, whose server span is nil).
type spans struct {
	t      *Tracing
	op     string
	ctx    context.Context // holds the server span: the attempts' parent
	server trace.Span      // nil for a mirrored request
	// link is the mirrored request's link to the request it mirrors.
	link trace.SpanContext
	// attempt is the span of the attempt in progress, nil between them;
	// traceparent and tracestate are its context, sent to the backend.
	attempt     trace.Span
	traceparent string
	tracestate  string
	// respModel is the model the attempt's answer names (its "model", of
	// the whole answer or of a stream's first chunk that has one), "" until
	// read: gen_ai.response.model, else the model the backend was asked
	// for.
	respModel string
}

// maxRespModel bounds the gen_ai.response.model read from an answer: the
// backend's text, put in a span as sent.
const maxRespModel = 256

// wantsModel reports whether the answer's model is to be read: the
// attempt's span records and none was read yet. False with tracing off
// (s nil) and for a request not sampled, which read nothing more.
func (s *spans) wantsModel() bool {
	return s != nil && s.attempt != nil && s.respModel == ""
}

// answerModel keeps the model an answer names: v is a JSON string, quotes
// included, esc whether it holds escapes.
func (s *spans) answerModel(v []byte, esc bool) {
	if !s.wantsModel() || len(v) < 2 {
		return
	}
	var m string
	if esc {
		m = string(appendUnescapedMax(nil, v, maxRespModel*4))
	} else {
		m = string(v[1 : len(v)-1])
	}
	s.respModel = cleanLabel(m, maxRespModel)
}

// answerModelOf is answerModel of a value gjson read; one not a string is
// passed over.
func (s *spans) answerModelOf(r gjson.Result) {
	if !s.wantsModel() || r.Type != gjson.String {
		return
	}
	s.respModel = cleanLabel(r.Str, maxRespModel)
}

// responseModel is gen_ai.response.model: the model the answer named,
// else the one the backend at t was asked for.
func (s *spans) responseModel(t *route.Target) string {
	if s.respModel != "" {
		return s.respModel
	}
	return t.Upstream
}

// tpCarrier carries the two tracecontext headers of an attempt, written
// by the propagator, without a map.
type tpCarrier struct{ parent, state string }

func (c *tpCarrier) Get(string) string { return "" }
func (c *tpCarrier) Set(k, v string) {
	switch k {
	case "traceparent":
		c.parent = v
	case "tracestate":
		c.state = v
	}
}
func (c *tpCarrier) Keys() []string { return nil }

func (t *Tracing) propagator() propagation.TextMapPropagator {
	if t.Propagator != nil {
		return t.Propagator
	}
	return defaultPropagator
}

// SetTracing replaces the tracing the proxy makes its spans with (nil:
// none), as a reload of the gateway's tracing block does. A request keeps
// the one it started with; the caller shuts the old one's provider down
// once the requests that use it can have ended.
func (p *Proxy) SetTracing(t *Tracing) { p.tracing.Store(t) }

var defaultPropagator = propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{})

// startServer starts x's SERVER span, its parent the client's trace
// context. Its name and model are set once the body is read (named).
func (p *Proxy) startServer(x *exchange, t *Tracing) {
	s := &spans{t: t, op: operationName(x.r.URL.Path)}
	parent := t.propagator().Extract(x.r.Context(), propagation.HeaderCarrier(x.r.Header))
	s.ctx, s.server = t.Tracer.Start(parent, s.op, trace.WithSpanKind(trace.SpanKindServer), trace.WithTimestamp(x.start))
	x.tr = s
	if !s.server.IsRecording() {
		// Not sampled: the span carries the context on to the backend,
		// and nothing is worked out for attributes no one will see.
		s.server = nil
		return
	}
	s.server.SetAttributes(attrOperation.String(s.op), attrProvider.String(ProviderName), attrMethod.String(x.r.Method), attrPath.String(x.r.URL.Path),
		attrRequestID.String(x.reqID))
	if k := clientKeyName(x.r); k != "" {
		s.server.SetAttributes(attrClientKey.String(k))
	}
}

// named gives the SERVER span its name and the request's model and
// category, once the body is read.
func (s *spans) named(x *exchange) {
	if s == nil || s.server == nil {
		return
	}
	model := x.f.model.Str
	s.server.SetName(s.op + " " + model)
	s.server.SetAttributes(attrRequestModel.String(model), attrCategory.String(x.category), attrStream.Bool(x.f.stream))
}

// routed records how the request was routed, and the model's live
// rollout.
func (s *spans) routed(d route.Decision) {
	if s == nil || s.server == nil {
		return
	}
	s.server.SetAttributes(attrRoute.String(d.Route))
	if s.t.RolloutID != nil && d.Target != nil {
		if id := s.t.RolloutID(d.Target.Model); id != "" {
			s.server.SetAttributes(attrRollout.String(id))
		}
	}
}

// failed ends nothing: it records the error the request was answered
// with before any backend was tried (bad input, a key's limit, routing).
func (s *spans) failed(err error) {
	if s == nil || s.server == nil {
		return
	}
	// The status and code writeError sends: a key's rate limit met in
	// Admit (overLimitError) is its 429, rate_limited, not internal.
	status, code := errStatus(err), sluice.ErrorCode(err)
	if status == http.StatusTooManyRequests {
		code = sluice.CodeRateLimited
	}
	s.server.SetAttributes(attrStatus.Int(status), attrErrorType.String(string(code)))
	if status >= 500 {
		s.server.SetStatus(codes.Error, sluice.ErrorMessage(err))
	}
}

// answered records on the SERVER span the outcome of the attempt that
// answered the client, at version t.
func (s *spans) answered(x *exchange, t *route.Target, obs *sluice.Observation) {
	if s == nil || s.server == nil {
		return
	}
	sp := s.server
	sp.SetAttributes(attrVersion.String(t.ID), attrRespModel.String(s.responseModel(t)), attrRoute.String(obs.Route))
	outcome(sp, x, obs, false)
}

// endServer ends the SERVER span; deferred by serveInference, so a
// request that ends in a panic (an aborted answer) ends it too.
func (p *Proxy) endServer(x *exchange) {
	if x.tr != nil && x.tr.server != nil {
		x.tr.server.End()
	}
}

// outcome sets the attributes every span shares from an attempt's
// observation: status, usage, finish reason, error, time to first token.
// On the SERVER span (client false) a backend's 4xx is the client's
// error, not the gateway's, as the HTTP conventions have it: a refusal
// for load passed on as a 429 or 408 too.
func outcome(sp trace.Span, x *exchange, obs *sluice.Observation, client bool) {
	attrs := make([]attribute.KeyValue, 0, 5)
	attrs = append(attrs, attrStatus.Int(obs.Status))
	if obs.InputTokens > 0 || obs.OutputTokens > 0 {
		attrs = append(attrs, attrInputTokens.Int(obs.InputTokens), attrOutputTokens.Int(obs.OutputTokens))
	}
	if obs.FinishReason != "" {
		attrs = append(attrs, attrFinish.StringSlice([]string{obs.FinishReason}))
	}
	if obs.ErrorClass != "" {
		attrs = append(attrs, attrErrorType.String(obs.ErrorClass))
		if client || !(obs.ErrorClass == "upstream_4xx" || obs.ErrorClass == sluice.ClassBadRequest || obs.ErrorClass == sluice.ClassOverloaded && obs.Status < 500) {
			sp.SetStatus(codes.Error, obs.ErrorClass)
		}
	}
	sp.SetAttributes(attrs...)
	if obs.Stream && obs.ErrorClass == "" && obs.TTFT > 0 && !x.sent.IsZero() {
		sp.AddEvent(EventFirstToken, trace.WithTimestamp(x.sent.Add(obs.TTFT)))
	}
}

// startAttempt starts the CLIENT span of an attempt at t and works out
// the traceparent the backend is sent.
func (s *spans) startAttempt(x *exchange, t *route.Target, routeName string) {
	var ctx context.Context
	var sp trace.Span
	if s.link.IsValid() {
		ctx, sp = s.t.Tracer.Start(s.ctx, s.op+" "+t.Upstream, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithNewRoot(), trace.WithLinks(trace.Link{SpanContext: s.link}))
	} else {
		ctx, sp = s.t.Tracer.Start(s.ctx, s.op+" "+t.Upstream, trace.WithSpanKind(trace.SpanKindClient))
	}
	var c tpCarrier
	s.t.propagator().Inject(ctx, &c)
	s.traceparent, s.tracestate = c.parent, c.state
	s.respModel = "" // a retry's answer names its own
	if !sp.IsRecording() {
		return // not sampled: its context alone goes on
	}
	s.attempt = sp
	sp.SetAttributes(attrOperation.String(s.op), attrProvider.String(ProviderName), attrRequestModel.String(t.Upstream), attrVersion.String(t.ID),
		attrRoute.String(routeName), attrRequestID.String(x.reqID), attrStream.Bool(x.f.stream))
	if host, port := hostPort(x.endpoint); host != "" {
		sp.SetAttributes(attrServerAddr.String(host), attrServerPort.Int(port))
	}
}

// endAttempt ends the attempt's CLIENT span with its observation.
func (s *spans) endAttempt(x *exchange, t *route.Target, obs *sluice.Observation) {
	if s == nil || s.attempt == nil {
		return
	}
	s.attempt.SetAttributes(attrRespModel.String(s.responseModel(t)))
	outcome(s.attempt, x, obs, true)
	s.attempt.End()
	s.attempt = nil
}

// hostPort returns an endpoint URL's host and port (the scheme's default
// when it names none), "" when it does not parse. Never its credentials.
func hostPort(endpoint string) (string, int) {
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return "", 0
	}
	host, port := u.Hostname(), u.Port()
	if port == "" {
		if u.Scheme == "https" {
			return host, 443
		}
		return host, 80
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		return host, 0
	}
	return host, n
}

// setTraceHeaders puts the attempt's trace context on req (the
// http.RoundTripper path), replacing the client's.
func (s *spans) setTraceHeaders(h http.Header) {
	delete(h, "Traceparent")
	delete(h, "Tracestate")
	if s.traceparent != "" {
		h["Traceparent"] = []string{s.traceparent}
	}
	if s.tracestate != "" {
		h["Tracestate"] = []string{s.tracestate}
	}
}

// shadowSpans returns the spans of a request mirrored from the request
// whose server span has context link: a CLIENT span in a trace of its
// own, linked to it. Nil when tracing is off or the request had no span.
func (p *Proxy) shadowSpans(path string, link trace.SpanContext) *spans {
	t := p.tracing.Load()
	if t == nil || !link.IsValid() {
		return nil
	}
	return &spans{t: t, op: operationName(path), ctx: context.Background(), link: link}
}

// spanContext returns the request's SERVER span context, for a mirror's
// link; the zero one when tracing is off. A request not sampled has one
// too (its span records nothing, and carries the not-sampled flag): its
// mirror, like a sampled request's, starts a trace of its own, not
// sampled either, rather than passing on the client's traceparent.
func (x *exchange) spanContext() trace.SpanContext {
	switch {
	case x.tr == nil:
		return trace.SpanContext{}
	case x.tr.server != nil:
		return x.tr.server.SpanContext()
	}
	return trace.SpanContextFromContext(x.tr.ctx)
}

// httpSpan is the SERVER span of a request the proxy answers that is not
// inference: the Responses API's by-id endpoints, /v1/models and
// /v1/models/{model}, /v1/feedback (and an unknown path). It wraps the
// ResponseWriter to see the status sent, and the error code when the
// proxy sends an error (WriteErrorStatus notes it), so error.type is the
// same code as on an inference request's span.
type httpSpan struct {
	http.ResponseWriter
	s      *spans
	status int
	code   sluice.Code
}

func (h *httpSpan) WriteHeader(status int) {
	if h.status == 0 && status >= 200 {
		h.status = status
	}
	h.ResponseWriter.WriteHeader(status)
}

func (h *httpSpan) Write(b []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	return h.ResponseWriter.Write(b)
}

// Flush passes a by-id event stream on as it comes.
func (h *httpSpan) Flush() {
	if f, ok := h.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the server's writer.
func (h *httpSpan) Unwrap() http.ResponseWriter { return h.ResponseWriter }

// httpRoute is the route template of a path the proxy serves, the
// http.route of its span: ids and model names are left out of the span's
// name.
func httpRoute(path string) string {
	switch {
	case path == "/v1/models", path == pathFeedback, isInferencePath(path):
		return path
	case strings.HasPrefix(path, "/v1/models/"):
		return "/v1/models/{model}"
	case strings.HasPrefix(path, pathResponsesByID):
		_, action, _ := strings.Cut(path[len(pathResponsesByID):], "/")
		switch action {
		case "":
			return "/v1/responses/{id}"
		case "cancel", "input_items":
			return "/v1/responses/{id}/" + action
		}
	}
	return ""
}

// startHTTP starts the SERVER span of r, a request that is not inference,
// its parent the client's trace context, named "{method} {route}" as the
// HTTP conventions have it; the caller serves r through the returned
// writer and ends the span (endHTTP).
func (p *Proxy) startHTTP(t *Tracing, w http.ResponseWriter, r *http.Request) *httpSpan {
	name, route := r.Method, httpRoute(r.URL.Path)
	if route != "" {
		name += " " + route
	}
	s := &spans{t: t, op: name}
	parent := t.propagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	var sp trace.Span
	s.ctx, sp = t.Tracer.Start(parent, name, trace.WithSpanKind(trace.SpanKindServer))
	if sp.IsRecording() {
		s.server = sp
		sp.SetAttributes(attrMethod.String(r.Method), attrPath.String(r.URL.Path))
		if route != "" {
			sp.SetAttributes(attrHTTPRoute.String(route))
		}
		if k := clientKeyName(r); k != "" {
			sp.SetAttributes(attrClientKey.String(k))
		}
	}
	return &httpSpan{ResponseWriter: w, s: s}
}

// endHTTP ends the span of a request startHTTP started, with the status
// sent, the request id and version when it was forwarded (by id), and the
// error code of an error answer.
func (h *httpSpan) endHTTP() {
	sp := h.s.server
	if sp == nil {
		return
	}
	status := h.status
	if status == 0 {
		status = http.StatusOK
	}
	sp.SetAttributes(attrStatus.Int(status))
	hd := h.Header()
	if id := hd.Get("X-Request-Id"); id != "" {
		sp.SetAttributes(attrRequestID.String(id))
	}
	if v := hd.Get("X-Model-Version"); v != "" {
		sp.SetAttributes(attrVersion.String(v))
	}
	if status >= 400 {
		et := string(h.code)
		if et == "" {
			et = strconv.Itoa(status) // the backend's own error, passed on
		}
		sp.SetAttributes(attrErrorType.String(et))
		if status >= 500 {
			sp.SetStatus(codes.Error, et)
		}
	}
	sp.End()
}

// startForward starts the CLIENT span of a by-id request forwarded to the
// backend of version t at endpoint, with reqID, the request id the client
// is answered with, and puts its traceparent on h in place of the
// client's.
func (s *spans) startForward(t *route.Target, endpoint, reqID string, h http.Header) {
	ctx, sp := s.t.Tracer.Start(s.ctx, s.op, trace.WithSpanKind(trace.SpanKindClient))
	var c tpCarrier
	s.t.propagator().Inject(ctx, &c)
	s.traceparent, s.tracestate = c.parent, c.state
	s.setTraceHeaders(h)
	if !sp.IsRecording() {
		return
	}
	s.attempt = sp
	sp.SetAttributes(attrVersion.String(t.ID), attrProvider.String(ProviderName), attrRequestModel.String(t.Upstream), attrRequestID.String(reqID))
	if host, port := hostPort(endpoint); host != "" {
		sp.SetAttributes(attrServerAddr.String(host), attrServerPort.Int(port))
	}
}

// endForward ends a by-id request's CLIENT span with the backend's status,
// or the class of the error that left it without one (status 0).
func (s *spans) endForward(status int, class string) {
	if s == nil || s.attempt == nil {
		return
	}
	sp := s.attempt
	s.attempt = nil
	if status > 0 {
		sp.SetAttributes(attrStatus.Int(status))
		if status >= 400 {
			class = strconv.Itoa(status)
		}
	}
	if class != "" {
		sp.SetAttributes(attrErrorType.String(class))
		sp.SetStatus(codes.Error, class)
	}
	sp.End()
}

// refusedSpan makes the SERVER span of a request the client-key check
// (KeySet.Wrap) refused before the proxy read it: a 401 or a key's 429,
// with the error's code as error.type and, for a known key, its name
// (never the secret presented).
func (p *Proxy) refusedSpan(r *http.Request, err error, keyName string) {
	t := p.tracing.Load()
	if t == nil {
		return
	}
	name := r.Method
	if isInferencePath(r.URL.Path) {
		name = operationName(r.URL.Path)
	} else if route := httpRoute(r.URL.Path); route != "" {
		name += " " + route
	}
	parent := t.propagator().Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	_, sp := t.Tracer.Start(parent, name, trace.WithSpanKind(trace.SpanKindServer))
	if sp.IsRecording() {
		s := &spans{t: t, op: name, server: sp}
		sp.SetAttributes(attrMethod.String(r.Method), attrPath.String(r.URL.Path))
		if keyName != "" {
			sp.SetAttributes(attrClientKey.String(keyName))
		}
		s.failed(err)
	}
	sp.End()
}

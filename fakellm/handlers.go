package fakellm

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Request headers that override one request's draw.
const (
	// HeaderTokens forces the number of output tokens of a successful,
	// non-refused answer (benchmarks use it for streams of known length).
	HeaderTokens = "X-Fake-Tokens"
	// HeaderLatency fixes the latency and time to first token, in
	// milliseconds.
	HeaderLatency = "X-Fake-Latency-Ms"
	// HeaderStatus forces a failure with the given HTTP status (400-599).
	HeaderStatus = "X-Fake-Status"
	// HeaderQuality is the response header carrying Behavior.Quality when
	// it is non-zero.
	HeaderQuality = "X-Fake-Quality"
)

// maxBodyBytes bounds a request body: above OpenAI's largest audio upload
// (25 MB, and its form), which a gateway in front passes by default
// (max_audio_body_bytes).
const maxBodyBytes = 32 << 20

// Shared header values; net/http only reads them.
var (
	ctJSON  = []string{"application/json"}
	ctSSE   = []string{"text/event-stream"}
	ctText  = []string{"text/plain; charset=utf-8"}
	noCache = []string{"no-cache"}
)

// reqState is the per-request scratch space, pooled so that serving a
// request allocates nothing in the common case.
type reqState struct {
	body  []byte
	out   []byte
	model []byte
	head  []byte
	req   request
	pcg   rand.PCG
	rng   *rand.Rand
	timer *time.Timer
	vec   []float64
	items [][]byte
}

var statePool = sync.Pool{New: func() any {
	st := &reqState{body: make([]byte, 0, 4096), out: make([]byte, 0, 4096)}
	st.rng = rand.New(&st.pcg)
	return st
}}

func getState() *reqState { return statePool.Get().(*reqState) }

func putState(st *reqState) {
	if cap(st.body) > 1<<20 || cap(st.out) > 1<<20 {
		return // let one huge request's buffers go
	}
	statePool.Put(st)
}

// seed makes st.rng the generator of request number seq, so a given seed
// replays the same sequence of outcomes for requests in arrival order.
func (st *reqState) seed(seed, seq uint64) *rand.Rand {
	st.pcg.Seed(splitmix(seed^0x9e3779b97f4a7c15), splitmix(seq+seed))
	return st.rng
}

func splitmix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

var errTooLarge = errors.New("request body too large")

// readBody reads r into st.body.
func (st *reqState) readBody(r *http.Request) error {
	b := st.body[:0]
	if n := r.ContentLength; n > 0 && n <= maxBodyBytes && int(n) >= cap(b) {
		b = make([]byte, 0, n+1)
	}
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if len(b) > maxBodyBytes {
			st.body = b[:0]
			return errTooLarge
		}
		if err == io.EOF {
			st.body = b
			return nil
		}
		if err != nil {
			st.body = b[:0]
			return err
		}
	}
}

// timerFor returns the request's timer armed for d.
func (st *reqState) timerFor(d time.Duration) *time.Timer {
	if st.timer == nil {
		st.timer = time.NewTimer(d)
	} else {
		st.timer.Reset(d)
	}
	return st.timer
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if s.state.Load().cfg.KeepAlive {
		w = &keepAliveWriter{ResponseWriter: w}
	}
	switch r.URL.Path {
	case "/v1/chat/completions":
		s.generate(w, r, kindChat)
	case "/v1/completions":
		s.generate(w, r, kindText)
	case "/v1/responses":
		s.responses(w, r)
	case "/v1/embeddings":
		s.embeddings(w, r)
	case "/v1/rerank":
		s.rerank(w, r)
	case "/v1/score":
		s.score(w, r)
	case "/v1/moderations":
		s.moderations(w, r)
	case "/v1/images/generations":
		s.images(w, r)
	case "/v1/images/edits":
		s.imageEdits(w, r)
	case "/v1/audio/speech":
		s.speech(w, r)
	case "/v1/audio/transcriptions":
		s.transcriptions(w, r, false)
	case "/v1/audio/translations":
		s.transcriptions(w, r, true)
	case "/v1/images/variations":
		s.imageVariations(w, r)
	case "/v1/models":
		s.models(w, r)
	case "/health":
		s.health(w, r)
	default:
		if id, ok := strings.CutPrefix(r.URL.Path, "/v1/responses/"); ok {
			s.responseByID(w, r, id)
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/images/"); ok {
			s.imageFile(w, r, rest)
			return
		}
		st := getState()
		writeError(w, st, http.StatusNotFound, "invalid_request_error", "", "fakellm: no such endpoint: "+r.URL.Path)
		putState(st)
	}
}

func (s *Server) health(w http.ResponseWriter, r *http.Request) {
	w.Header()["Content-Type"] = ctText
	if s.healthy.Load() {
		_, _ = io.WriteString(w, "ok")
		return
	}
	w.WriteHeader(http.StatusServiceUnavailable)
	_, _ = io.WriteString(w, "unhealthy")
}

func (s *Server) models(w http.ResponseWriter, r *http.Request) {
	st := getState()
	defer putState(st)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		writeError(w, st, http.StatusMethodNotAllowed, "invalid_request_error", "", "fakellm: use GET")
		return
	}
	b := append(st.out[:0], `{"object":"list","data":[{"id":`...)
	b = appendJSONString(b, s.state.Load().cfg.Model)
	b = append(b, `,"object":"model","created":`...)
	b = strconv.AppendInt(b, time.Now().Unix(), 10)
	b = append(b, `,"owned_by":"fakellm"}]}`...)
	st.out = b
	w.Header()["Content-Type"] = ctJSON
	_, _ = w.Write(b)
}

// begin does what every model request does first: count it, honour the
// hang switch and read and decode the body. It returns false when the
// request has been answered or abandoned.
func (s *Server) begin(w http.ResponseWriter, r *http.Request, run *runState, cfg *serverState, st *reqState) bool {
	return s.beginWith(w, r, run, cfg, st, nil)
}

// beginWith is begin with the body read by form (which sets st.req.Model)
// rather than as JSON, when form is not nil.
func (s *Server) beginWith(w http.ResponseWriter, r *http.Request, run *runState, cfg *serverState, st *reqState, form func(st *reqState) error) bool {
	s.count(cfg, first(r.Header[cfg.cfg.CategoryHeader]))
	if r.Method != http.MethodPost {
		writeError(w, st, http.StatusMethodNotAllowed, "invalid_request_error", "", "fakellm: use POST")
		return false
	}
	if h := s.hang.Load(); h != nil {
		select {
		case <-*h:
		case <-r.Context().Done():
			return false
		case <-run.done:
			panic(http.ErrAbortHandler)
		}
	}
	if err := st.readBody(r); err != nil {
		if errors.Is(err, errTooLarge) {
			writeError(w, st, http.StatusRequestEntityTooLarge, "invalid_request_error", "", "fakellm: request body too large")
		}
		return false
	}
	if form != nil {
		// A multipart form (an image edit's): its model field stands
		// for a JSON body's.
		if err := form(st); err != nil {
			writeError(w, st, http.StatusBadRequest, "invalid_request_error", "", "fakellm: invalid form: "+err.Error())
			return false
		}
		return s.resolveModel(w, cfg, st)
	}
	if err := parseRequest(st.body, &st.req); err != nil {
		writeError(w, st, http.StatusBadRequest, "invalid_request_error", "", "fakellm: invalid request body: "+err.Error())
		return false
	}
	return s.resolveModel(w, cfg, st)
}

// resolveModel sets st.model to the JSON string echoed as the response's
// model, enforcing StrictModel.
func (s *Server) resolveModel(w http.ResponseWriter, cfg *serverState, st *reqState) bool {
	raw := st.req.Model
	if len(raw) == 0 {
		st.model = appendJSONString(st.model[:0], cfg.cfg.Model)
		return true
	}
	st.model = append(st.model[:0], raw...)
	if !cfg.cfg.StrictModel {
		return true
	}
	name := string(raw[1 : len(raw)-1])
	if bytes.IndexByte(raw, '\\') >= 0 {
		_ = json.Unmarshal(raw, &name)
	}
	if name != cfg.cfg.Model {
		writeError(w, st, http.StatusNotFound, "invalid_request_error", "model_not_found", "The model `"+name+"` does not exist.")
		return false
	}
	return true
}

// draw samples the request's outcome and applies the override headers.
func (s *Server) draw(r *http.Request, cfg *serverState, st *reqState) (o Outcome, seq uint64) {
	seq = s.seq.Add(1)
	o = cfg.cfg.Sample(st.seed(cfg.cfg.Seed, seq), first(r.Header[cfg.cfg.CategoryHeader]))
	if v := first(r.Header[HeaderStatus]); v != "" {
		if code, err := strconv.Atoi(v); err == nil && code >= 400 && code <= 599 {
			o.Fail(code)
		}
	}
	if v := first(r.Header[HeaderLatency]); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms >= 0 {
			d := Distribution{MedianMS: ms}.at(0)
			o.Latency, o.TTFT = d, d
		}
	}
	if v := first(r.Header[HeaderTokens]); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			o.SetTokens(n)
		}
	}
	return o, seq
}

type genKind int

const (
	kindChat genKind = iota
	kindText
	kindResponses
)

// generate serves /v1/chat/completions, /v1/completions and /v1/responses.
// A chat or Responses request that offers tools gets, as
// Behavior.ToolCallRate draws, a call of its first tool (finish reason
// "tool_calls", a function_call output item) instead of text.
func (s *Server) generate(w http.ResponseWriter, r *http.Request, kind genKind) {
	run, cfg := s.run.Load(), s.state.Load()
	if run.stopped() {
		panic(http.ErrAbortHandler)
	}
	st := getState()
	defer putState(st)
	if !s.begin(w, r, run, cfg, st) {
		return
	}
	if kind == kindResponses {
		st.req.PromptBytes += inputTextLen(st.req.Input)
		if !s.checkPrevious(w, st) {
			return
		}
	} else if st.req.HasN && (st.req.N < 1 || st.req.N > maxChoices) {
		badRequest(w, st, "n must be from 1 to "+strconv.Itoa(maxChoices))
		return
	}
	start := time.Now()
	o, seq := s.draw(r, cfg, st)
	limit := st.req.MaxCompletionTokens
	if limit <= 0 {
		limit = st.req.MaxTokens
	}
	if kind == kindResponses {
		limit = st.req.MaxOutputTokens
	}
	o.Limit(limit)
	if o.Quality != 0 {
		w.Header()[HeaderQuality] = []string{strconv.FormatFloat(o.Quality, 'g', -1, 64)}
	}
	if !o.OK() {
		if s.pause(r, st, run, o.Latency) {
			writeFailure(w, st, &o)
		}
		return
	}
	g := generation{
		kind:   kind,
		id:     seq,
		prompt: EstimateTokens(st.req.PromptBytes),
		o:      &o,
		start:  start,
	}
	if kind != kindResponses {
		g.choices = st.req.N
	}
	if o.ToolCall {
		// Only a chat or Responses request that offers a tool gets a
		// call; a completion never does.
		if g.tool = st.req.offersTool(); g.tool == nil || kind == kindText {
			g.tool, o.ToolCall = nil, false
		} else {
			o.Content, o.FinishReason = "", "tool_calls"
			o.OutputTokens = EstimateTokens(len(g.tool) + len(`{}`))
		}
	}
	var respID string // kept apart from g.respID, see below
	if kind == kindResponses {
		id := s.responseID(g.id)
		respID = id
		g.respID, g.prev, g.noStore = id, st.req.PreviousID, st.req.NoStore
		if !g.noStore {
			// Kept from the start, as a server stores a response it is
			// still generating. Stored from id, not g.respID: handing
			// on a field of g made the compiler move g's answer (o) to
			// the heap, an allocation on every chat request too.
			s.stored.add(id, st.req.Input)
		}
	}
	if o.Fault.Kind == FaultBadAnswer {
		s.badAnswer(w, r, run, st, &g, respID)
		return
	}
	// A backend that ignores "stream" (ignore_stream_rate) answers a
	// stream as it answers a whole request.
	streamed := st.req.Stream && o.Fault.Kind != FaultIgnoreStream
	if kind == kindResponses {
		if streamed {
			if body := s.streamResponses(w, r, run, st, &g, respID); body != nil && !st.req.NoStore {
				s.stored.finish(respID, body)
			}
			return
		}
	}
	if streamed {
		s.stream(w, r, run, st, &g)
		return
	}
	if !s.pause(r, st, run, o.Latency) {
		return
	}
	if kind == kindResponses {
		st.out = g.appendRespObject(st.out[:0], st.model, true)
		if !st.req.NoStore {
			s.stored.finish(respID, st.out)
		}
	} else {
		st.out = g.appendResponse(st.out[:0], st.model)
	}
	w.Header()["Content-Type"] = ctJSON
	if st.req.Stream && o.Fault.Kind == FaultIgnoreStream && o.Fault.Body != "" {
		// A stream's whole answer encoded, unasked
		// (ignore_stream_encoding); a whole request's is not, as
		// ignore_stream_rate leaves it alone.
		w.Header().Set("Content-Encoding", o.Fault.Body)
		_, _ = w.Write(encodeBody(o.Fault.Body, st.out))
		return
	}
	_, _ = w.Write(st.out)
}

// pause waits d. It returns false when the client went away, and aborts
// the handler when the server is closed or killed meanwhile.
func (s *Server) pause(r *http.Request, st *reqState, run *runState, d time.Duration) bool {
	if d <= 0 {
		// No wait: a departed client shows up as a failed write instead,
		// which keeps back-to-back chunks cheap.
		if run.stopped() {
			panic(http.ErrAbortHandler)
		}
		return true
	}
	t := st.timerFor(d)
	select {
	case <-t.C:
		return true
	case <-r.Context().Done():
		t.Stop()
		return false
	case <-run.done:
		t.Stop()
		panic(http.ErrAbortHandler)
	}
}

// writeFailure answers a request drawn to fail (o not OK): a refusal for
// load (o.RetryAfter set) with TGI's words and the Retry-After and
// Retry-After-Ms a backend sends with it (the OpenAI SDKs read the
// latter first), any other with the simulated failure.
func writeFailure(w http.ResponseWriter, st *reqState, o *Outcome) {
	if o.RetryAfter <= 0 {
		writeError(w, st, o.Status, o.ErrorClass, "", "fakellm: simulated failure")
		return
	}
	h := w.Header()
	h["Retry-After"] = []string{strconv.FormatInt(max(int64(math.Ceil(o.RetryAfter.Seconds())), 1), 10)}
	h["Retry-After-Ms"] = []string{strconv.FormatInt(max(o.RetryAfter.Milliseconds(), 1), 10)}
	writeError(w, st, o.Status, o.ErrorClass, "model_overloaded", "fakellm: Model is overloaded, please try again later")
}

// writeError answers with an OpenAI-shaped error body.
func writeError(w http.ResponseWriter, st *reqState, status int, class, code, msg string) {
	st.out = appendError(st.out[:0], class, code, msg)
	h := w.Header()
	h["Content-Type"] = ctJSON
	w.WriteHeader(status)
	_, _ = w.Write(st.out)
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

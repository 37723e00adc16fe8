package fakellm

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The Responses API (POST /v1/responses), as OpenAI, vLLM (0.10+) and
// Ollama serve it: the same draw as a chat request (latency, errors,
// refusals, length, tool calls), answered in the Responses shape. A
// response is kept, as a backend keeps it in its own memory, unless the
// request says "store": false; a request whose previous_response_id this
// server did not answer (or no longer keeps) gets OpenAI's 404
// "previous_response_not_found", which is what a conversation's second
// turn meets when it lands on another backend than its first.

// maxStored bounds the responses a server keeps for previous_response_id
// and GET /v1/responses/{id} (oldest first out): enough for any test. A
// kept body is the whole response object (a few hundred bytes for the
// default behaviour); one over maxStoredBody is kept as its id alone, so
// the memory stays a fixed few tens of megabytes at most.
const (
	maxStored     = 1 << 16
	maxStoredBody = 16 << 10
)

// storedIDs is the set of responses a server answered and keeps: each id,
// its request's input and, once the response is finished, its body.
type storedIDs struct {
	mu   sync.Mutex
	ids  map[string]storedResponse
	ring []string
	next int
}

// storedResponse is what a server keeps of a response.
type storedResponse struct {
	body  []byte // the whole response object; nil until finished
	input []byte // the raw JSON "input" of its request (input_items.go)
}

// add keeps response id, with its request's raw "input" (copied; one
// over maxStoredBody is not kept, and lists no items).
func (s *storedIDs) add(id string, input []byte) {
	if len(input) > maxStoredBody {
		input = nil
	}
	input = bytes.Clone(input)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = make(map[string]storedResponse)
		s.ring = make([]string, maxStored)
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % maxStored
	s.ids[id] = storedResponse{input: input}
}

// finish keeps body (copied) as the finished response id, if id is still
// kept (not deleted, not pushed out).
func (s *storedIDs) finish(id string, body []byte) {
	if len(body) > maxStoredBody {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.ids[id]; ok {
		r.body = bytes.Clone(body)
		s.ids[id] = r
	}
}

func (s *storedIDs) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	return ok
}

// get returns what is kept of response id (its body is nil while it is
// generated, or when it was too large to keep) and whether id is kept at
// all.
func (s *storedIDs) get(id string) (storedResponse, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.ids[id]
	return r, ok
}

// remove forgets response id; it reports whether it was kept. Its ring
// slot stays until it comes round, when deleting it again is harmless.
func (s *storedIDs) remove(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
	delete(s.ids, id)
	return ok
}

// Stored reports whether the server keeps the response id, as a later
// request's previous_response_id would find it.
func (s *Server) Stored(id string) bool { return s.stored.has(id) }

// newIDPrefix returns the random part of a server's response ids: two
// servers' ids never collide, as two backends' do not.
func newIDPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// responses serves POST /v1/responses.
func (s *Server) responses(w http.ResponseWriter, r *http.Request) {
	s.generate(w, r, kindResponses)
}

// checkPrevious answers 404 when the request continues a response this
// server does not keep; it returns false then.
func (s *Server) checkPrevious(w http.ResponseWriter, st *reqState) bool {
	prev := st.req.PreviousID
	if prev == nil {
		return true
	}
	id := string(prev[1 : len(prev)-1])
	if s.stored.has(id) {
		return true
	}
	writeError(w, st, http.StatusNotFound, "invalid_request_error", "previous_response_not_found", "Previous response with id '"+id+"' not found.")
	return false
}

// responseID returns the id of the response of the generation numbered id.
func (s *Server) responseID(id uint64) string {
	return "resp_" + s.idPrefix + strconv.FormatUint(id, 16)
}

// respStatus returns the Responses status of g and its incomplete reason.
func (g *generation) respStatus() (status, reason string) {
	if g.o.FinishReason == "length" {
		return "incomplete", "max_output_tokens"
	}
	return "completed", ""
}

// appendRespObject appends a Response object; whole says it is finished
// (output and usage filled), else it is the in_progress one of
// response.created.
func (g *generation) appendRespObject(b []byte, model []byte, whole bool) []byte {
	b = append(b, `{"id":`...)
	b = appendJSONString(b, g.respID)
	b = append(b, `,"object":"response","created_at":`...)
	b = strconv.AppendInt(b, g.start.Unix(), 10)
	status, reason := "in_progress", ""
	if whole {
		status, reason = g.respStatus()
	}
	if g.failed {
		status = "failed"
	}
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	if g.failed {
		b = append(b, `","error":{"code":"`...)
		b = append(b, g.failedCode()...)
		b = append(b, `","message":`...)
		b = appendJSONString(b, g.failedMessage())
		b = append(b, `},"incomplete_details":`...)
	} else {
		b = append(b, `","error":null,"incomplete_details":`...)
	}
	if reason != "" {
		b = append(b, `{"reason":"`...)
		b = append(b, reason...)
		b = append(b, `"}`...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"instructions":null,"max_output_tokens":null,"model":`...)
	b = append(b, model...)
	b = append(b, `,"output":[`...)
	if whole {
		b = g.appendRespItem(b, true)
	}
	b = append(b, `],"parallel_tool_calls":true,"previous_response_id":`...)
	if g.prev != nil {
		b = append(b, g.prev...)
	} else {
		b = append(b, "null"...)
	}
	b = append(b, `,"store":`...)
	b = strconv.AppendBool(b, !g.noStore)
	b = append(b, `,"temperature":1.0,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1.0,"truncation":"disabled","usage":`...)
	if whole {
		b = g.appendRespUsage(b)
	} else {
		b = append(b, "null"...)
	}
	return append(b, `,"metadata":{}}`...)
}

// appendRespItem appends the answer's output item: a function_call, or a
// message with one output_text part; done says it is complete.
func (g *generation) appendRespItem(b []byte, done bool) []byte {
	status := "completed"
	if !done {
		status = "in_progress"
	}
	if g.tool != nil {
		b = append(b, `{"type":"function_call","id":"fc_`...)
		b = g.appendHex(b)
		b = append(b, `","call_id":"call_`...)
		b = g.appendHex(b)
		b = append(b, `","name":`...)
		b = append(b, g.tool...)
		b = append(b, `,"arguments":"`...)
		if done {
			b = append(b, `{}`...)
		}
		b = append(b, `","status":"`...)
		b = append(b, status...)
		return append(b, `"}`...)
	}
	b = append(b, `{"type":"message","id":"msg_`...)
	b = g.appendHex(b)
	b = append(b, `","status":"`...)
	b = append(b, status...)
	b = append(b, `","role":"assistant","content":[`...)
	if done {
		b = appendOutputText(b, g.o.Content)
	}
	return append(b, `]}`...)
}

// appendOutputText appends an output_text content part.
func appendOutputText(b []byte, text string) []byte {
	b = append(b, `{"type":"output_text","text":`...)
	b = appendJSONString(b, text)
	return append(b, `,"annotations":[]}`...)
}

func (g *generation) appendHex(b []byte) []byte {
	for shift := 60; shift >= 0; shift -= 4 {
		b = append(b, hexDigits[(g.id>>uint(shift))&0xf])
	}
	return b
}

// appendRespUsage appends the Responses usage object; the cached prompt
// tokens only when the behaviour reports its prefix cache, as for chat.
func (g *generation) appendRespUsage(b []byte) []byte {
	prompt, out := g.prompt, g.o.OutputTokens
	b = append(b, `{"input_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt), 10)
	b = g.appendCachedTokens(b, "input_tokens_details", prompt)
	b = append(b, `,"output_tokens":`...)
	b = strconv.AppendInt(b, int64(out), 10)
	b = append(b, `,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":`...)
	b = strconv.AppendInt(b, int64(prompt+out), 10)
	return append(b, '}')
}

// respEvents writes the events of a Responses stream, numbering them.
type respEvents struct {
	b   []byte
	seq int
}

// open starts an event of type typ: its event line and its data up to the
// members that follow "type" and "sequence_number".
func (e *respEvents) open(typ string) {
	e.b = append(e.b, "event: "...)
	e.b = append(e.b, typ...)
	e.b = append(e.b, "\ndata: {\"type\":\""...)
	e.b = append(e.b, typ...)
	e.b = append(e.b, `","sequence_number":`...)
	e.b = strconv.AppendInt(e.b, int64(e.seq), 10)
	e.seq++
}

func (e *respEvents) close() { e.b = append(e.b, "}\n\n"...) }

// itemRef appends the item id and indexes of a part event.
func (e *respEvents) itemRef(g *generation, part bool) {
	e.b = append(e.b, `,"item_id":"msg_`...)
	e.b = g.appendHex(e.b)
	e.b = append(e.b, `","output_index":0`...)
	if part {
		e.b = append(e.b, `,"content_index":0`...)
	}
}

// streamResponses answers a Responses request with server-sent events:
// response.created and response.in_progress at once (a real server sends
// them before prefill), the output item at the time to first token, one
// response.output_text.delta per token, paced as a chat stream, then the
// item's done events and response.completed (or response.incomplete)
// carrying the whole response with its usage. There is no [DONE]. It
// returns that whole response (in st.out), or nil when the stream ended
// before it; a fault keeps the failed response under id, g's (keepFailed).
func (s *Server) streamResponses(w http.ResponseWriter, r *http.Request, run *runState, st *reqState, g *generation, id string) []byte {
	h := w.Header()
	h["Content-Type"] = ctSSE
	h["Cache-Control"] = noCache
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	e := respEvents{b: st.out[:0]}
	send := func() bool {
		_, err := w.Write(e.b)
		if fl != nil {
			fl.Flush()
		}
		e.b = e.b[:0]
		return err == nil
	}
	e.open("response.created")
	e.b = append(e.b, `,"response":`...)
	e.b = g.appendRespObject(e.b, st.model, false)
	e.close()
	e.open("response.in_progress")
	e.b = append(e.b, `,"response":`...)
	e.b = g.appendRespObject(e.b, st.model, false)
	e.close()
	if !send() {
		return nil
	}
	if !s.pause(r, st, run, time.Until(g.start.Add(g.o.TTFT))) {
		return nil
	}
	if g.streamFault(0) {
		s.respStreamFault(g, id, &e, st.model, send, fl)
		return nil
	}
	e.open("response.output_item.added")
	e.b = append(e.b, `,"output_index":0,"item":`...)
	e.b = g.appendRespItem(e.b, false)
	e.close()
	if g.tool != nil {
		e.open("response.function_call_arguments.delta")
		e.b = append(e.b, `,"item_id":"fc_`...)
		e.b = g.appendHex(e.b)
		e.b = append(e.b, `","output_index":0,"delta":"{}"`...)
		e.close()
		e.open("response.function_call_arguments.done")
		e.b = append(e.b, `,"item_id":"fc_`...)
		e.b = g.appendHex(e.b)
		e.b = append(e.b, `","output_index":0,"arguments":"{}"`...)
		e.close()
		if g.streamFault(1) {
			s.respStreamFault(g, id, &e, st.model, send, fl)
			return nil
		}
	} else {
		e.open("response.content_part.added")
		e.itemRef(g, true)
		e.b = append(e.b, `,"part":`...)
		e.b = appendOutputText(e.b, "")
		e.close()
		content := g.o.Content
		pos := 0
		for i := 0; i == 0 || pos < len(content); i++ {
			if i > 0 {
				var wait time.Duration
				if g.o.TokenInterval > 0 { // reading the clock is not free
					wait = time.Until(g.start.Add(g.o.TTFT + time.Duration(i)*g.o.TokenInterval))
				}
				if !s.pause(r, st, run, wait) {
					return nil
				}
			}
			var tok string
			tok, pos = nextToken(content, pos)
			e.open("response.output_text.delta")
			e.itemRef(g, true)
			e.b = append(e.b, `,"delta":`...)
			e.b = appendJSONString(e.b, tok)
			e.close()
			if !send() {
				return nil
			}
			if g.streamFault(i + 1) {
				s.respStreamFault(g, id, &e, st.model, send, fl)
				return nil
			}
		}
		e.open("response.output_text.done")
		e.itemRef(g, true)
		e.b = append(e.b, `,"text":`...)
		e.b = appendJSONString(e.b, content)
		e.close()
		e.open("response.content_part.done")
		e.itemRef(g, true)
		e.b = append(e.b, `,"part":`...)
		e.b = appendOutputText(e.b, content)
		e.close()
	}
	e.open("response.output_item.done")
	e.b = append(e.b, `,"output_index":0,"item":`...)
	e.b = g.appendRespItem(e.b, true)
	e.close()
	status, _ := g.respStatus()
	e.open("response." + status)
	e.b = append(e.b, `,"response":`...)
	obj := len(e.b)
	e.b = g.appendRespObject(e.b, st.model, true)
	end := len(e.b)
	e.close()
	send()
	st.out = e.b
	return st.out[obj:end]
}

// responseByID serves the by-id endpoints of the Responses API for the
// responses this server keeps: GET /v1/responses/{id} (the whole response;
// with ?stream=true its response.completed event, as OpenAI replays a
// stored response's events), DELETE (OpenAI's deletion object), and POST
// .../cancel, which OpenAI answers 400 for a response not created with
// background: true (none here is), and GET .../input_items, the items of
// the request's input (input_items.go). Any other id is OpenAI's 404.
func (s *Server) responseByID(w http.ResponseWriter, r *http.Request, rest string) {
	st := getState()
	defer putState(st)
	id, action, _ := strings.Cut(rest, "/")
	kept, ok := s.stored.get(id)
	body := kept.body
	if !ok || id == "" {
		writeError(w, st, http.StatusNotFound, "invalid_request_error", "", "Response with id '"+id+"' not found.")
		return
	}
	switch {
	case action == "" && r.Method == http.MethodGet:
		if body == nil {
			// Still generating, or too large to keep.
			writeError(w, st, http.StatusNotFound, "invalid_request_error", "", "fakellm: response '"+id+"' is not finished, or too large to keep")
			return
		}
		if r.URL.Query().Get("stream") == "true" || s.bodyAsksStream(r, st) {
			h := w.Header()
			h["Content-Type"] = ctSSE
			h["Cache-Control"] = noCache
			e := respEvents{b: st.out[:0]}
			e.open("response.completed")
			e.b = append(e.b, `,"response":`...)
			e.b = append(e.b, body...)
			e.close()
			st.out = e.b
			_, _ = w.Write(st.out)
			return
		}
		w.Header()["Content-Type"] = ctJSON
		_, _ = w.Write(body)
	case action == "" && r.Method == http.MethodDelete:
		s.stored.remove(id)
		b := append(st.out[:0], `{"id":`...)
		b = appendJSONString(b, id)
		b = append(b, `,"object":"response.deleted","deleted":true}`...)
		st.out = b
		w.Header()["Content-Type"] = ctJSON
		_, _ = w.Write(b)
	case action == "input_items" && r.Method == http.MethodGet:
		s.inputItems(w, r, st, id, kept.input)
	case action == "cancel" && r.Method == http.MethodPost:
		writeError(w, st, http.StatusBadRequest, "invalid_request_error", "", "Only responses created with background=true can be cancelled.")
	case action == "" || action == "cancel" || action == "input_items":
		writeError(w, st, http.StatusMethodNotAllowed, "invalid_request_error", "", "fakellm: "+r.Method+" is not served on "+r.URL.Path)
	default:
		writeError(w, st, http.StatusNotFound, "invalid_request_error", "", "fakellm: no such endpoint: "+r.URL.Path)
	}
}

// bodyAsksStream reports whether a by-id GET carries a JSON body with
// "stream": true, as the OpenAI Go SDK's GetStreaming (v1.12) sends
// instead of the query parameter.
func (s *Server) bodyAsksStream(r *http.Request, st *reqState) bool {
	if r.ContentLength == 0 || st.readBody(r) != nil || len(st.body) == 0 {
		return false
	}
	var b struct {
		Stream bool `json:"stream"`
	}
	return json.Unmarshal(st.body, &b) == nil && b.Stream
}

// inputTextLen is the length of a Responses request's input text: a string,
// or the contents of a list of items (a string content, or the text of its
// parts), as the prompt of a chat request is its messages' contents.
func inputTextLen(raw []byte) int {
	if len(raw) == 0 || raw[0] != '[' {
		return rawTextLen(raw)
	}
	n := 0
	s := jsonScanner{b: raw}
	_ = s.optArray(func() error {
		if s.peek() != '{' {
			return s.skip()
		}
		return s.object(func(key []byte) error {
			if string(key) != "content" {
				return s.skip()
			}
			if s.peek() != '[' {
				v, err := s.value()
				n += rawTextLen(v)
				return err
			}
			return s.optArray(func() error {
				if s.peek() != '{' {
					return s.skip()
				}
				return s.object(func(key []byte) error {
					if string(key) != "text" {
						return s.skip()
					}
					v, err := s.value()
					n += rawTextLen(v)
					return err
				})
			})
		})
	})
	return n
}

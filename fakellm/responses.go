package fakellm

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
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

// maxStored bounds the response ids a server keeps for previous_response_id
// (oldest first out): enough for any test, and a fixed few megabytes.
const maxStored = 1 << 16

// storedIDs is the set of response ids a server answered and keeps.
type storedIDs struct {
	mu   sync.Mutex
	ids  map[string]struct{}
	ring []string
	next int
}

func (s *storedIDs) add(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ids == nil {
		s.ids = make(map[string]struct{})
		s.ring = make([]string, maxStored)
	}
	if old := s.ring[s.next]; old != "" {
		delete(s.ids, old)
	}
	s.ring[s.next] = id
	s.next = (s.next + 1) % maxStored
	s.ids[id] = struct{}{}
}

func (s *storedIDs) has(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.ids[id]
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
	b = append(b, `,"status":"`...)
	b = append(b, status...)
	b = append(b, `","error":null,"incomplete_details":`...)
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
// carrying the whole response with its usage. There is no [DONE].
func (s *Server) streamResponses(w http.ResponseWriter, r *http.Request, run *runState, st *reqState, g *generation) {
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
		return
	}
	if !s.pause(r, st, run, time.Until(g.start.Add(g.o.TTFT))) {
		return
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
					return
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
				return
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
	e.b = g.appendRespObject(e.b, st.model, true)
	e.close()
	send()
	st.out = e.b
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

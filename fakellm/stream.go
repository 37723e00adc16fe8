package fakellm

import (
	"net/http"
	"time"
)

// stream answers with server-sent events: headers at once, the first token
// at TTFT, one token per TokenInterval after it (scheduled from the request
// start so pacing does not drift), then the finish chunk, the usage chunk
// when asked for, and [DONE]. With "n" above 1 each token comes once per
// choice, in events of their own written together, as the choices of one
// step of a batch. Every event is flushed as it is written.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, run *runState, st *reqState, g *generation) {
	h := w.Header()
	h["Content-Type"] = ctSSE
	h["Cache-Control"] = noCache
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	st.head = g.chunkHead(st.head[:0], st.model)
	content := g.o.Content
	pos := 0
	if g.streamFault(0) {
		// A fault in place of the first event, at TTFT.
		if s.pause(r, st, run, time.Until(g.start.Add(g.o.TTFT))) {
			g.chatStreamFault(w, fl, st)
		}
		return
	}
	if g.tool != nil {
		// A tool call comes whole in the first event, at TTFT.
		if !s.pause(r, st, run, time.Until(g.start.Add(g.o.TTFT))) {
			return
		}
		st.out = st.out[:0]
		for c := range g.nChoices() {
			st.out = g.appendToolChunk(st.out, st.head, c)
		}
		if _, err := w.Write(st.out); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		if g.streamFault(1) {
			g.chatStreamFault(w, fl, st)
			return
		}
	}
	// A text answer: one token per event (no event after a tool call).
	for i := 0; g.tool == nil && (i == 0 || pos < len(content)); i++ {
		var wait time.Duration
		if i == 0 || g.o.TokenInterval > 0 { // reading the clock is not free
			wait = time.Until(g.start.Add(g.o.TTFT + time.Duration(i)*g.o.TokenInterval))
		}
		if !s.pause(r, st, run, wait) {
			return
		}
		var tok string
		tok, pos = nextToken(content, pos)
		st.out = st.out[:0]
		for c := range g.nChoices() {
			st.out = g.appendTokenChunk(st.out, st.head, c, tok, i == 0)
		}
		if _, err := w.Write(st.out); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
		if g.streamFault(i + 1) {
			g.chatStreamFault(w, fl, st)
			return
		}
	}
	b := st.out[:0]
	for c := range g.nChoices() {
		b = g.appendFinalChunk(b, st.head, c)
	}
	if st.req.IncludeUsage {
		b = g.appendUsageChunk(b, st.head)
	}
	b = append(b, doneEvent...)
	st.out = b
	if _, err := w.Write(b); err != nil {
		return
	}
	if fl != nil {
		fl.Flush()
	}
}

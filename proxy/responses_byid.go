package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
)

// The Responses API's by-id endpoints: GET and DELETE /v1/responses/{id},
// POST /v1/responses/{id}/cancel and GET /v1/responses/{id}/input_items.
// A response lives in the memory of the backend that answered it, so
// these go to the endpoint the proxy remembers for the id (affinity.go),
// passed through as they are: they are not inference, so nothing is
// observed, logged as a request or retried, and chat's path pays nothing
// for them (ServeHTTP reaches them only after its known paths).

// pathResponsesByID is the prefix of the by-id endpoints.
const pathResponsesByID = pathResponses + "/"

// serveResponseByID forwards a by-id request to the endpoint that
// answered the response; rest is the path after pathResponsesByID.
func (p *Proxy) serveResponseByID(w http.ResponseWriter, r *http.Request, rest string) {
	id, action, _ := strings.Cut(rest, "/")
	var allow string
	switch action {
	case "":
		allow = "GET, DELETE"
	case "cancel":
		allow = "POST"
	case "input_items":
		allow = "GET"
	default:
		writeErrorCode(w, sluice.CodeNotFound, "unknown path "+r.URL.Path+": the Responses API serves /v1/responses/{id}, /v1/responses/{id}/cancel and /v1/responses/{id}/input_items")
		return
	}
	if !slices.Contains(strings.Split(allow, ", "), r.Method) {
		w.Header().Set("Allow", allow)
		WriteErrorStatus(w, http.StatusMethodNotAllowed, sluice.CodeBadRequest, r.URL.Path+" takes "+allow)
		return
	}
	a, ok := p.responseIDs.get(id)
	if !ok {
		p.refuse(w, r, "", sluice.Errorf(sluice.CodeNotFound, "%s", "response "+id+" is not known to this Sluice replica: it was answered through another replica, before this one restarted, or so long ago that it was forgotten (the proxy remembers the latest response ids only); retrieving it needs the replica that answered it, or the backend directly"))
		return
	}
	if !mayActOn(r, a.key) {
		p.refuse(w, r, a.version, errNotYourResponse(id))
		return
	}
	if p.opt.Admit != nil {
		model, _, _ := sluice.SplitFullID(a.version)
		if err := p.opt.Admit(r, model); err != nil {
			p.refuse(w, r, a.version, err)
			return
		}
	}
	tab := p.opt.Routes.Load()
	t := tab.Target(a.version)
	if t == nil {
		p.refuse(w, r, a.version, sluice.Errorf(sluice.CodeGone, "%s", "response "+id+" was answered by "+a.version+", which "+tab.CannotServe(a.version)+": the response is no longer reachable through Sluice"))
		return
	}
	if !slices.Contains(t.Endpoints, a.endpoint) {
		p.refuse(w, r, a.version, sluice.Errorf(sluice.CodeGone, "%s", "response "+id+" was answered by "+a.version+" on a backend that is no longer one of its endpoints: the response is no longer reachable through Sluice"))
		return
	}
	reqID, _ := newRequestID(p.opt.Now())
	w.Header().Set("X-Request-Id", reqID)
	ctx, cancel := context.WithTimeout(r.Context(), p.opt.RequestTimeout)
	defer cancel()
	// A body is passed on whatever the method: the SDK's GetStreaming
	// (v1.12) asks for the stream by a {"stream": true} body on its GET.
	var body io.Reader
	if r.ContentLength != 0 {
		b, err := p.readBody(r, nil)
		if err != nil {
			p.refuse(w, r, a.version, err)
			return
		}
		if len(b) > 0 {
			body = bytes.NewReader(b)
		}
	}
	path := r.URL.Path
	if r.URL.RawQuery != "" {
		path += "?" + r.URL.RawQuery
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, backendURL(a.endpoint, path), body)
	if err != nil {
		writeErrorCode(w, sluice.CodeInternal, "the request to the backend of "+t.ID+" could not be made: "+bodyErrText(err))
		return
	}
	copyRequestHeaders(req.Header, r.Header)
	if p.forceHeader != "" {
		delete(req.Header, p.forceHeader)
	}
	var tr *spans
	if hs, ok := w.(*httpSpan); ok {
		tr = hs.s
		tr.startForward(t, a.endpoint, reqID, req.Header)
	}
	p.opt.Backends.Prepare(req, a.endpoint)
	req.Header.Set("X-Request-Id", reqID)
	resp, err := p.byIDTransport().RoundTrip(req)
	if err != nil {
		class := classify(r.Context(), err)
		tr.endForward(0, class)
		if class == "canceled" {
			writeCanceled(w)
			return
		}
		code := sluice.CodeUpstream
		if class == "timeout" {
			code = sluice.CodeTimeout
		}
		writeErrorCode(w, code, upstreamMessage(t, class, err))
		return
	}
	if p.opt.IdleTimeout > 0 {
		// The answer has begun: its silence is bounded as a relayed
		// answer's is (idle.go), or a wedged backend would hold the
		// client until the request's time ran out.
		ib := p.idle.wrap(nil, resp.Body, p.opt.IdleTimeout, true)
		resp.Body = ib
		defer func() {
			ib.Close()
			ib.body = nil
			idleBodies.Put(ib)
		}()
	} else {
		defer resp.Body.Close()
	}
	defer tr.endForward(resp.StatusCode, "")
	h := w.Header()
	copyResponseHeaders(h, resp.Header)
	h.Set("X-Model-Version", t.ID)
	w.WriteHeader(resp.StatusCode)
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || len(resp.Header["Content-Encoding"]) > 0 {
		// Not an event stream, or one sent encoded (a compressing proxy
		// in front of the backend), whose lines cannot be judged and
		// whose encoding would not decode filtered: byte for byte.
		_, _ = io.Copy(w, resp.Body)
		return
	}
	// An event stream (GET ...?stream=true, the resume of a background
	// response) is passed on as it comes, without the blank lines that
	// end its keep-alives (commentBlocks), which openai-go fails on.
	rc := http.NewResponseController(w)
	buf := make([]byte, 16<<10)
	var cb commentBlocks
	var seq byIDSeq
	for {
		n, err := resp.Body.Read(buf)
		out := cb.filter(buf[:n])
		seq.read(out, cb.events)
		if len(out) > 0 {
			if _, werr := w.Write(out); werr != nil {
				return
			}
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return
			}
		}
		if err != nil {
			if d, ok := idleCut(err); ok && r.Context().Err() == nil {
				// Said in the stream, as relayStream says it: ended
				// without it, the stream would look whole. It follows
				// what the backend left open, ended, and takes the next
				// sequence_number.
				passed := cb.events
				if cb.inEvent {
					passed++
				}
				ev := cb.appendEnd(nil)
				w.Write(appendRespStreamError(ev, seq.next(r, passed), sluice.CodeTimeout, idleMessage(t.ID, "its stream", d)+"; retry the request"))
				rc.Flush()
			}
			return
		}
	}
}

// maxByIDOpening bounds the bytes of a by-id stream's first event held to
// read its sequence_number (byIDSeq), as maxOpeningSize bounds a
// stream's opening.
const maxByIDOpening = 1 << 20

// byIDSeq numbers the gateway's error event ending a Responses stream by
// id, as respStream.nextSeq numbers a stream's: the first event's
// sequence_number, read once from its bytes (held until that event ends,
// up to maxByIDOpening), plus the events ended since. A stream cut before
// any event takes starting_after+1 (the resume's next), or 0.
type byIDSeq struct {
	head  []byte
	first int64
	state uint8 // 0: reading the first event; 1: first known; 2: unknown
}

func (s *byIDSeq) read(out []byte, events int64) {
	if s.state != 0 || len(out) == 0 {
		return
	}
	if len(s.head)+len(out) > maxByIDOpening {
		s.state, s.head = 2, nil
		return
	}
	s.head = append(s.head, out...)
	if events > 0 {
		s.parse()
	}
}

// parse reads the first event's sequence_number from the bytes held.
func (s *byIDSeq) parse() {
	s.state = 2
	for line := range bytes.Lines(s.head) {
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			if n := gjson.GetBytes(v, "sequence_number"); n.Type == gjson.Number {
				s.first, s.state = n.Int(), 1
			}
			break
		}
	}
	s.head = nil
}

// next is the sequence_number of an event following the events passed
// (those ended, and one left open, which the gateway ends); -1 (none) when
// the first event's could not be read.
func (s *byIDSeq) next(r *http.Request, events int64) int64 {
	if s.state == 0 && events > 0 {
		s.parse()
	}
	switch {
	case events == 0:
		n, err := strconv.ParseInt(r.URL.Query().Get("starting_after"), 10, 64)
		if err != nil {
			return 0
		}
		return n + 1
	case s.state == 1:
		return s.first + events
	}
	return -1
}

// byIDTransport returns the transport by-id requests go through: the
// proxy's Options.Transport, else one made at the first such request with
// the proxy's timeouts (the own client of upstream.go sends POSTs only).
func (p *Proxy) byIDTransport() http.RoundTripper {
	if p.transport != nil {
		return p.transport
	}
	p.byIDOnce.Do(func() {
		p.byID = NewTransport(p.opt.ConnectTimeout, p.opt.FirstByteTimeout)
	})
	return p.byID
}

package proxy

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

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
	reqID, _ := newRequestID()
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
	if !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		_, _ = io.Copy(w, resp.Body)
		return
	}
	// An event stream (GET ...?stream=true) is passed on as it comes.
	rc := http.NewResponseController(w)
	buf := make([]byte, 16<<10)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return
			}
			if ferr := rc.Flush(); ferr != nil && !errors.Is(ferr, http.ErrNotSupported) {
				return
			}
		}
		if err != nil {
			if d, ok := idleCut(err); ok && r.Context().Err() == nil {
				// Said in the stream, as relayStream says it: ended
				// without it, the stream would look whole.
				w.Write(appendRespStreamError([]byte("\n"), -1, sluice.CodeTimeout, idleMessage(t.ID, "its stream", d)+"; retry the request"))
				rc.Flush()
			}
			return
		}
	}
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

package proxy_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/proxy"
	"github.com/sluicehq/sluice/route"
)

// editImage is an image file's bytes: binary, with what looks like a
// multipart delimiter and a model field inside, so a form read as text,
// or cut at the wrong delimiter, shows.
var editImage = append([]byte("\x89PNG\r\n\x1a\n\x00\x00\r\n--not-the-boundary\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nevil\r\n"), bytes.Repeat([]byte{0x00, 0xff, '\r', '\n', '-', '-'}, 5000)...)

// editBackend answers /v1/images/edits and keeps the Content-Type and
// body of each request it was sent; a request whose form names a model
// in fail is answered 500.
type editBackend struct {
	*httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	types  []string
	fail   string
}

func newEditBackend(tb testing.TB, fail string) *editBackend {
	b := &editBackend{fail: fail}
	b.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.bodies = append(b.bodies, body)
		b.types = append(b.types, r.Header.Get("Content-Type"))
		b.mu.Unlock()
		form := readForm(tb, r.Header.Get("Content-Type"), body)
		if r.URL.Path != "/v1/images/edits" || form["model"] == b.fail {
			http.Error(w, `{"error":{"message":"down","type":"server_error"}}`, http.StatusInternalServerError)
			return
		}
		if form["stream"] == "true" {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "event: image_edit.partial_image\ndata: {\"type\":\"image_edit.partial_image\",\"b64_json\":\"AAAA\",\"partial_image_index\":0}\n\n")
			w.(http.Flusher).Flush()
			io.WriteString(w, "event: image_edit.completed\ndata: {\"type\":\"image_edit.completed\",\"b64_json\":\"BBBB\",\"usage\":{\"input_tokens\":7,\"output_tokens\":9,\"total_tokens\":16}}\n\n")
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"created":1,"data":[{"b64_json":"AAAA"},{"b64_json":"BBBB"}],"usage":{"input_tokens":7,"output_tokens":9,"total_tokens":16}}`)
	}))
	tb.Cleanup(b.Close)
	return b
}

func (b *editBackend) received() ([][]byte, []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.bodies, b.types
}

// readForm reads a multipart form with the standard library's reader:
// each field's value, each file's bytes under "file:NAME".
func readForm(tb testing.TB, contentType string, body []byte) map[string]string {
	tb.Helper()
	_, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		tb.Errorf("Content-Type %q: %v", contentType, err)
		return nil
	}
	mr := multipart.NewReader(bytes.NewReader(body), params["boundary"])
	form := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return form
		}
		if err != nil {
			tb.Errorf("the form is not valid multipart: %v", err)
			return form
		}
		v, _ := io.ReadAll(p)
		name := p.FormName()
		if p.FileName() != "" {
			name = "file:" + name
		}
		form[name] = string(v)
	}
}

// captureBody is an openai-go middleware that keeps the body the SDK
// sends.
func captureBody(dst *[]byte) option.Middleware {
	return func(r *http.Request, next option.MiddlewareNext) (*http.Response, error) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			return nil, err
		}
		*dst = b
		r.Body = io.NopCloser(bytes.NewReader(b))
		return next(r)
	}
}

// imageEditRoutes: model "chat" split between v1 (upstream "up-v1") and
// v2 (upstream "up-v2") with v2 taking stablePercent's rest; v1 is
// labelled stable, the version a failed attempt is retried on.
func imageEditRoutes(tb testing.TB, stable, candidate string, stablePercent float64) *route.Holder {
	tb.Helper()
	e := sluice.NewRegistry().Edit("test", "fixture", t0)
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatalf("fixture: %v", err)
		}
	}
	_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Stage: sluice.StageProduction, Endpoints: []string{stable}, UpstreamModel: "up-v1"})
	must(err)
	_, err = e.RegisterVersion(sluice.Version{Model: "chat", Version: "v2", Stage: sluice.StageProduction, Endpoints: []string{candidate}, UpstreamModel: "up-v2"})
	must(err)
	must(e.SetSplit("chat", []sluice.Weight{{Version: "v1", Percent: stablePercent}, {Version: "v2", Percent: 100 - stablePercent}}))
	must(e.SetLabel("chat", "stable", "v1"))
	_, err = e.Finish()
	must(err)
	return route.NewHolder(route.Build(e.Registry(), nil, route.NewOptions()))
}

// TestProxy_ImageEdits: README ("Endpoints"): POST /v1/images/edits is
// routed by the form's "model" field, which openai-go writes after the
// image and the mask; the backend gets the client's form byte for byte
// (its boundary, every part's headers, the files) but for the model,
// rewritten to the version's upstream model; the answer is relayed,
// measured and logged as an image generation's. It was a 404.
func TestProxy_ImageEdits(t *testing.T) {
	be := newEditBackend(t, "")
	log := &spyLog{}
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Log: log, NoRetry: true})
	var sent []byte
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0), option.WithMiddleware(captureBody(&sent)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	res, err := client.Images.Edit(ctx, openai.ImageEditParams{
		Image:  openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader(editImage), "in.png", "image/png")},
		Mask:   openai.File(bytes.NewReader(editImage[:300]), "mask.png", "image/png"),
		Prompt: "a red hat",
		Model:  "chat",
		N:      openai.Int(2),
		Size:   openai.ImageEditParamsSize1024x1024,
	})
	if err != nil {
		t.Fatalf("edit through the gateway: %v", err)
	}
	if len(res.Data) != 2 || res.Data[1].B64JSON != "BBBB" || res.Usage.OutputTokens != 9 {
		t.Errorf("answer %+v, want the backend's two images and usage", res)
	}
	if i, j := bytes.Index(sent, []byte(`name="image"`)), bytes.Index(sent, []byte(`name="model"`)); i < 0 || j < i {
		t.Fatalf("openai-go sent the model before the image (image at %d, model at %d): the test does not test a model after the files", i, j)
	}
	bodies, types := be.received()
	if len(bodies) != 1 {
		t.Fatalf("the backend got %d requests, want 1", len(bodies))
	}
	field := "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
	want := bytes.Replace(sent, []byte(field+"chat\r\n"), []byte(field+"up-v1\r\n"), 1)
	if bytes.Equal(want, sent) {
		t.Fatalf("the SDK's form has no model field written as %q", field+"chat")
	}
	if !bytes.Equal(bodies[0], want) {
		t.Errorf("the backend got a form of %d bytes that is not the client's (%d bytes) with model up-v1", len(bodies[0]), len(sent))
	}
	form := readForm(t, types[0], bodies[0])
	if form["model"] != "up-v1" || form["file:image"] != string(editImage) || form["file:mask"] != string(editImage[:300]) || form["prompt"] != "a red hat" || form["n"] != "2" {
		t.Errorf("the backend read model %q, prompt %q, n %q, an image equal %v, a mask equal %v",
			form["model"], form["prompt"], form["n"], form["file:image"] == string(editImage), form["file:mask"] == string(editImage[:300]))
	}
	rows := log.all()
	if len(rows) != 1 || rows[0].Endpoint != "/v1/images/edits" || rows[0].Version != "v1" || rows[0].Status != 200 || rows[0].InputTokens != 7 || rows[0].OutputTokens != 9 {
		t.Errorf("logged %+v, want one /v1/images/edits row of v1 with the usage 7/9", rows)
	}
}

// TestProxy_ImageEditsStream: "stream": "true" in the form streams the
// backend's events as they come, which openai-go's EditStreaming reads,
// and the completed event's usage is logged.
func TestProxy_ImageEditsStream(t *testing.T) {
	be := newEditBackend(t, "")
	log := &spyLog{}
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), Log: log, NoRetry: true})
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	stream := client.Images.EditStreaming(ctx, openai.ImageEditParams{
		Image:  openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader(editImage), "in.png", "image/png")},
		Prompt: "a red hat",
		Model:  "chat",
	})
	var types []string
	for stream.Next() {
		types = append(types, stream.Current().Type)
	}
	if err := stream.Err(); err != nil {
		t.Fatalf("stream: %v", err)
	}
	if strings.Join(types, ",") != "image_edit.partial_image,image_edit.completed" {
		t.Errorf("events %v, want the partial image and the completed one", types)
	}
	bodies, ctypes := be.received()
	if form := readForm(t, ctypes[0], bodies[0]); form["model"] != "up-v1" || form["stream"] != "true" {
		t.Errorf("the backend read model %q, stream %q", form["model"], form["stream"])
	}
	// The completed event's usage is the row's (streamUsage).
	if rows := log.all(); len(rows) != 1 || !rows[0].Stream || rows[0].Status != 200 || rows[0].ErrorClass != "" || rows[0].InputTokens != 7 || rows[0].OutputTokens != 9 {
		t.Errorf("logged %+v, want one streamed 200 with the usage 7/9", rows)
	}
}

// TestProxy_ImageEditsRetried: an edit the split sent to a failing v2 is
// retried on stable v1, which gets the same form with its own upstream
// model; the failed attempt is logged retried, as for any endpoint.
func TestProxy_ImageEditsRetried(t *testing.T) {
	be := newEditBackend(t, "up-v2")
	log := &spyLog{}
	_, url := MustProxy(t, proxy.Options{Routes: imageEditRoutes(t, be.URL, be.URL, 0), Log: log})
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var resp *http.Response
	_, err := client.Images.Edit(ctx, openai.ImageEditParams{
		Image:  openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader(editImage), "in.png", "image/png")},
		Prompt: "a red hat",
		Model:  "chat",
	}, option.WithResponseInto(&resp))
	if err != nil {
		t.Fatalf("edit: %v", err)
	}
	if v := resp.Header.Get("X-Model-Version"); v != "chat:v1" {
		t.Errorf("answered by %q, want the retry on chat:v1", v)
	}
	bodies, types := be.received()
	if len(bodies) != 2 {
		t.Fatalf("the backend got %d requests, want 2", len(bodies))
	}
	first, second := readForm(t, types[0], bodies[0]), readForm(t, types[1], bodies[1])
	if first["model"] != "up-v2" || second["model"] != "up-v1" || second["file:image"] != string(editImage) {
		t.Errorf("attempts' models %q then %q (image intact %v), want up-v2 then up-v1", first["model"], second["model"], second["file:image"] == string(editImage))
	}
	rows := log.all()
	if len(rows) != 2 || !rows[0].Retried || rows[0].Version != "v2" || rows[1].Version != "v1" || rows[1].Route != "retry" {
		b, _ := json.Marshal(rows)
		t.Errorf("logged %s, want v2's failure retried, then v1's answer", b)
	}
}

// TestProxy_ImageEditsBadForm: a form the gateway cannot route is a 400
// saying what is wrong, and one over max_body_bytes a 413, before any
// backend is asked.
func TestProxy_ImageEditsBadForm(t *testing.T) {
	be := newEditBackend(t, "")
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), NoRetry: true, MaxBodyBytes: 64 << 10})
	form := func(fields ...string) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		for i := 0; i+1 < len(fields); i += 2 {
			if fields[i] == "image" {
				fw, _ := mw.CreateFormFile("image", "in.png")
				fw.Write([]byte(fields[i+1]))
				continue
			}
			mw.WriteField(fields[i], fields[i+1])
		}
		mw.Close()
		return b.String(), mw.FormDataContentType()
	}
	for _, tc := range []struct {
		name, body, ctype string
		status            int
		says              string
	}{
		{"NoModel", "", "", 400, `no "model" field`},
		{"TwoModels", "", "", 400, `"model" more than once`},
		{"NoBoundary", "--x\r\n", "multipart/form-data", 400, "boundary"},
		{"Unclosed", "--x\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nchat", "multipart/form-data; boundary=x", 400, "not valid multipart/form-data"},
		// A part naming itself twice: the gateway's reader takes the first
		// Content-Disposition, Starlette's (FastAPI: LiteLLM, most Python
		// model servers) the last, so the backend would read a second
		// "model" the gateway never routed on (a client key's scope
		// bypassed, the split's upstream model replaced).
		{"TwoDispositions", "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nchat\r\n--B\r\n" +
			"Content-Disposition: form-data; name=\"prompt\"\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nother\r\n--B--\r\n",
			"multipart/form-data; boundary=B", 400, "Content-Disposition more than once"},
		// Header lines ended by LF alone: Go's reader ends the headers at
		// the blank LF line and names the part "prompt", where
		// python-multipart reads one header value up to the CR, whose
		// last parameter is name="model": refused, as the two would read
		// different parts.
		{"BareLF", "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nchat\r\n--B\r\n" +
			"Content-Disposition: form-data; name=\"prompt\"\n\nContent-Disposition: form-data; name=\"model\"\r\n\r\nother\r\n--B--\r\n",
			"multipart/form-data; boundary=B", 400, "CRLF"},
		// A name RFC 2231-encoded beside a plain one: Go's reader drops
		// one with an empty or unknown charset and keeps name="prompt",
		// python-multipart (Starlette's, vLLM's) takes the encoded one
		// whatever its charset, "model", after the routed part, so the
		// backend would read a model the gateway never routed on.
		{"EncodedName", "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nchat\r\n--B\r\n" +
			"Content-Disposition: form-data; name=\"prompt\"; name*=''model\r\n\r\nother\r\n--B--\r\n",
			"multipart/form-data; boundary=B", 400, "name*"},
		{"EncodedNameCharset", "--B\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nchat\r\n--B\r\n" +
			"Content-Disposition: form-data; name=\"prompt\";NAME*=latin-1''model\r\n\r\nother\r\n--B--\r\n",
			"multipart/form-data; boundary=B", 400, "name*"},
		{"TooLarge", "", "", 413, "max_body_bytes"},
		{"UnknownModel", "", "", 404, "nope"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			body, ctype := tc.body, tc.ctype
			switch tc.name {
			case "NoModel":
				body, ctype = form("image", "x", "prompt", "p")
			case "TwoModels":
				body, ctype = form("model", "chat", "image", "x", "model", "chat:v1")
			case "TooLarge":
				body, ctype = form("image", strings.Repeat("x", 70<<10), "model", "chat")
			case "UnknownModel":
				body, ctype = form("image", "x", "model", "nope")
			}
			resp, got := post(t, url, "/v1/images/edits", body, "Content-Type", ctype)
			var e struct {
				Error struct{ Message string }
			}
			json.Unmarshal([]byte(got), &e)
			if resp.StatusCode != tc.status || !strings.Contains(e.Error.Message, tc.says) {
				t.Errorf("status %d %s, want %d saying %q", resp.StatusCode, got, tc.status, tc.says)
			}
		})
	}
	if bodies, _ := be.received(); len(bodies) != 0 {
		t.Errorf("the backend was sent %d bad forms", len(bodies))
	}
}

// TestProxy_ImageEditsMirrored: a shadow mirrors an image edit as it
// mirrors a generation: the candidate gets the client's form byte for
// byte but for the model, its own upstream model (the form read again in
// the shadow worker, mirroredFields), and the pair compares status and
// latency, with no text.
func TestProxy_ImageEditsMirrored(t *testing.T) {
	stable, cand := newEditBackend(t, ""), newEditBackend(t, "")
	p, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, stable.URL, cand.URL), NoRetry: true})
	p.SetShadow("chat", "chat:v2", 1)
	var sent []byte
	client := openai.NewClient(option.WithBaseURL(url+"/v1/"), option.WithAPIKey("unused"), option.WithMaxRetries(0), option.WithMiddleware(captureBody(&sent)))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := client.Images.Edit(ctx, openai.ImageEditParams{
		Image:  openai.ImageEditParamsImageUnion{OfFile: openai.File(bytes.NewReader(editImage), "in.png", "image/png")},
		Prompt: "a red hat",
		Model:  "chat",
	}); err != nil {
		t.Fatalf("edit: %v", err)
	}
	waitFor(t, "the mirrored edit's pair", func() bool { return len(p.ShadowPairs("chat", 0)) == 1 })
	pr := p.ShadowPairs("chat", 0)[0]
	if pr.Primary.Status != 200 || pr.Shadow.Status != 200 || pr.Shadow.Error != "" || pr.Shadow.Text != "" {
		t.Errorf("pair %+v, want both sides 200 with no text", pr)
	}
	field := "Content-Disposition: form-data; name=\"model\"\r\n\r\n"
	for _, side := range []struct {
		be       *editBackend
		upstream string
	}{{stable, "up-v1"}, {cand, "up-v2"}} {
		bodies, types := side.be.received()
		if len(bodies) != 1 {
			t.Fatalf("%s: the backend got %d requests, want 1", side.upstream, len(bodies))
		}
		want := bytes.Replace(sent, []byte(field+"chat\r\n"), []byte(field+side.upstream+"\r\n"), 1)
		if bytes.Equal(want, sent) || !bytes.Equal(bodies[0], want) {
			t.Errorf("%s: the backend got a form of %d bytes that is not the client's (%d bytes) with model %s (read as model %q)",
				side.upstream, len(bodies[0]), len(sent), side.upstream, readForm(t, types[0], bodies[0])["model"])
		}
	}
}

// TestProxy_ImageEditsCompressed: a form sent with a Content-Encoding is a
// 400 saying the gateway does not read a compressed body, as a JSON
// body's is, not that the form is malformed (which sent the client to
// look for a fault in a form its library wrote well).
func TestProxy_ImageEditsCompressed(t *testing.T) {
	be := newEditBackend(t, "")
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), NoRetry: true})
	var form bytes.Buffer
	mw := multipart.NewWriter(&form)
	fw, _ := mw.CreateFormFile("image", "in.png")
	fw.Write(editImage)
	mw.WriteField("prompt", "a red hat")
	mw.WriteField("model", "chat")
	mw.Close()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(form.Bytes())
	zw.Close()
	resp, got := post(t, url, "/v1/images/edits", gz.String(), "Content-Type", mw.FormDataContentType(), "Content-Encoding", "gzip")
	if resp.StatusCode != 400 || !strings.Contains(got, "compressed (Content-Encoding: gzip)") {
		t.Errorf("status %d %s, want 400 saying the body is compressed", resp.StatusCode, got)
	}
	if bodies, _ := be.received(); len(bodies) != 0 {
		t.Errorf("the backend was sent %d compressed forms", len(bodies))
	}
}

// TestProxy_ImageEditsManyParts: a form of more parts than the image edit
// API has use for (16 images, a mask and a dozen fields) is refused past
// 1000, the bound of Go's multipart.Reader.ReadForm and of Starlette's
// max_fields and max_files: read one by one (headers parsed, a reader
// made), the tiny parts that fill max_body_bytes made each request cost
// the gateway about 100 times its size in garbage (160 000 parts in 8 MiB:
// 800 MB, most of a second of a core), a client's cheap way to starve the
// chat traffic beside it. A form of 1000 parts is served.
func TestProxy_ImageEditsManyParts(t *testing.T) {
	be := newEditBackend(t, "")
	_, url := MustProxy(t, proxy.Options{Routes: MustRoutes(t, be.URL, ""), NoRetry: true})
	form := func(parts int) (string, string) {
		var b bytes.Buffer
		mw := multipart.NewWriter(&b)
		fw, _ := mw.CreateFormFile("image", "in.png")
		fw.Write(editImage[:100])
		mw.WriteField("prompt", "a red hat")
		for range parts - 3 {
			mw.WriteField("x", "1")
		}
		mw.WriteField("model", "chat")
		mw.Close()
		return b.String(), mw.FormDataContentType()
	}
	body, ctype := form(1000)
	if resp, got := post(t, url, "/v1/images/edits", body, "Content-Type", ctype); resp.StatusCode != 200 {
		t.Errorf("1000 parts: status %d %s, want 200", resp.StatusCode, got)
	}
	body, ctype = form(1001)
	if resp, got := post(t, url, "/v1/images/edits", body, "Content-Type", ctype); resp.StatusCode != 400 || !strings.Contains(got, "more than 1000 parts") {
		t.Errorf("1001 parts: status %d %s, want 400 saying more than 1000 parts", resp.StatusCode, got)
	}
	if bodies, _ := be.received(); len(bodies) != 1 {
		t.Errorf("the backend was sent %d forms, want the one of 1000 parts", len(bodies))
	}
}

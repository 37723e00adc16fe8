package fakellm

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"math"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxImageSide bounds an image's width and height, and maxImages the
// images of one request (the OpenAI API's n goes to 10).
const (
	maxImageSide = 4096
	maxImages    = 10
)

// imageRequest is what an images request (a generation's JSON, an
// edit's form) says.
type imageRequest struct {
	Prompt         *string `json:"prompt"`
	N              int     `json:"n"`
	Size           string  `json:"size"`
	ResponseFormat string  `json:"response_format"`
	OutputFormat   string  `json:"output_format"`
	Stream         bool    `json:"stream"`
	PartialImages  int     `json:"partial_images"`
	// images are the bytes of an edit's image files (its mask apart),
	// each of which counts as input tokens.
	images []int
	// variation says the request asks for variations of its image, which
	// has no prompt: its colours are drawn from the image (imageSum, the
	// hash of its first image's bytes).
	variation bool
	imageSum  string
}

// images serves /v1/images/generations: n images (1 by default) of size
// ("1024x1024" by default, or "auto"), each of one colour drawn from the
// prompt and its index, as PNG or JPEG (output_format), given as b64_json
// (the default, as gpt-image-1 answers) or, with "response_format": "url",
// as a URL on this server that serves the same image. usage counts the
// prompt's tokens as input and one output token per thousand pixels.
// With "stream": true the images come as events (imageStream).
func (s *Server) images(w http.ResponseWriter, r *http.Request) {
	run, cfg := s.run.Load(), s.state.Load()
	if run.stopped() {
		panic(http.ErrAbortHandler)
	}
	st := getState()
	defer putState(st)
	if !s.begin(w, r, run, cfg, st) {
		return
	}
	start := time.Now()
	o, _ := s.draw(r, cfg, st)
	var req imageRequest
	if err := json.Unmarshal(st.body, &req); err != nil {
		badRequest(w, st, "invalid image request: "+err.Error())
		return
	}
	s.answerImages(w, r, run, st, &o, &req, "image_generation", start)
}

// answerImages answers an images request, a generation's or an edit's
// (event names prefixed kind), with its drawn outcome o: a request it
// cannot take at once, a failure or a whole answer at o's latency from
// start, a stream's events spread over it (imageStream).
func (s *Server) answerImages(w http.ResponseWriter, r *http.Request, run *runState, st *reqState, o *Outcome, req *imageRequest, kind string, start time.Time) {
	prompt, seed := "", req.imageSum
	if !req.variation {
		if req.Prompt == nil || *req.Prompt == "" {
			badRequest(w, st, `an image request takes a "prompt"`)
			return
		}
		prompt, seed = *req.Prompt, *req.Prompt
	}
	n := req.N
	if n == 0 {
		n = 1
	}
	if n < 1 || n > maxImages {
		badRequest(w, st, "n must be from 1 to "+strconv.Itoa(maxImages))
		return
	}
	width, height, ok := imageSize(req.Size)
	if !ok {
		badRequest(w, st, `size must be "auto" or WIDTHxHEIGHT, each side from 16 to `+strconv.Itoa(maxImageSide)+`, not `+strconv.Quote(req.Size))
		return
	}
	format := req.OutputFormat
	if format == "" {
		format = "png"
	}
	if format != "png" && format != "jpeg" {
		badRequest(w, st, `fakellm makes "png" and "jpeg" images, not `+strconv.Quote(format))
		return
	}
	if req.ResponseFormat != "" && req.ResponseFormat != "b64_json" && req.ResponseFormat != "url" {
		badRequest(w, st, `response_format is "b64_json" or "url", not `+strconv.Quote(req.ResponseFormat))
		return
	}
	if req.Stream && req.ResponseFormat == "url" {
		badRequest(w, st, `a streamed image comes as b64_json: leave response_format out`)
		return
	}
	if req.PartialImages < 0 || req.PartialImages > 3 {
		badRequest(w, st, "partial_images must be from 0 to 3")
		return
	}
	if !o.OK() {
		if s.pause(r, st, run, time.Until(start.Add(o.Latency))) {
			writeFailure(w, st, o)
		}
		return
	}
	in, textIn := 0, 0
	if prompt != "" {
		in = textTokens(prompt)
		textIn = in
	}
	for _, b := range req.images {
		in += min(765, (b+3)/4) // an image's input, as a vision model charges one
	}
	out := n * ((width*height + 999) / 1000)
	size := strconv.Itoa(width) + "x" + strconv.Itoa(height)
	usage := map[string]any{
		"input_tokens": in, "output_tokens": out, "total_tokens": in + out,
		"input_tokens_details": map[string]int{"text_tokens": textIn, "image_tokens": in - textIn},
	}
	data := make([]map[string]string, n)
	for i := range data {
		c := imageColor(seed, i)
		data[i] = map[string]string{}
		if !req.variation {
			data[i]["revised_prompt"] = prompt
		}
		if req.ResponseFormat == "url" {
			data[i]["url"] = fmt.Sprintf("http://%s/images/%02x%02x%02x/%dx%d.%s", r.Host, c.R, c.G, c.B, width, height, format)
			continue
		}
		img, err := encodeImage(c, width, height, format)
		if err != nil {
			http.Error(w, "fakellm: "+err.Error(), http.StatusInternalServerError)
			return
		}
		data[i]["b64_json"] = base64.StdEncoding.EncodeToString(img)
	}
	if req.Stream {
		s.imageStream(w, r, run, st, kind, data, req.PartialImages, size, format, usage, start.Add(o.Latency))
		return
	}
	if !s.pause(r, st, run, time.Until(start.Add(o.Latency))) {
		return
	}
	writeJSON(w, map[string]any{
		"created":       time.Now().Unix(),
		"data":          data,
		"output_format": format,
		"size":          size,
		"usage":         usage,
	})
}

// imageStream sends images as the OpenAI API streams them: for each image,
// partial KIND.partial_image events (partial_image_index 0 on), then its
// KIND.completed event with the usage (the request's, on each); KIND is
// image_generation or image_edit. The headers go at once, and the events
// are spread evenly up to end (the request's drawn latency), the last
// then, as a whole answer would come. A partial image here is the final
// one, as a one-colour image has nothing to add.
func (s *Server) imageStream(w http.ResponseWriter, r *http.Request, run *runState, st *reqState, kind string, data []map[string]string, partials int, size, format string, usage map[string]any, end time.Time) {
	h := w.Header()
	h["Content-Type"] = ctSSE
	h["Cache-Control"] = noCache
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	total := len(data) * (partials + 1)
	span := time.Until(end)
	begun := time.Now()
	sent := 0
	for _, d := range data {
		for k := 0; k <= partials; k++ {
			sent++
			if !s.pause(r, st, run, time.Until(begun.Add(span*time.Duration(sent)/time.Duration(total)))) {
				return
			}
			typ := kind + ".completed"
			ev := map[string]any{
				"type": typ, "b64_json": d["b64_json"], "created_at": time.Now().Unix(), "size": size,
				"quality": "auto", "background": "opaque", "output_format": format,
			}
			if k < partials {
				typ = kind + ".partial_image"
				ev["type"], ev["partial_image_index"] = typ, k
			} else {
				ev["usage"] = usage
			}
			b, _ := json.Marshal(ev)
			if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, b); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
		}
	}
}

// imageSize parses an images request's size.
func imageSize(size string) (w, h int, ok bool) {
	if size == "" || size == "auto" {
		return 1024, 1024, true
	}
	ws, hs, found := strings.Cut(size, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if !found || err1 != nil || err2 != nil || w < 16 || h < 16 || w > maxImageSide || h > maxImageSide {
		return 0, 0, false
	}
	return w, h, true
}

// imageColor is the colour of image i of prompt.
func imageColor(prompt string, i int) color.RGBA {
	v := uint32(hash01(prompt, strconv.Itoa(i)) * (1 << 24))
	return color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}
}

// encodeImage returns an image of one colour, encoded.
func encodeImage(c color.RGBA, w, h int, format string) ([]byte, error) {
	img := image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{c})
	var b bytes.Buffer
	var err error
	if format == "jpeg" {
		err = jpeg.Encode(&b, img, nil)
	} else {
		err = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&b, img)
	}
	return b.Bytes(), err
}

// imageFile serves GET /images/RRGGBB/WxH.FORMAT, the URL an images
// request with "response_format": "url" is given.
func (s *Server) imageFile(w http.ResponseWriter, r *http.Request, rest string) {
	hex, file, _ := strings.Cut(rest, "/")
	dims, format, _ := strings.Cut(file, ".")
	v, err := strconv.ParseUint(hex, 16, 32)
	width, height, ok := imageSize(dims)
	if r.Method != http.MethodGet || len(hex) != 6 || err != nil || !ok || dims == "auto" || (format != "png" && format != "jpeg") {
		http.NotFound(w, r)
		return
	}
	img, err := encodeImage(color.RGBA{R: uint8(v >> 16), G: uint8(v >> 8), B: uint8(v), A: 0xff}, width, height, format)
	if err != nil {
		http.Error(w, "fakellm: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "image/"+format)
	_, _ = w.Write(img)
}

// Speech: 24 kHz mono, as the OpenAI API's speech is.
const (
	speechRate        = 24000
	speechWordsPerSec = 2.5
	maxSpeechInput    = 4096
	// mp3Frame is a silent MPEG-2 Layer III frame: 24 kHz, 32 kbit/s,
	// mono, 576 samples in 96 bytes (a header, then side information and
	// main data all zero: no sound).
	mp3FrameBytes   = 96
	mp3FrameSamples = 576
)

var speechTypes = map[string]string{"mp3": "audio/mpeg", "wav": "audio/wav", "pcm": "audio/pcm"}

// speech serves /v1/audio/speech: audio as long as the input takes to say
// (2.5 words a second at speed 1), as response_format asks: "mp3" (the
// default; silent frames), "wav" or "pcm" (16-bit little-endian at 24
// kHz; a tone whose pitch is drawn from the voice). The answer streams as
// speech is made, as OpenAI's does: its first part at the time to first
// token, then one part per word of the input at tokens_per_second (all at
// once when that is 0). With "stream_format": "sse" it comes as
// speech.audio.delta events of base64 audio and a speech.audio.done event
// with usage. Failures come after the drawn latency, as chat's do.
func (s *Server) speech(w http.ResponseWriter, r *http.Request) {
	run, cfg := s.run.Load(), s.state.Load()
	if run.stopped() {
		panic(http.ErrAbortHandler)
	}
	st := getState()
	defer putState(st)
	if !s.begin(w, r, run, cfg, st) {
		return
	}
	start := time.Now()
	o, _ := s.draw(r, cfg, st)
	var req struct {
		Input          *string  `json:"input"`
		Voice          any      `json:"voice"`
		ResponseFormat string   `json:"response_format"`
		Speed          *float64 `json:"speed"`
		StreamFormat   string   `json:"stream_format"`
	}
	if err := json.Unmarshal(st.body, &req); err != nil {
		badRequest(w, st, "invalid speech request: "+err.Error())
		return
	}
	format := req.ResponseFormat
	if format == "" {
		format = "mp3"
	}
	speed := 1.0
	if req.Speed != nil {
		speed = *req.Speed
	}
	switch {
	case req.Input == nil || *req.Input == "" || len(*req.Input) > maxSpeechInput:
		badRequest(w, st, `speech takes an "input" of 1 to `+strconv.Itoa(maxSpeechInput)+` characters`)
		return
	case req.Voice == nil:
		badRequest(w, st, `speech takes a "voice"`)
		return
	case speechTypes[format] == "":
		badRequest(w, st, `fakellm makes speech as "mp3", "wav" or "pcm", not `+strconv.Quote(format))
		return
	case speed < 0.25 || speed > 4:
		badRequest(w, st, "speed must be from 0.25 to 4")
		return
	case req.StreamFormat != "" && req.StreamFormat != "audio" && req.StreamFormat != "sse":
		badRequest(w, st, `stream_format is "audio" or "sse", not `+strconv.Quote(req.StreamFormat))
		return
	}
	if !o.OK() {
		if s.pause(r, st, run, o.Latency) {
			writeFailure(w, st, &o)
		}
		return
	}
	voice, _ := json.Marshal(req.Voice)
	nwords := max(CountTokens(*req.Input), 1)
	seconds := max(float64(nwords)/speechWordsPerSec/speed, 0.5)
	audio, parts := synthesize(format, string(voice), seconds, nwords)
	sse := req.StreamFormat == "sse"
	h := w.Header()
	if sse {
		h["Content-Type"] = ctSSE
		h["Cache-Control"] = noCache
	} else {
		h.Set("Content-Type", speechTypes[format])
		h.Set("Content-Length", strconv.Itoa(len(audio)))
	}
	fl, _ := w.(http.Flusher)
	prev := 0
	for i, end := range parts {
		wait := time.Until(start.Add(o.TTFT + time.Duration(i)*o.TokenInterval))
		if (i == 0 || o.TokenInterval > 0) && !s.pause(r, st, run, wait) {
			return
		}
		b := audio[prev:end]
		prev = end
		if sse {
			b = append(append([]byte(`data: {"type":"speech.audio.delta","audio":"`), base64.StdEncoding.EncodeToString(b)...), "\"}\n\n"...)
		}
		if _, err := w.Write(b); err != nil {
			return
		}
		if fl != nil {
			fl.Flush()
		}
	}
	if sse {
		in, out := textTokens(*req.Input), len(parts)
		_, _ = fmt.Fprintf(w, "data: {\"type\":\"speech.audio.done\",\"usage\":{\"input_tokens\":%d,\"output_tokens\":%d,\"total_tokens\":%d}}\n\n", in, out, in+out)
	}
}

// synthesize returns seconds of audio in format, and where each of its
// parts (one a word) ends: at frame or sample boundaries.
func synthesize(format, voice string, seconds float64, nparts int) ([]byte, []int) {
	var audio []byte
	unit, head := 2, 0 // bytes a sample, bytes before the first
	if format == "mp3" {
		frames := int(math.Ceil(seconds * speechRate / mp3FrameSamples))
		audio = make([]byte, frames*mp3FrameBytes)
		for f := range frames {
			copy(audio[f*mp3FrameBytes:], []byte{0xff, 0xf3, 0x44, 0xc0})
		}
		unit = mp3FrameBytes
	} else {
		samples := int(seconds * speechRate)
		if format == "wav" {
			audio = wavHeader(samples)
			head = len(audio)
		}
		pitch := 120 + 160*hash01(voice)
		for i := range samples {
			v := int16(8000 * math.Sin(2*math.Pi*pitch*float64(i)/speechRate))
			audio = binary.LittleEndian.AppendUint16(audio, uint16(v))
		}
	}
	units := (len(audio) - head) / unit
	nparts = min(nparts, units)
	parts := make([]int, nparts)
	for i := range parts {
		parts[i] = head + (i+1)*units/nparts*unit
	}
	parts[nparts-1] = len(audio)
	return audio, parts
}

// wavHeader is the header of a WAV file of samples 16-bit mono samples
// at speechRate.
func wavHeader(samples int) []byte {
	data := uint32(samples * 2)
	b := make([]byte, 0, 44+samples*2)
	b = append(b, "RIFF"...)
	b = binary.LittleEndian.AppendUint32(b, 36+data)
	b = append(b, "WAVEfmt "...)
	b = binary.LittleEndian.AppendUint32(b, 16)
	b = binary.LittleEndian.AppendUint16(b, 1) // PCM
	b = binary.LittleEndian.AppendUint16(b, 1) // mono
	b = binary.LittleEndian.AppendUint32(b, speechRate)
	b = binary.LittleEndian.AppendUint32(b, speechRate*2)
	b = binary.LittleEndian.AppendUint16(b, 2)
	b = binary.LittleEndian.AppendUint16(b, 16)
	b = append(b, "data"...)
	return binary.LittleEndian.AppendUint32(b, data)
}

// imageEdits serves /v1/images/edits as images serves a generation, from a
// multipart form (the image files, an optional mask, the prompt and the
// settings as fields, as the OpenAI SDKs send it) or a JSON body naming
// its images by URL ("images": [{"image_url": …}]). Each image file counts
// as input tokens, as a vision model charges for one (765 at most); the
// images made are drawn from the prompt, as a generation's are. Its
// streamed events are image_edit.partial_image and image_edit.completed.
func (s *Server) imageEdits(w http.ResponseWriter, r *http.Request) {
	run, cfg := s.run.Load(), s.state.Load()
	if run.stopped() {
		panic(http.ErrAbortHandler)
	}
	st := getState()
	defer putState(st)
	var req imageRequest
	var form func(*reqState) error
	if boundary, ok := formBoundary(r); ok {
		form = func(st *reqState) error { return readEditForm(st, boundary, &req) }
	}
	if !s.beginWith(w, r, run, cfg, st, form) {
		return
	}
	start := time.Now()
	o, _ := s.draw(r, cfg, st)
	if form == nil {
		var body struct {
			Images []json.RawMessage `json:"images"`
		}
		if err := json.Unmarshal(st.body, &req); err != nil {
			badRequest(w, st, "invalid image edit request: "+err.Error())
			return
		}
		_ = json.Unmarshal(st.body, &body)
		for range body.Images {
			req.images = append(req.images, 765<<2) // by reference: the full charge
		}
	}
	if len(req.images) == 0 {
		badRequest(w, st, `an image edit takes an "image" file (or JSON "images")`)
		return
	}
	s.answerImages(w, r, run, st, &o, &req, "image_edit", start)
}

// readEditForm reads an image edit's (or variation's) multipart form from
// st.body into req, and its model field into st.req.Model.
func readEditForm(st *reqState, boundary string, req *imageRequest) error {
	return readFormParts(st, boundary, func(name string, file bool, v []byte) error {
		if file {
			if name == "image" || name == "image[]" {
				if len(req.images) == 0 {
					req.imageSum = strconv.FormatUint(fnv64(v), 16)
				}
				req.images = append(req.images, len(v))
			}
			return nil
		}
		val := string(v)
		switch name {
		case "prompt":
			req.Prompt = &val
		case "n", "partial_images":
			i, err := strconv.Atoi(val)
			if err != nil {
				return fmt.Errorf("%s must be an integer, not %q", name, val)
			}
			if name == "n" {
				req.N = i
			} else {
				req.PartialImages = i
			}
		case "size":
			req.Size = val
		case "response_format":
			req.ResponseFormat = val
		case "output_format":
			req.OutputFormat = val
		case "stream":
			b, err := formBool(name, val)
			req.Stream = b
			return err
		}
		return nil
	})
}

// readFormParts reads the multipart form in st.body, with boundary: its
// "model" field into st.req.Model (as the JSON string a body's would be),
// and each other part, its name, whether it is a file and its bytes, to
// part, whose error ends the read.
func readFormParts(st *reqState, boundary string, part func(name string, file bool, v []byte) error) error {
	st.req = request{}
	if boundary == "" {
		return errors.New("no boundary in the Content-Type")
	}
	mr := multipart.NewReader(bytes.NewReader(st.body), boundary)
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		v, err := io.ReadAll(p)
		if err != nil {
			return err
		}
		name, file := p.FormName(), p.FileName() != ""
		if name == "model" && !file {
			st.req.Model = appendJSONString(nil, string(v))
			continue
		}
		if err := part(name, file, v); err != nil {
			return err
		}
	}
}

// formBool reads a form field's true or false.
func formBool(name, val string) (bool, error) {
	b, err := strconv.ParseBool(val)
	if err != nil {
		return false, fmt.Errorf("%s must be true or false, not %q", name, val)
	}
	return b, nil
}

package proxy

import (
	"bufio"
	"bytes"
	"mime"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
)

// The paths that take a multipart/form-data body: files, and the settings
// as form fields. An image edit (the image files, the mask, the prompt)
// may also, as the OpenAI API takes it, be a JSON body naming its images
// by URL or file id; an image variation (one image), a transcription and
// a translation (one audio file, as vLLM serves them for Whisper-type
// models) are forms. A form is read by readFormFields, a JSON body on any
// of them as any other.
const (
	pathImageEdits      = "/v1/images/edits"
	pathImageVariations = "/v1/images/variations"
	pathTranscriptions  = "/v1/audio/transcriptions"
	pathTranslations    = "/v1/audio/translations"
)

// isFormPath reports whether path takes a multipart/form-data body.
func isFormPath(path string) bool {
	switch path {
	case pathImageEdits, pathImageVariations, pathTranscriptions, pathTranslations:
		return true
	}
	return false
}

// isForm reports whether contentType says multipart/form-data.
func isForm(contentType string) bool {
	const mt = "multipart/form-data"
	return len(contentType) >= len(mt) && strings.EqualFold(contentType[:len(mt)], mt)
}

// maxFormParts bounds a form's parts, as Go's multipart.Reader.ReadForm
// and Starlette (max_fields, max_files) bound theirs: an image edit has 16
// images at most, a mask and a dozen fields (a transcription one file and
// fewer fields), and each part costs a parse
// of its headers, so a body of tiny parts up to max_body_bytes cost the
// gateway about 100 times its size in garbage.
const maxFormParts = 1000

// readFormFields reads what the router needs from a multipart/form-data
// body (RFC 7578): the "model" field, where its value lies in the body
// (model.Index, for rewriteFormModel), "stream" and "user", and the
// files' sizes, each an image for the estimate of an abandoned request's
// prompt (an audio file too: imageTokens at most). The whole body is in memory already (readBody, bounded by
// max_body_bytes), so the model may come after the files, as the OpenAI
// SDKs send it (openai-go writes the image before the model), and nothing
// is decoded or copied: a file's bytes are passed over, and the body
// reaches the backend as it came, but for the model's value. LiteLLM
// reads such a form whole too (FastAPI's form parser) and routes by its
// "model".
//
// Parts are delimited as RFC 2046 says, by CRLF "--" boundary; a body
// that is not such a form (no boundary, a part without its headers' end,
// no closing delimiter) is refused with what is wrong, rather than passed
// on for the backend to read differently than the router did.
func readFormFields(body []byte, contentType string) (fields, error) {
	var f fields
	_, params, err := mime.ParseMediaType(contentType)
	boundary := params["boundary"]
	if err != nil || boundary == "" {
		return f, sluice.Errorf(sluice.CodeBadRequest, "the request's Content-Type is multipart/form-data without a valid boundary parameter: send the form as an HTTP library or the OpenAI SDK writes it")
	}
	dash := "--" + boundary
	bad := func(what string) error {
		return sluice.Errorf(sluice.CodeBadRequest, "the request body is not valid multipart/form-data (%s): send the form as an HTTP library or the OpenAI SDK writes it", what)
	}
	pos := 0
	if !bytes.HasPrefix(body, []byte(dash)) {
		i := bytes.Index(body, []byte("\r\n"+dash))
		if i < 0 {
			return f, bad("it has no part opening with the Content-Type's boundary")
		}
		pos = i + 2 // past a preamble, which is ignored
	}
	pos += len(dash)
	delim := []byte("\r\n" + dash)
	models, streams := 0, 0
	for parts := 0; ; parts++ {
		if bytes.HasPrefix(body[pos:], []byte("--")) {
			// The closing delimiter; an epilogue after it is ignored.
			f.formClose, f.formDash = pos-len(dash)-2, len(dash)
			break
		}
		if parts == maxFormParts {
			return f, sluice.Errorf(sluice.CodeBadRequest, "the form has more than %d parts: send the files and the fields the API takes, each once", maxFormParts)
		}
		for pos < len(body) && (body[pos] == ' ' || body[pos] == '\t') {
			pos++ // transport padding
		}
		if !bytes.HasPrefix(body[pos:], []byte("\r\n")) {
			return f, bad("a boundary line does not end with CRLF, or the body ends without its closing boundary")
		}
		pos += 2
		var head []byte
		if bytes.HasPrefix(body[pos:], []byte("\r\n")) {
			pos += 2 // a part without headers
		} else {
			k := bytes.Index(body[pos:], []byte("\r\n\r\n"))
			if k < 0 {
				return f, bad("a part's headers do not end")
			}
			head = body[pos : pos+k+4]
			pos += k + 4
		}
		k := bytes.Index(body[pos:], delim)
		if k < 0 {
			return f, bad("a part does not end with the boundary")
		}
		start, end := pos, pos+k
		pos = end + len(delim)
		name, file, err := partName(head)
		if err != nil {
			return f, bad(err.Error())
		}
		value := body[start:end]
		switch {
		case file:
			f.images.bytes += len(value)
			f.images.tokens += min(imageTokens, (len(value)+bytesPerToken-1)/bytesPerToken)
		case name == "model":
			if models++; models > 1 {
				f.dupModel = true
				continue
			}
			s := string(value)
			f.model = gjson.Result{Type: gjson.String, Raw: s, Str: s, Index: start}
		case name == keyStream:
			if streams++; streams > 1 {
				f.dupStream = keyStream
				continue
			}
			f.stream, _ = strconv.ParseBool(strings.TrimSpace(string(value)))
		case name == "user":
			f.user = string(value)
		case name == formStreamUsage:
			f.formUsage = true
		}
	}
	f.form = true
	return f, nil
}

// partName returns the form field name of a part's headers (head, ending
// in its blank line), and whether the part is a file (its
// Content-Disposition has a filename).
func partName(head []byte) (name string, file bool, err error) {
	if head == nil {
		return "", false, errString("a part has no Content-Disposition")
	}
	// Readers differ on what the form leaves ambiguous: Go's ends a line
	// at LF and keeps the first of a repeated header, python-multipart
	// (Starlette, FastAPI: LiteLLM and most Python model servers) ends one
	// at CR and keeps the last. Either way a backend could read a part as
	// "model" that the gateway read as another field, and take a model the
	// gateway never routed on: such a part is refused.
	if n := bytes.Count(head, []byte("\r\n")); n != bytes.Count(head, []byte("\r")) || n != bytes.Count(head, []byte("\n")) {
		return "", false, errString("a part's header lines must end with CRLF, and hold no CR or LF alone")
	}
	// A reader the size of the headers, which it holds whole, rather than
	// bufio's 4 KiB per part.
	h, err := textproto.NewReader(bufio.NewReaderSize(bytes.NewReader(head), len(head))).ReadMIMEHeader()
	if err != nil {
		return "", false, errString("a part's headers are malformed")
	}
	if len(h["Content-Disposition"]) > 1 {
		return "", false, errString("a part has Content-Disposition more than once")
	}
	cd := h.Get("Content-Disposition")
	d, params, err := mime.ParseMediaType(cd)
	if err != nil || !strings.EqualFold(d, "form-data") {
		return "", false, errString("a part's Content-Disposition is not form-data with a name")
	}
	if encodedName(cd) {
		return "", false, errString(`a part's name is RFC 2231-encoded (name*=), which form readers decode differently: send name="…" alone`)
	}
	_, file = params["filename"]
	if params["name"] == "model" && file {
		return "", false, errString(`"model" is sent as a file; send it as a plain field`)
	}
	return params["name"], file, nil
}

// encodedName reports whether the Content-Disposition cd has a name*
// parameter (RFC 2231's encoded or continued value, which RFC 7578 does
// not use for a field's name). Readers decode it differently: Go's drops
// one with an empty or unknown charset and keeps the plain name,
// python-multipart (Starlette's) takes it whatever its charset, so a part
// the gateway reads as "prompt" a backend would read as "model". A
// filename* (a non-ASCII file name, as older Python clients send it) is
// no name* and passes.
func encodedName(cd string) bool {
	l := strings.ToLower(cd)
	for i := 0; ; i++ {
		k := strings.Index(l[i:], "name*")
		if k < 0 {
			return false
		}
		if i += k; i > 0 && (l[i-1] == ';' || l[i-1] == ' ' || l[i-1] == '\t') {
			return true
		}
	}
}

// errString is a constant error text.
type errString string

func (e errString) Error() string { return string(e) }

// formStreamUsage is vLLM's form field asking a streamed transcription's
// or translation's usage in its last chunk.
const formStreamUsage = "stream_include_usage"

// withFormStreamUsage returns the form body b (as sent to the backend,
// whose closing delimiter is at f's offset moved by shift) with a part
// stream_include_usage=true added before its closing delimiter, in the
// form's own boundary.
func withFormStreamUsage(b []byte, f *fields, shift int) []byte {
	at := f.formClose + shift
	if at < 0 || at+2+f.formDash > len(b) {
		return b
	}
	dash := b[at+2 : at+2+f.formDash]
	part := make([]byte, 0, len(b)+f.formDash+96)
	part = append(part, b[:at]...)
	part = append(part, "\r\n"...)
	part = append(part, dash...)
	part = append(part, "\r\nContent-Disposition: form-data; name=\""+formStreamUsage+"\"\r\n\r\ntrue"...)
	return append(part, b[at:]...)
}

// appendFormModel appends to dst the form body with the model field's
// value replaced by upstream, byte for byte otherwise: the boundary, the
// other parts and the files are the client's.
func appendFormModel(dst, body []byte, model gjson.Result, upstream string) []byte {
	dst = append(dst[:0], body[:model.Index]...)
	dst = append(dst, upstream...)
	return append(dst, body[model.Index+len(model.Raw):]...)
}

package proxy

import (
	"bytes"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"github.com/sluicehq/sluice"
)

// maxUpstreamErrorText bounds what of a backend's error body that is not
// OpenAI-shaped goes into the message the client gets.
const maxUpstreamErrorText = 512

// openAIErrorOf returns a backend's error answer (status 400 and above) in
// the OpenAI shape, {"error":{"message","type","param","code"}}, or nil when
// it has that shape already (as OpenAI, llama.cpp, Ollama and recent vLLM
// send it) or is encoded. The SDKs read the message from "error" alone:
// openai-go reads nothing from older vLLM's flat {"object":"error",
// "message":…}, TGI's {"error":"…"}, FastAPI's {"detail":…} or a proxy's
// HTML page, and the client was told "400 Bad Request" without the reason.
// Only error answers pay for this.
func openAIErrorOf(id string, status int, header http.Header, body []byte) []byte {
	if len(header["Content-Encoding"]) > 0 {
		return nil
	}
	var msg, code string
	if gjson.ValidBytes(body) {
		doc := gjson.ParseBytes(body)
		if doc.Get("error").IsObject() {
			return nil
		}
		switch m, e, d := doc.Get("message"), doc.Get("error"), doc.Get("detail"); {
		case m.Type == gjson.String && m.Str != "":
			msg = m.Str // vLLM before its OpenAI-shaped errors
		case e.Type == gjson.String && e.Str != "":
			msg = e.Str // TGI
		case d.Type == gjson.String && d.Str != "":
			msg = d.Str // FastAPI
		case d.Exists():
			msg = d.Raw // FastAPI's validation errors, a list
		default:
			msg = strings.TrimSpace(string(body))
		}
		if c := doc.Get("code"); c.Type == gjson.String {
			code = c.Str
		}
	} else if ct, _, _ := mime.ParseMediaType(header.Get("Content-Type")); ct == "text/plain" || ct == "" && utf8.Valid(body) && !bytes.Contains(body, []byte("<")) {
		msg = strings.TrimSpace(string(body))
	} else if len(body) > 0 {
		msg = "its answer was " + ct + ", not JSON"
	}
	msg = cleanText(msg, maxUpstreamErrorText)
	if msg == "" {
		msg = "no message"
	}
	msg = "the backend for " + id + " answered " + strconv.Itoa(status) + " " + http.StatusText(status) + ": " + msg
	typ := "api_error"
	switch {
	case status == http.StatusUnauthorized:
		typ = errorType(sluice.CodeUnauthorized)
	case status == http.StatusForbidden:
		typ = errorType(sluice.CodeForbidden)
	case status == http.StatusTooManyRequests:
		typ = errorType(sluice.CodeRateLimited)
	case status < 500:
		typ = errorType(sluice.CodeBadRequest)
	}
	b := make([]byte, 0, 96+len(msg))
	b = append(b, `{"error":{"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, typ)
	b = append(b, `,"param":null,"code":`...)
	if code != "" {
		b = appendJSONString(b, code)
	} else {
		b = append(b, "null"...)
	}
	return append(b, "}}\n"...)
}

// cleanText returns s as valid UTF-8 on one line, at most max bytes.
func cleanText(s string, max int) string {
	s = strings.Join(strings.Fields(strings.ToValidUTF8(s, "\uFFFD")), " ")
	if len(s) <= max {
		return s
	}
	i := max
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

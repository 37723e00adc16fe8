package proxy

import (
	"net/http"

	"github.com/sluicehq/sluice"
)

// writeError sends an OpenAI-shaped error: {"error":{"message","type","code"}}.
func writeError(w http.ResponseWriter, err error) {
	if e, ok := err.(*overLimitError); ok {
		writeOverLimit(w, e.k, e.wait)
		return
	}
	code := sluice.ErrorCode(err)
	msg := sluice.ErrorMessage(err)
	writeErrorCode(w, code, msg)
}

func writeErrorCode(w http.ResponseWriter, code sluice.Code, msg string) {
	WriteErrorStatus(w, code.HTTPStatus(), code, msg)
}

// writeCanceled answers a request whose client went before its answer
// came: 499, with a message. A client that left reads none of it (the
// write fails, at no cost to anyone), but one that only closed its sending
// side after pipelined requests (a TCP half-close, which the server takes
// for a hang-up, as net/http does) reads it in its request's place, where
// it got an empty 200 before.
func writeCanceled(w http.ResponseWriter) {
	writeErrorCode(w, sluice.CodeCanceled, "the request was canceled before its answer came: the client closed its connection, or its sending side (the server takes a half-close for the client leaving); send the request again and keep the connection open until the answer")
}

// WriteError sends err in the OpenAI error shape, with its code's status.
func WriteError(w http.ResponseWriter, err error) { writeError(w, err) }

// WriteErrorStatus sends an OpenAI-shaped error with the given HTTP status.
func WriteErrorStatus(w http.ResponseWriter, status int, code sluice.Code, msg string) {
	writeErrorTyped(w, status, code, errorType(code), string(code), msg)
}

// writeErrorTyped sends an OpenAI-shaped error whose "type" and "code"
// are typ and codeText (code is the span's error type).
func writeErrorTyped(w http.ResponseWriter, status int, code sluice.Code, typ, codeText, msg string) {
	b := make([]byte, 0, 128+len(msg))
	b = append(b, `{"error":{"message":`...)
	b = appendJSONString(b, msg)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, typ)
	b = append(b, `,"param":null,"code":`...)
	b = appendJSONString(b, codeText)
	b = append(b, "}}\n"...)
	if hs, ok := w.(*httpSpan); ok {
		hs.code = code // the span's error.type
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// errorType maps a code to the OpenAI error "type" clients switch on. A
// 403 (a client key's model outside its models, a token whose role may
// not call models) is "request_forbidden", the type of OpenAI's own
// refusal of a caller it knows (its region refusal; its refusal of a
// model a project may not use is typed invalid_request_error, code
// model_not_found); the SDKs raise a 403 as PermissionDeniedError by its
// status, whatever its type. "authentication_error" sent people to check
// a key that was valid.
func errorType(c sluice.Code) string {
	switch c {
	case sluice.CodeInvalid, sluice.CodeBadRequest, sluice.CodeNotFound, sluice.CodeGone, sluice.CodeTooLarge, sluice.CodeConflict:
		return "invalid_request_error"
	case sluice.CodeForbidden:
		return "request_forbidden"
	case sluice.CodeUnauthorized:
		return "authentication_error"
	case sluice.CodeRateLimited:
		return "rate_limit_error"
	default:
		return "api_error"
	}
}

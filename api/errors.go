package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/sluicehq/sluice"
)

// ErrorBody is the JSON envelope of every error response.
type ErrorBody struct {
	// Error describes what went wrong.
	Error ErrorDetail `json:"error"`
}

// ErrorDetail is the inside of an error response. Type and Code both hold
// the sluice.Code, Type for clients that expect the OpenAI error shape.
type ErrorDetail struct {
	// Message says what went wrong and what to do about it.
	Message string `json:"message"`
	// Type is the error code, as in OpenAI's error objects.
	Type sluice.Code `json:"type"`
	// Code is the error code.
	Code sluice.Code `json:"code"`
	// Fields names the offending request fields, when there are any.
	Fields []string `json:"fields,omitempty"`
}

// WriteError writes err as a JSON error response with the status its code
// maps to. Errors that are not a *sluice.Error are internal (500); their
// message is still shown, since only authenticated admins reach the
// handlers that produce them.
func WriteError(w http.ResponseWriter, err error) {
	code := sluice.ErrorCode(err)
	d := ErrorDetail{Message: sluice.ErrorMessage(err), Type: code, Code: code}
	var se *sluice.Error
	if errors.As(err, &se) {
		d.Fields = se.Fields
	}
	if code == sluice.CodeInternal {
		d.Message = "internal error: " + d.Message + ": see the server log, and retry once the cause is fixed"
	}
	if code == sluice.CodeUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="sluice"`)
	}
	writeJSON(w, code.HTTPStatus(), ErrorBody{Error: d})
}

// writeJSON writes v as the JSON response body with the status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client went away; nothing to do
}

// invalid returns a CodeInvalid error naming field.
func invalid(field, msg string) error {
	return &sluice.Error{Code: sluice.CodeInvalid, Message: msg, Fields: []string{field}}
}

// badRequest returns a CodeBadRequest error naming field.
func badRequest(field, msg string) error {
	e := &sluice.Error{Code: sluice.CodeBadRequest, Message: msg}
	if field != "" {
		e.Fields = []string{field}
	}
	return e
}

// jsonRaw marshals v for an audit entry.
func jsonRaw(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode audit entry: %w", err)
	}
	return b, nil
}

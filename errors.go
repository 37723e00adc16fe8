package sluice

import (
	"errors"
	"fmt"
)

// Code classifies an Error. Each code maps to exactly one HTTP status in the
// api package's table, and to an OpenAI error "type" in the data plane.
type Code string

// The error codes. A new code needs a row in api's status table.
const (
	CodeInvalid      Code = "invalid"          // the request is well-formed but breaks a rule (422)
	CodeBadRequest   Code = "bad_request"      // the request cannot be parsed (400)
	CodeNotFound     Code = "not_found"        // no such model, version, label or rollout (404)
	CodeGone         Code = "gone"             // the version is retired (410)
	CodeConflict     Code = "conflict"         // the change clashes with what is stored (409)
	CodeUnauthorized Code = "unauthorized"     // no or unknown credentials (401)
	CodeForbidden    Code = "forbidden"        // credentials lack the role (403)
	CodeTooLarge     Code = "too_large"        // the body exceeds the limit (413)
	CodeRateLimited  Code = "rate_limited"     // too many requests for this key (429)
	CodeUnavailable  Code = "unavailable"      // a dependency (store, every backend) is down (503)
	CodeUpstream     Code = "upstream_error"   // the backend failed (502)
	CodeTimeout      Code = "upstream_timeout" // the backend did not answer in time (504)
	CodeInternal     Code = "internal"         // a bug (500)
	// CodeCanceled: the client closed its connection (or its sending side)
	// before the answer; 499, nginx's status for it.
	CodeCanceled Code = "canceled"
)

// Error is the one error type Sluice returns to users. Message is a full
// sentence that says what went wrong and what to do about it.
type Error struct {
	Code    Code
	Message string
	// Fields names the offending fields, when there are any (for example the
	// fields that differ when an immutable version is re-registered).
	Fields []string
}

// Error implements the error interface.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, CodeInternal
// for any other non-nil error, and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the user-facing message of err: the *Error's message
// when there is one, else err.Error().
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return err.Error()
}

// statusOf is the one table from error code to HTTP status, used by the
// admin API and the data plane alike.
var statusOf = map[Code]int{
	CodeInvalid:      422,
	CodeBadRequest:   400,
	CodeNotFound:     404,
	CodeGone:         410,
	CodeConflict:     409,
	CodeUnauthorized: 401,
	CodeForbidden:    403,
	CodeTooLarge:     413,
	CodeRateLimited:  429,
	CodeUnavailable:  503,
	CodeUpstream:     502,
	CodeTimeout:      504,
	CodeInternal:     500,
	CodeCanceled:     499,
}

// HTTPStatus returns the HTTP status for code; 500 for an unknown code.
func (c Code) HTTPStatus() int {
	if s, ok := statusOf[c]; ok {
		return s
	}
	return 500
}

// CodeForStatus returns the code whose status is status, for clients that
// decode an error response; CodeInternal when none matches.
func CodeForStatus(status int) Code {
	for c, s := range statusOf {
		if s == status {
			return c
		}
	}
	return CodeInternal
}

package api

import (
	"bytes"
	"net/http"
	"regexp"

	"github.com/sluicehq/sluice"
)

// Redacted is what a URL's credentials (its user:password@ part) are
// replaced with for tokens that may not see them: http://REDACTED@host.
const Redacted = sluice.RedactedUserinfo

// SeesSecrets reports whether a token of role r may read the credentials in
// the backends' URLs: only a role that may set them (admin, which registers
// versions). Viewers and operators get them redacted everywhere the API and
// the dashboard show a URL.
func SeesSecrets(r sluice.Role) bool { return r.Allows(sluice.RoleAdmin) }

// userinfoRE finds the user:password@ part of a URL in JSON or text: a
// scheme, "://", then characters a userinfo may hold up to the last "@"
// before the authority ends (at "/", "?", "#", a space or the quote that
// ends a JSON string). A password may hold a literal "@": url.Parse, and
// so CheckEndpoint, splits the userinfo from the host at the last one. A
// backslash may appear, as JSON escapes some characters.
var userinfoRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://)[^\s"'/?#<>]+@`)

// RedactURLs returns b with the credentials of every URL in it replaced by
// Redacted. It returns b itself when there are none.
func RedactURLs(b []byte) []byte {
	if !bytes.Contains(b, []byte("@")) || !bytes.Contains(b, []byte("://")) {
		return b
	}
	return userinfoRE.ReplaceAll(b, []byte("${1}"+Redacted+"@"))
}

// RedactingWriter returns a ResponseWriter that writes through w with the
// URLs' credentials redacted from each Write. Every answer is written in
// one Write per JSON document (or event), so a URL is never cut between
// two. It keeps w's Flush for event streams.
func RedactingWriter(w http.ResponseWriter) http.ResponseWriter {
	return &redactingWriter{ResponseWriter: w}
}

type redactingWriter struct {
	http.ResponseWriter
}

func (w *redactingWriter) Write(b []byte) (int, error) {
	r := RedactURLs(b)
	if _, err := w.ResponseWriter.Write(r); err != nil {
		return 0, err
	}
	return len(b), nil
}

// FlushError sends what was written, and says when it could not (the
// client went away), as http.ResponseController's Flush reads it.
func (w *redactingWriter) FlushError() error {
	return http.NewResponseController(w.ResponseWriter).Flush()
}

// Flush is FlushError for callers that want an http.Flusher.
func (w *redactingWriter) Flush() { _ = w.FlushError() }

// Unwrap gives http.ResponseController the writer underneath.
func (w *redactingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

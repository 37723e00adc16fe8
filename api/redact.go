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

// jsonChar is a character of a URL as it stands in JSON or text: anything
// but what ends a URL there (a space, a quote, "<", ">"), "#" (where a
// fragment starts) and a backslash, except the JSON escapes \uXXXX (Go's
// encoder writes "<", ">" and "&" so, another encoder any character), \\
// (a backslash, which an endpoint's query may hold: without it a secret
// value was hidden only up to its first backslash, the rest shown) and \/.
// An escaped quote (\") ends the URL: CheckEndpoint refuses a quote in an
// endpoint, and a message quoting a URL (%q) escapes its quotes so.
const jsonChar = `(?:[^\s"'#<>\\]|\\u[0-9a-fA-F]{4}|\\\\|\\/)`

// queryRE finds the query of a URL in JSON or text: a scheme, "://", the
// rest of the URL up to its "?" (group 1), then the query (group 2), up
// to a "#" or the end of the URL.
var queryRE = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.\-]*://` + jsonChar + `*?\?)(` + jsonChar + `*)`)

// redactQuery redacts the values of the parameters of q, a URL's query as
// queryRE found it in JSON or text, whose names look secret
// (sluice.SecretQueryParam), keeping the separators as they were. The
// separators are "&" and "\u0026", as Go's JSON encoder writes "&"; q is
// read escape by escape, so the "\u0026" of an escaped backslash followed
// by "u0026" (a value holding \u0026, "\\u0026" in JSON) separates
// nothing.
func redactQuery(q []byte) []byte {
	out := make([]byte, 0, len(q)+16)
	param := func(p []byte) {
		if name, _, ok := bytes.Cut(p, []byte("=")); ok && sluice.SecretQueryParam(string(name)) {
			p = append(append(name[:len(name):len(name)], '='), Redacted...)
		}
		out = append(out, p...)
	}
	start := 0
	for i := 0; i < len(q); {
		n := 1 // the length of the character or escape at i
		sep := q[i] == '&'
		if q[i] == '\\' && i+1 < len(q) {
			n = 2
			if q[i+1] == 'u' {
				n = min(6, len(q)-i)
				sep = bytes.HasPrefix(q[i:], []byte(`\u0026`))
			}
		}
		if sep {
			param(q[start:i])
			out = append(out, q[i:i+n]...)
			start = i + n
		}
		i += n
	}
	param(q[start:])
	return out
}

// RedactURLs returns b with the credentials of every URL in it, and the
// values of its query parameters whose names look secret (api_key, token,
// sig...: sluice.SecretQueryParam), replaced by Redacted. It returns b
// itself when there are none.
func RedactURLs(b []byte) []byte {
	if !bytes.Contains(b, []byte("://")) {
		return b
	}
	if bytes.Contains(b, []byte("@")) {
		b = userinfoRE.ReplaceAll(b, []byte("${1}"+Redacted+"@"))
	}
	if bytes.Contains(b, []byte("?")) {
		b = queryRE.ReplaceAllFunc(b, func(m []byte) []byte {
			i := bytes.IndexByte(m, '?') + 1
			q := redactQuery(m[i:])
			return append(m[:i:i], q...)
		})
	}
	return b
}

// RedactingWriter returns a ResponseWriter that writes through w with the
// URLs' credentials, and the values of rollout webhooks' headers
// (RedactHeaders), redacted from each Write. Every answer is written in
// one Write per JSON document (or event), so a URL is never cut between
// two. It keeps w's Flush for event streams.
func RedactingWriter(w http.ResponseWriter) http.ResponseWriter {
	return &redactingWriter{ResponseWriter: w}
}

type redactingWriter struct {
	http.ResponseWriter
}

func (w *redactingWriter) Write(b []byte) (int, error) {
	r := RedactHeaders(RedactURLs(b))
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

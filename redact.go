package sluice

import (
	"net/url"
	"strings"
)

// secretParamWords mark a URL query parameter's value as a secret when its
// name, lower-cased, holds one of them: api_key, apikey, key, x-api-key,
// subscription-key, token, access_token, client_secret, password, sig and
// signature (Azure SAS, presigned URLs), X-Amz-Credential, code (Azure
// Functions' function key), auth. A few names that are not secrets match
// too (author, encode): a value hidden for nothing costs less than a key
// shown. Names such as api-version, deployment or model match none and
// stay visible, as a reader of a version needs them.
var secretParamWords = []string{"key", "token", "secret", "pass", "pwd", "auth", "sig", "cred", "code", "jwt", "session"}

// SecretQueryParam reports whether a URL query parameter named name (as it
// appears in the URL, percent-encoded or not) holds a secret by the look
// of its name, whatever its case.
func SecretQueryParam(name string) bool {
	if n, err := url.QueryUnescape(name); err == nil {
		name = n
	}
	name = strings.ToLower(name)
	for _, w := range secretParamWords {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}

// RedactQuery returns the raw query q (without its "?") with the value of
// each parameter SecretQueryParam names replaced by RedactedUserinfo, the
// rest kept as written, in their order.
func RedactQuery(q string) string {
	if q == "" {
		return q
	}
	var b strings.Builder
	for i, p := range strings.Split(q, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		if name, _, ok := strings.Cut(p, "="); ok && SecretQueryParam(name) {
			b.WriteString(name + "=" + RedactedUserinfo)
			continue
		}
		b.WriteString(p)
	}
	return b.String()
}

// RedactEndpoint is an endpoint URL as logs and errors name it: its
// credentials (the user:password@ of the URL) and the values of its query
// parameters SecretQueryParam names replaced by RedactedUserinfo, as the
// admin API shows them to all but admins, since a log is read more widely.
// A URL that does not parse is returned as it is (CheckEndpoint refuses
// such a URL).
func RedactEndpoint(endpoint string) string {
	u, err := url.Parse(endpoint)
	if err != nil || (u.User == nil && u.RawQuery == "") {
		return endpoint
	}
	if u.User != nil {
		u.User = url.User(RedactedUserinfo)
	}
	u.RawQuery = RedactQuery(u.RawQuery)
	return u.String()
}

// redactedQueryParam returns the name of the first parameter of the raw
// query q that SecretQueryParam names and whose value is RedactedUserinfo,
// as RedactQuery leaves it; ok is false when there is none.
func redactedQueryParam(q string) (name string, ok bool) {
	for _, p := range strings.Split(q, "&") {
		if n, v, has := strings.Cut(p, "="); has && v == RedactedUserinfo && SecretQueryParam(n) {
			return n, true
		}
	}
	return "", false
}

package api

import (
	"bytes"
	"regexp"
)

// headersRE finds a JSON object under the key "headers" whose values are
// all strings: a rollout's webhooks' headers (sluice.RolloutWebhook), which
// may hold the credentials of the eval service or approval system they
// call, as indented or compact JSON.
var headersRE = regexp.MustCompile(`"headers":\s*\{(?:\s*"(?:[^"\\]|\\.)*"\s*:\s*"(?:[^"\\]|\\.)*"\s*,?)*\s*\}`)

// headerValueRE finds one "name": "value" pair of such an object.
var headerValueRE = regexp.MustCompile(`("(?:[^"\\]|\\.)*"\s*:\s*)"(?:[^"\\]|\\.)*"`)

// RedactHeaders returns b with the values of every "headers" object in it
// replaced by Redacted: the names stay, so a reader sees which headers a
// webhook sends. It returns b itself when there are none.
func RedactHeaders(b []byte) []byte {
	if !bytes.Contains(b, []byte(`"headers"`)) {
		return b
	}
	return headersRE.ReplaceAllFunc(b, func(m []byte) []byte {
		i := bytes.IndexByte(m, '{')
		return append(m[:i:i], headerValueRE.ReplaceAll(m[i:], []byte(`${1}"`+Redacted+`"`))...)
	})
}

package fakellm

import (
	"strings"
	"testing"
)

// TestParseRequest_WrongKindNamesField: a body that is JSON with a field of
// the wrong kind (a string for "messages", as a client's bug sends it) was
// refused as "invalid JSON at byte 31": a user trying the gateway went
// looking for what had broken the body on its way. As vLLM does, the field
// and what it takes are named; a body that is not JSON still says so.
func TestParseRequest_WrongKindNamesField(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`{"model":"m","messages":"hi"}`, `"messages" must be a list of messages`},
		{`{"model":"m","messages":{"role":"user"}}`, `"messages" must be a list of messages`},
		{`{"model":"m","messages":["hi"]}`, `"messages" must be a list of objects`},
		{`{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"}`, `"stream" must be true or false`},
		{`{"model":"m","stream":true,"stream_options":true}`, `"stream_options" must be an object`},
		{`{"model":"m","tools":{"type":"function"}}`, `"tools" must be a list of tools`},
		{`{"model":"m","messages":[}`, "invalid JSON at byte"},
		{`{"model":"m","messages":"hi}`, "invalid JSON at byte"},
	} {
		var r request
		err := parseRequest([]byte(tc.body), &r)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one saying %q", tc.body, err, tc.want)
		}
	}
	var r request
	if err := parseRequest([]byte(`{"model":"m","messages":null,"stream":null,"stream_options":null,"tools":null}`), &r); err != nil {
		t.Errorf("nulls: %v, want none", err)
	}
}

package sluice_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

func TestRedactQuery(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"", ""},
		{"api-version=2024-02-01", "api-version=2024-02-01"},
		{"api-version=2024-02-01&api_key=sk-1", "api-version=2024-02-01&api_key=REDACTED"},
		{"APIKEY=1&X-Api-Key=2&subscription-key=3&access_token=4&sv=2022&sig=5&X-Amz-Signature=6&X-Amz-Credential=7&code=8&pwd=9&auth=10",
			"APIKEY=REDACTED&X-Api-Key=REDACTED&subscription-key=REDACTED&access_token=REDACTED&sv=2022&sig=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED&code=REDACTED&pwd=REDACTED&auth=REDACTED"},
		{"api%5Fkey=1&flag&key", "api%5Fkey=REDACTED&flag&key"}, // a name without a value has none to hide
		{"deployment=gpt-4o&model=m&region=eu", "deployment=gpt-4o&model=m&region=eu"},
		// Values holding a backslash, %5C or unicode go whole (the admin
		// API's JSON-escaped text is api.RedactURLs' to read).
		{`api_key=sk\x\\y&v=1&sig=a%5Cb&token=ünï€😀\u0026z`, "api_key=REDACTED&v=1&sig=REDACTED&token=REDACTED"},
	} {
		if got := sluice.RedactQuery(c.in); got != c.want {
			t.Errorf("RedactQuery(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestCheckEndpoint_RedactedQuery: an endpoint whose secret query
// parameter was read as REDACTED (a viewer's or operator's output) and
// written back is refused, as REDACTED@ is, not stored with a key no
// backend accepts. The message names the parameter, not the other values.
func TestCheckEndpoint_RedactedQuery(t *testing.T) {
	err := sluice.CheckEndpoint("https://h/openai?api-version=2024-02-01&other_token=t0ps3cret&api_key=REDACTED")
	if sluice.ErrorCode(err) != sluice.CodeInvalid || !strings.Contains(err.Error(), "api_key=REDACTED") || !strings.Contains(err.Error(), "real URL") {
		t.Fatalf("CheckEndpoint of a redacted query = %v, want an invalid error naming api_key=REDACTED", err)
	}
	if strings.Contains(err.Error(), "t0ps3cret") {
		t.Errorf("the refusal quotes another secret of the URL: %v", err)
	}
	for _, ok := range []string{"https://h/v1?api-version=REDACTED", "https://h/v1?api_key=REDACTEDX"} {
		if err := sluice.CheckEndpoint(ok); err != nil {
			t.Errorf("CheckEndpoint(%q) = %v, want nil: the value was not redacted by Sluice", ok, err)
		}
	}
}

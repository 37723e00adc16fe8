package sluice_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestCheckEndpoint: an admin registered a version whose endpoint URL does
// not parse ("http://bob:pw@10.0.0.7:80%zz", a port mistyped, or one of
// 99999): it was accepted, could never serve, and every client routed to it
// was told why, URL and credentials included. Such a URL is now refused at
// registration, and the refusal quotes only the part at fault.
func TestCheckEndpoint(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		for _, e := range []string{"http://127.0.0.1:8000", "https://llm.example.com", "http://10.0.0.7:8000/v1", "http://[::1]:8000", "https://user:pw@llm.example.com/", "http://h:65535"} {
			if err := sluice.CheckEndpoint(e); err != nil {
				t.Errorf("CheckEndpoint(%q) = %v, want nil", e, err)
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, e := range []string{"http://bob:s3cret@10.0.0.7:80%zz", "http://bob:s3cret@10.0.0.7:99999", "http://bob:s3cret@10.0.0.7:0", "http://[::1", "http://bob:s3cret@", "ftp://h", "http://a b",
			// A webhook's URL is itself the secret (Slack's, Discord's): one
			// mistyped is refused without being quoted.
			"https://hooks.slack.com/services/T0/B0/s3cret x", "hooks.slack.com/services/T0/B0/s3cret", "ftp://bob:s3cret@h", "http://h/\"s3cret"} {
			err := sluice.CheckEndpoint(e)
			if sluice.ErrorCode(err) != sluice.CodeInvalid {
				t.Errorf("CheckEndpoint(%q) = %v, want an invalid error", e, err)
				continue
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("CheckEndpoint(%q) quotes the credentials: %v", e, err)
			}
		}
	})
	t.Run("RegisterRefuses", func(t *testing.T) {
		e := sluice.NewRegistry().Edit("test", "r", time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
		_, err := e.RegisterVersion(sluice.Version{Model: "chat", Version: "v1", Endpoints: []string{"http://10.0.0.7:80%zz"}})
		if sluice.ErrorCode(err) != sluice.CodeInvalid {
			t.Fatalf("RegisterVersion with an endpoint that does not parse = %v, want an invalid error", err)
		}
	})
}

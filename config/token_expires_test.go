package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// TestTokens_Expires: a config file's admin token may expire, given as a
// time or a date (the forms sluice token create --expires takes, less a
// duration, which would start again at every reload); StaticTokens
// carries it. A value that is not one is refused, naming tokens[i].expires
// and the forms taken.
func TestTokens_Expires(t *testing.T) {
	const secret = "s3cret-s3cret-s3cret"
	for _, c := range []struct{ expires, want string }{
		{"2027-03-01", "2027-03-01T00:00:00Z"},
		{"2027-03-01T12:30:00Z", "2027-03-01T12:30:00Z"},
		{"2027-03-01T12:30:00+02:00", "2027-03-01T10:30:00Z"},
		{"\"2027-03-01 12:30\"", "2027-03-01T12:30:00Z"},
		{"none", ""},
		{"", ""},
	} {
		yaml := "tokens:\n  - {name: ops, role: admin, secret: " + secret + ", expires: " + c.expires + "}\n"
		g, err := config.ParseGateway("g.yaml", []byte(yaml))
		if err != nil {
			t.Errorf("expires %q: %v", c.expires, err)
			continue
		}
		ts := g.StaticTokens()
		got := ""
		if at := ts[0].ExpiresAt; !at.IsZero() {
			got = at.Format(time.RFC3339)
		}
		if got != c.want {
			t.Errorf("expires %q gave the token an expiry of %q, want %q", c.expires, got, c.want)
		}
	}
	for _, c := range []struct{ expires, also string }{
		{"next tuesday", ""},
		{"2027-13-01", ""},
		{"90d", "a duration such as 90d is for sluice token create --expires"},
		{"12h", "a duration such as 90d is for sluice token create --expires"},
	} {
		yaml := "tokens:\n  - {name: ops, role: admin, secret: " + secret + "}\n  - {name: ci, role: operator, secret: " + secret + "-ci, expires: " + c.expires + "}\n"
		_, err := config.ParseGateway("g.yaml", []byte(yaml))
		if err == nil {
			t.Errorf("expires %q accepted; want an error naming tokens[1].expires", c.expires)
			continue
		}
		for _, want := range []string{"tokens[1].expires", "2027-03-01T12:00:00Z", "or none", c.also} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("expires %q: %v; want it to say %q", c.expires, err, want)
			}
		}
	}
}

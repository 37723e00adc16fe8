package config_test

// Each test here came from a review, with the bug it found; its comment
// says what the code did before the fix.

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestEnvInCommentIgnored: ${ENV} is expanded over the raw text,
// comments included, so commenting a line out to disable it still fails the
// load with "environment variable ... is not set".
func TestEnvInCommentIgnored(t *testing.T) {
	yaml := "listen: 127.0.0.1:8080\n# store: ${SLUICE_REVIEW_UNSET_STORE}   (for replicas)\n"
	if _, err := config.ParseGateway("g.yaml", []byte(yaml)); err != nil {
		t.Errorf("a commented-out ${...} broke the load: %v", err)
	}
}

// TestCommentOnlyFileIsEmptyConfig: Gateway's doc says an empty file
// is a valid configuration, and ParseGateway accepts whitespace; a file of
// comments alone (every setting commented out, as a template ships) is
// refused with "the file is empty".
func TestCommentOnlyFileIsEmptyConfig(t *testing.T) {
	yaml := "# sluice.yaml: every key is optional\n# listen: 127.0.0.1:8080\n"
	g, err := config.ParseGateway("g.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("a file of comments only: %v; want the defaults", err)
	}
	if g.Listen != config.Default().Listen {
		t.Errorf("listen %q", g.Listen)
	}
}

// TestEnvValueNotReparsedAsYAML: the value of ${ENV} is spliced into
// the text before it is parsed as YAML, so a value is re-read as YAML: a
// secret holding " #" is silently cut at the comment (the gateway then
// accepts a different secret than the one in the environment), and one
// starting with '*', '&', '!' or '@' is an alias, anchor, tag or syntax error
// pointing at text the user never wrote.
func TestEnvValueNotReparsedAsYAML(t *testing.T) {
	for _, c := range []struct{ name, secret, ref string }{
		{"hash after a space", "0123456789abcdefXYZ #and-the-rest", "${SLUICE_REVIEW_KEY}"},
		{"leading star", "*0123456789abcdefXYZ", "${SLUICE_REVIEW_KEY}"},
		{"leading at", "@0123456789abcdefXYZ", "${SLUICE_REVIEW_KEY}"},
		{"colon space", "0123456789: abcdefXYZ", "${SLUICE_REVIEW_KEY}"},
		// Quoted as the README writes it: a backslash or a quote still breaks it.
		{"quoted, backslash", `0123456789\abcdefXYZ`, `"${SLUICE_REVIEW_KEY}"`},
		{"quoted, quote", `0123456789"abcdefXYZ`, `"${SLUICE_REVIEW_KEY}"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Setenv("SLUICE_REVIEW_KEY", c.secret)
			g, err := config.ParseGateway("g.yaml", []byte("client_keys:\n  - name: app\n    secret: "+c.ref+"\n"))
			if err != nil {
				t.Fatalf("secret %q from the environment: %v", c.secret, err)
			}
			if got := g.ClientKeys[0].Secret; got != c.secret {
				t.Errorf("secret from the environment read as %q; want %q", got, c.secret)
			}
		})
	}
}

// TestTypeErrorsNameKeyAndUnit: a duration written as a number, or a
// size with a unit, fails with yaml's "cannot unmarshal !!int `5` into
// time.Duration": no key (only a line number) and no hint that 5s or bytes
// are wanted.
func TestTypeErrorsNameKeyAndUnit(t *testing.T) {
	for _, c := range []struct{ yaml, key, hint string }{
		{"timeouts:\n  connect: 5\n", "connect", "5s"},
		{"max_body_bytes: 8MiB\n", "max_body_bytes", "bytes"},
	} {
		_, err := config.ParseGateway("g.yaml", []byte(c.yaml))
		if err == nil {
			t.Fatalf("%q accepted", c.yaml)
		}
		if !strings.Contains(err.Error(), c.key) || !strings.Contains(err.Error(), c.hint) {
			t.Errorf("%q: error %q should name %s and say what to write (%s)", strings.TrimSpace(c.yaml), err, c.key, c.hint)
		}
	}
}

package config_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

// TestParseGateway_MissingEnvNamesEveryReference: with three references
// unset, the error read "environment variable A, B, C is not set: export it
// or remove the ${A} reference", as if only A were missing. It must speak
// of all of them.
func TestParseGateway_MissingEnvNamesEveryReference(t *testing.T) {
	text := "tokens:\n  - {name: ops, role: operator, secret: \"${SL_MISS_A}\"}\njudge:\n  endpoint: http://127.0.0.1:9/v1\n  model: j\n  api_key: \"${SL_MISS_B}\"\nclient_keys:\n  - {name: web, secret: \"${SL_MISS_C}\"}\n"
	_, err := config.ParseGateway("g.yaml", []byte(text))
	if err == nil {
		t.Fatal("a config with three unset variables loaded")
	}
	msg := err.Error()
	for _, want := range []string{"variables SL_MISS_A, SL_MISS_B, SL_MISS_C are not set", "${SL_MISS_A}, ${SL_MISS_B}, ${SL_MISS_C}"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q; want it to say %q", msg, want)
		}
	}
	if _, err := config.ParseGateway("g.yaml", []byte("listen: ${SL_MISS_A}\n")); err == nil || !strings.Contains(err.Error(), "variable SL_MISS_A is not set: export it or remove the ${SL_MISS_A} reference") {
		t.Errorf("one unset variable: %v", err)
	}
}

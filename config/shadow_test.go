package config_test

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

func TestParseGateway_ShadowPairsKept(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		g, err := config.ParseGateway("g.yaml", []byte("shadow: {pairs_kept: 5000}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if n := g.Shadow.PairsKept; n == nil || *n != 5000 {
			t.Errorf("pairs_kept = %v, want 5000", n)
		}
	})
	t.Run("Default", func(t *testing.T) {
		for _, text := range []string{"", "shadow: {}\n"} {
			g, err := config.ParseGateway("g.yaml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if n := g.Shadow.PairsKept; n == nil || *n != config.DefaultShadowPairsKept {
				t.Errorf("%q: pairs_kept = %v, want the default %d", text, n, config.DefaultShadowPairsKept)
			}
		}
	})
	for _, tc := range []struct{ name, yaml, err string }{
		{"ErrZero", "shadow: {pairs_kept: 0}", "shadow.pairs_kept: 0 must be between 1 and 100000"},
		{"ErrTooMany", "shadow: {pairs_kept: 1000000}", "shadow.pairs_kept: 1000000 must be between 1 and 100000"},
		{"ErrUnknownKey", "shadow: {pairs: 10}", "pairs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseGateway("g.yaml", []byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}

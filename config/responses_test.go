package config_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/config"
)

func TestParseGateway_Responses(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		g, err := config.ParseGateway("g.yaml", []byte("responses: {remember_ids: 2500}\n"))
		if err != nil {
			t.Fatal(err)
		}
		if n := g.Responses.RememberIDs; n == nil || *n != 2500 {
			t.Errorf("remember_ids = %v, want 2500", n)
		}
	})
	t.Run("Default", func(t *testing.T) {
		for _, text := range []string{"", "responses: {}\n"} {
			g, err := config.ParseGateway("g.yaml", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			if n := g.Responses.RememberIDs; n == nil || *n != 100_000 {
				t.Errorf("%q: remember_ids = %v, want the default 100000", text, n)
			}
		}
		if n := config.Default().Responses.RememberIDs; n == nil || *n != config.DefaultRememberIDs {
			t.Errorf("Default(): remember_ids = %v", n)
		}
	})
	for _, tc := range []struct{ name, yaml, err string }{
		{"ErrZero", "responses: {remember_ids: 0}", "responses.remember_ids: 0 must be at least 1"},
		{"ErrNegative", "responses: {remember_ids: -5}", "responses.remember_ids: -5 must be at least 1"},
		{"ErrNotANumber", "responses: {remember_ids: lots}", "remember_ids"},
		{"ErrUnknownKey", "responses: {remember: 10}", "remember"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := config.ParseGateway("g.yaml", []byte(tc.yaml+"\n"))
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("err = %v, want %q", err, tc.err)
			}
		})
	}
	t.Run("NeedsRestart", func(t *testing.T) {
		run := config.Default()
		next, err := config.ParseGateway("g.yaml", []byte("responses: {remember_ids: 10}\n"))
		if err != nil {
			t.Fatal(err)
		}
		next.Listen, next.Store = run.Listen, run.Store
		if got := config.NeedRestart(run, next); !slices.Equal(got, []string{"responses"}) {
			t.Errorf("NeedRestart = %v, want [responses]", got)
		}
	})
}

package config_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// TestParseGateway_ShutdownDrain: shutdown.drain, how long `sluice serve`
// waits for the requests in flight on SIGTERM, defaults to 30s (the
// constant it replaces), takes any duration above 0, and refuses 0, a
// negative or an unreadable value with an error naming the key.
func TestParseGateway_ShutdownDrain(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		for text, want := range map[string]time.Duration{
			"":                            30 * time.Second,
			"shutdown: {}\n":              30 * time.Second,
			"shutdown:\n  drain: 1s\n":    time.Second,
			"shutdown:\n  drain: 10m\n":   10 * time.Minute,
			"shutdown:\n  drain: 250ms\n": 250 * time.Millisecond,
		} {
			g, err := config.ParseGateway("sluice.yaml", []byte(text))
			if err != nil {
				t.Errorf("%q: %v", text, err)
				continue
			}
			if got := g.Shutdown.DrainTime(); got != want {
				t.Errorf("%q: shutdown.drain %v, want %v", text, got, want)
			}
		}
		if got := (config.Shutdown{}).DrainTime(); got != config.DefaultDrain {
			t.Errorf("shutdown.drain of a config not loaded from a file: %v, want the default %v", got, config.DefaultDrain)
		}
		if config.DefaultDrain != 30*time.Second {
			t.Errorf("DefaultDrain %v; the shipped deploy files' budgets are written for 30s", config.DefaultDrain)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for text, want := range map[string]string{
			"shutdown:\n  drain: 0\n":         "shutdown.drain: 0s is not a drain time",
			"shutdown:\n  drain: 0s\n":        "shutdown.drain: 0s is not a drain time",
			"shutdown:\n  drain: -5s\n":       "shutdown.drain: -5s is not a drain time",
			"shutdown:\n  drain: 2 minutes\n": "shutdown.drain (line 2): 2 minutes is not a duration",
			"shutdown:\n  drain: 30\n":        "shutdown.drain (line 2): 30 is not a duration: write it with a unit",
			"shutdown:\n  drian: 30s\n":       "did you mean drain?",
		} {
			_, err := config.ParseGateway("sluice.yaml", []byte(text))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("%q: error %v, want one saying %q", text, err, want)
			}
		}
	})
}

// A changed shutdown.drain is applied by a reload (SIGHUP), as it is read
// when the shutdown begins: the reload does not name it among the
// settings that wait for a restart.
func TestNeedRestart_ShutdownDrain(t *testing.T) {
	run, err := config.ParseGateway("sluice.yaml", []byte("shutdown:\n  drain: 30s\n"))
	if err != nil {
		t.Fatal(err)
	}
	next, err := config.ParseGateway("sluice.yaml", []byte("shutdown:\n  drain: 5m\n"))
	if err != nil {
		t.Fatal(err)
	}
	if keys := config.NeedRestart(run, next); slices.Contains(keys, "shutdown") {
		t.Errorf("NeedRestart %v names shutdown, which a reload applies", keys)
	}
}

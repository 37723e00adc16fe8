package config_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// TestParseGateway_Idle: timeouts.idle defaults to 120s, takes a duration,
// turns off with 0 (written bare, as "0s" or quoted), and refuses a
// negative or unreadable value with an error naming the key.
func TestParseGateway_Idle(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		for text, want := range map[string]time.Duration{
			"":                           120 * time.Second,
			"timeouts: {}\n":             120 * time.Second,
			"timeouts:\n  idle: 45s\n":   45 * time.Second,
			"timeouts:\n  idle: 5m\n":    5 * time.Minute,
			"timeouts:\n  idle: 0\n":     0,
			"timeouts:\n  idle: 0s\n":    0,
			"timeouts:\n  idle: \"0\"\n": 0,
		} {
			g, err := config.ParseGateway("sluice.yaml", []byte(text))
			if err != nil {
				t.Errorf("%q: %v", text, err)
				continue
			}
			if got := g.Timeouts.IdleTimeout(); got != want {
				t.Errorf("%q: timeouts.idle %v, want %v", text, got, want)
			}
		}
		if got := (config.Timeouts{}).IdleTimeout(); got != config.DefaultIdleTimeout {
			t.Errorf("timeouts.idle of a config not loaded from a file: %v, want the default %v", got, config.DefaultIdleTimeout)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for text, want := range map[string]string{
			"timeouts:\n  idle: -5s\n":       "timeouts.idle: -5s is negative",
			"timeouts:\n  idle: 2 minutes\n": "timeouts.idle (line 2): 2 minutes is not a duration",
			"timeouts:\n  idle: 90\n":        "timeouts.idle (line 2): 90 is not a duration: write it with a unit",
			"timeouts:\n  idle: [1s]\n":      "a list is not a duration",
		} {
			_, err := config.ParseGateway("sluice.yaml", []byte(text))
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "timeouts.idle") {
				t.Errorf("%q: error %v, want one naming timeouts.idle and saying %q", text, err, want)
			}
		}
	})
}

// A changed timeouts.idle, like the other timeouts, takes a restart: SIGHUP
// does not reload the timeouts, and the reload says so by naming the key.
func TestNeedRestart_Idle(t *testing.T) {
	run, err := config.ParseGateway("sluice.yaml", []byte("timeouts:\n  idle: 60s\n"))
	if err != nil {
		t.Fatal(err)
	}
	next, err := config.ParseGateway("sluice.yaml", []byte("timeouts:\n  idle: 0\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := config.NeedRestart(run, next); !slices.Equal(got, []string{"timeouts"}) {
		t.Errorf("NeedRestart = %v, want [timeouts]", got)
	}
	if got := config.NeedRestart(run, run); len(got) != 0 {
		t.Errorf("NeedRestart of the same config = %v", got)
	}
}

package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/config"
)

// TestParseGateway_StoreWait: store_wait defaults to a minute, takes a
// duration, turns off with 0, and refuses a negative or unreadable value
// with an error naming the key.
func TestParseGateway_StoreWait(t *testing.T) {
	for text, want := range map[string]time.Duration{
		"":                  time.Minute,
		"store_wait: 5m\n":  5 * time.Minute,
		"store_wait: 10s\n": 10 * time.Second,
		"store_wait: 0\n":   0,
	} {
		g, err := config.ParseGateway("sluice.yaml", []byte(text))
		if err != nil {
			t.Errorf("%q: %v", text, err)
			continue
		}
		if got := g.StoreWaitTime(); got != want {
			t.Errorf("%q: store_wait %v, want %v", text, got, want)
		}
	}
	if got := (config.Gateway{}).StoreWaitTime(); got != config.DefaultStoreWait {
		t.Errorf("store_wait of a config not loaded from a file: %v, want the default %v", got, config.DefaultStoreWait)
	}
	for text, want := range map[string]string{
		"store_wait: -5s\n":    "store_wait: -5s is negative",
		"store_wait: 1 hour\n": "store_wait (line 1): 1 hour is not a duration",
	} {
		_, err := config.ParseGateway("sluice.yaml", []byte(text))
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want one saying %q", text, err, want)
		}
	}
}

package config_test

import (
	"slices"
	"testing"

	"github.com/sluicehq/sluice/config"
)

func TestNeedRestart(t *testing.T) {
	run := config.Default()
	next := run
	next.Listen = "127.0.0.1:9999"
	next.Timeouts.Connect = run.Timeouts.Connect * 2
	next.ClientKeys = []config.ClientKey{{Name: "app", Secret: "0123456789abcdef0123"}}
	next.Tokens = []config.TokenConfig{{Name: "ops", Role: "admin", Secret: "0123456789abcdef0123"}}
	if got := config.NeedRestart(run, next); !slices.Equal(got, []string{"listen", "timeouts"}) {
		t.Errorf("NeedRestart = %v, want [listen timeouts] (tokens and client keys are reloaded)", got)
	}
	if got := config.NeedRestart(run, run); len(got) != 0 {
		t.Errorf("NeedRestart of the same config = %v", got)
	}
}

package main

import (
	"testing"

	"github.com/sluicehq/sluice"
)

// What the user does: offers an agent's tools on every request and reads
// `sluice requests` during a canary whose candidate fails some of them.
// What happened: a failed attempt (a 500, logged upstream_5xx and retried
// on stable) showed TOOLS "text", as if the model had answered in prose
// rather than call a tool, next to the retry's "call".
// What must happen: "text" says the answer did not call a tool; a request
// that failed (any error class, a canceled one too) had no whole answer,
// so it shows "-", unless what came of it called one ("call"). /metrics
// and the analysis already leave failed requests out of the tool-call rate.
func TestToolsText_Failed(t *testing.T) {
	for _, c := range []struct {
		name string
		o    sluice.Observation
		want string
	}{
		{"call", sluice.Observation{ToolsOffered: true, ToolCall: true}, "call"},
		{"text", sluice.Observation{ToolsOffered: true}, "text"},
		{"none offered", sluice.Observation{}, "-"},
		{"failed", sluice.Observation{ToolsOffered: true, Status: 500, ErrorClass: "upstream_5xx", Retried: true}, "-"},
		{"broken stream", sluice.Observation{ToolsOffered: true, Status: 200, ErrorClass: "stream_broken"}, "-"},
		{"canceled", sluice.Observation{ToolsOffered: true, Status: 200, ErrorClass: "canceled"}, "-"},
		{"broken after a call", sluice.Observation{ToolsOffered: true, ToolCall: true, ErrorClass: "stream_broken"}, "call"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := toolsText(c.o); got != c.want {
				t.Errorf("toolsText = %q, want %q", got, c.want)
			}
		})
	}
}

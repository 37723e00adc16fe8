package server_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/server"
)

// TestGateway_SeedCountsSplitConversations: a gateway restarted in the
// middle of a canary reads back from the request log the later turns of
// the Responses conversations the split began (route previous_response,
// marked SplitConversation) into the candidate's sample, with their
// failures, as the process that served them counted them; the turns of a
// conversation begun with a pin stay out. The read-back and the stage
// sample (min_samples) would otherwise judge only the first turns after a
// restart.
func TestGateway_SeedCountsSplitConversations(t *testing.T) {
	ctx := context.Background()
	path, r, st := liveCanaryStopped(t, 100*time.Millisecond)
	from := r.LiveAt
	span := time.Since(from)
	// The former process's log of the candidate: 10 conversations the
	// split began, each a first turn and 3 later turns, the last failed;
	// and a pinned conversation's 4.
	const convs = 10
	var rows []sluice.Observation
	row := func(id, route string, split bool, class string) {
		o := sluice.Observation{RequestID: id, At: from.Add(span * time.Duration(len(rows)+1) / time.Duration(4*convs+8)), Model: "chat", Version: "v1.1.0",
			Route: route, SplitConversation: split, Endpoint: "/v1/responses", Status: 200, Latency: 20 * time.Millisecond, OutputTokens: 10, ResponseChars: 40}
		if class != "" {
			o.Status, o.ErrorClass = 502, class
		}
		rows = append(rows, o)
	}
	for c := range convs {
		row(fmt.Sprintf("c%d-1", c), "split", false, "")
		row(fmt.Sprintf("c%d-2", c), "previous_response", true, "")
		row(fmt.Sprintf("c%d-3", c), "previous_response", true, "")
		row(fmt.Sprintf("c%d-4", c), "previous_response", true, "upstream_5xx")
	}
	row("qa-1", "pin", false, "")
	for i := 2; i <= 4; i++ {
		row(fmt.Sprintf("qa-%d", i), "previous_response", false, "")
	}
	if err := st.AppendRequests(ctx, rows); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = path
	cfg.Rollouts.Tick = 20 * time.Millisecond
	gw2 := startGateway(t, server.Options{Config: cfg}, sluice.ApplyDoc{})
	<-gw2.Seeded()
	s := gw2.Recorder.Randomized("chat", "v1.1.0", "", from)
	if s.Requests != 4*convs || s.Errors != convs || s.NotRandomized != 4 {
		t.Errorf("candidate's sample of the split after the restart: %d requests, %d errors, %d not judged; want %d, %d, 4 (the pinned conversation)",
			s.Requests, s.Errors, s.NotRandomized, 4*convs, convs)
	}
	got, err := api.NewClient(gw2.URL(), adminSecret(t, gw2)).Rollout(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	if got.StageSamples != 4*convs {
		t.Errorf("stage sample after the restart: %d, want %d (the split's conversations, every turn)", got.StageSamples, 4*convs)
	}
}

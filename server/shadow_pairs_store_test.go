package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/openai/openai-go"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestShadowPairs_StorePairs: on PostgreSQL the shadow pairs, prompts and
// answer texts included, go to the store by default, and the admin API
// lists them as the fleet's; shadow.store_pairs false keeps them in this
// process's memory only, naming the replica, and writes none to the
// database.
func TestShadowPairs_StorePairs(t *testing.T) {
	for _, stored := range []bool{true, false} {
		t.Run(map[bool]string{true: "Default", false: "Off"}[stored], func(t *testing.T) {
			dsn := pgtest.Schema(t)
			stable := MustBackend(t, fakellm.Config{})
			cand := MustBackend(t, fakellm.Config{})
			gw, cl := startRolloutGatewayWith(t, dsn, func(c *config.Gateway) {
				if !stored {
					c.Shadow.StorePairs = new(bool)
				}
			}, stable, cand)
			ctx := context.Background()
			if _, err := cl.StartRollout(ctx, sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyShadow, ShadowFraction: 1,
				ShadowSamples: 100000, Warmup: sluice.WarmupSpec{Skip: true}}, "compare"); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "the proxy to mirror", 20*time.Second, func() bool { id, _ := gw.Proxy.Shadow("chat"); return id == "chat:v1.1.0" })
			client := openaiClient(gw.URL())
			for range 3 {
				if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
					Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("a question")}}); err != nil {
					t.Fatal(err)
				}
			}
			waitFor(t, "the pairs", 20*time.Second, func() bool {
				list, err := cl.ShadowPairs(ctx, "chat", sluice.ShadowPairQuery{})
				return err == nil && len(list.Pairs) == 3
			})
			list, _ := cl.ShadowPairs(ctx, "chat", sluice.ShadowPairQuery{})
			if list.Fleet != stored || (list.Replica == "") != stored || list.Pairs[0].Prompt != "a question" {
				t.Errorf("store_pairs %v: fleet %v, replica %q, prompt %q", stored, list.Fleet, list.Replica, list.Pairs[0].Prompt)
			}
			if (list.Pairs[0].Replica != "") != stored {
				t.Errorf("store_pairs %v: a pair names replica %q", stored, list.Pairs[0].Replica)
			}
			conn, err := pgx.Connect(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(ctx)
			var n int
			if err := conn.QueryRow(ctx, "SELECT COUNT(*) FROM shadow_pairs").Scan(&n); err != nil {
				t.Fatal(err)
			}
			if want := map[bool]int{true: 3, false: 0}[stored]; n != want {
				t.Errorf("store_pairs %v: the database holds %d pairs, want %d", stored, n, want)
			}
		})
	}
}

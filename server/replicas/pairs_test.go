package replicas_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/postgres/pgtest"
)

// TestReplicas_ShadowPairsFleetWide: behind a load balancer each replica
// kept only the shadow pairs of the requests it mirrored, so `sluice
// rollout pairs` showed another subset at each call, paging by a
// per-process seq jumped between replicas' numbers, and a restart lost
// them. Two replicas on one PostgreSQL store, traffic to both through the
// OpenAI SDK during a shadow run: either replica lists the pairs of both,
// each naming its replica, with the same seqs; pages taken from the two in
// turn cover the list once; and a replica started after both are stopped
// lists them still.
func TestReplicas_ShadowPairsFleetWide(t *testing.T) {
	if testing.Short() {
		t.Skip("runs gateway processes on PostgreSQL (skipped under -short)")
	}
	stable := fakellm.New(fakellm.Config{})
	cand := fakellm.New(fakellm.Config{Default: fakellm.Behavior{RefusalRate: 1}})
	for _, b := range []*fakellm.Server{stable, cand} {
		if err := b.Start("127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(b.Close)
	}
	dir := t.TempDir()
	models := filepath.Join(dir, "models.yaml")
	os.WriteFile(models, []byte(`models:
  - name: chat
    policy: {kind: specific, version: v1.0.0}
    labels: {stable: v1.0.0}
    versions:
      - {version: v1.0.0, endpoints: [`+stable.URL()+`], stage: production}
      - {version: v1.1.0, endpoints: [`+cand.URL()+`], stage: staging}
`), 0o644)
	f := &fleet{t: t, dir: dir, cfg: writeFleetConfig(dir, models, ""), dsn: pgtest.Schema(t), backend: stable}
	rs := f.start(2)
	ctx := t.Context()
	if _, err := rs[0].client.StartRollout(ctx, sluice.RolloutSpec{Model: "chat", Candidate: "v1.1.0", Strategy: sluice.StrategyShadow,
		ShadowFraction: 1, ShadowSamples: 100000, Warmup: sluice.WarmupSpec{Skip: true}}, "compare the candidate's answers"); err != nil {
		t.Fatal(err)
	}
	for _, r := range rs {
		waitFor(t, 30*time.Second, r.name+" to mirror to v1.1.0", func() bool {
			list, err := r.client.ShadowPairs(ctx, "chat", sluice.ShadowPairQuery{})
			return err == nil && list.Shadowing == "v1.1.0"
		})
	}

	const per = 6 // requests through each replica
	for i, r := range rs {
		client := openai.NewClient(option.WithBaseURL(r.url+"/v1"), option.WithAPIKey("unused"), option.WithMaxRetries(0))
		for j := range per {
			if _, err := client.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat",
				Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(fmt.Sprintf("question %d through %s", j, r.name))}},
				option.WithHeader("X-Request-Category", fmt.Sprintf("c%d", i))); err != nil {
				t.Fatalf("request through %s: %v", r.name, err)
			}
		}
	}
	var all api.ShadowPairList
	waitFor(t, 30*time.Second, "both replicas' pairs on replica-1", func() bool {
		var err error
		all, err = rs[0].client.ShadowPairs(ctx, "chat", sluice.ShadowPairQuery{Limit: api.MaxLimit})
		return err == nil && len(all.Pairs) == 2*per
	})
	if !all.Fleet || all.Replica != "" || all.Kept != 500 {
		t.Errorf("the list says fleet %v, replica %q, kept %d; want the fleet's, no one replica, 500", all.Fleet, all.Replica, all.Kept)
	}
	names := map[string]int{}
	for _, p := range all.Pairs {
		names[p.Replica]++
		if p.Prompt == "" || p.Shadow.Text == "" || p.Diff.Refusal != "shadow_only" || p.Shadow.Version != "v1.1.0" {
			t.Errorf("pair %d of %s: prompt %q, candidate text %q, refusal %q; want the texts and the candidate's refusal", p.Seq, p.Replica, p.Prompt, p.Shadow.Text, p.Diff.Refusal)
		}
	}
	if len(names) != 2 {
		t.Fatalf("the pairs name replicas %v; want two, %d pairs each", names, per)
	}
	for name, n := range names {
		if n != per {
			t.Errorf("replica %s made %d of the pairs, want %d", name, n, per)
		}
	}
	seqs := func(ps []sluice.ShadowPair) []int64 {
		var out []int64
		for _, p := range ps {
			out = append(out, p.Seq)
		}
		return out
	}
	want := seqs(all.Pairs)
	other, err := rs[1].client.ShadowPairs(ctx, "chat", sluice.ShadowPairQuery{Limit: api.MaxLimit})
	if err != nil || !slices.Equal(seqs(other.Pairs), want) {
		t.Fatalf("replica-2 lists seqs %v (%v); replica-1 lists %v", seqs(other.Pairs), err, want)
	}
	// Pages of 5, asked of each replica in turn, as a load balancer would.
	var paged []int64
	q := sluice.ShadowPairQuery{Limit: 5}
	for i := 0; ; i++ {
		page, err := rs[i%2].client.ShadowPairs(ctx, "chat", q)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, seqs(page.Pairs)...)
		if !page.Truncated {
			break
		}
		q.Before = page.NextBefore
	}
	if !slices.Equal(paged, want) {
		t.Errorf("paged across the replicas: seqs %v, want %v", paged, want)
	}

	// A restart loses none: both stop (their last pairs flushed), a new
	// replica starts and lists the same.
	for _, r := range rs {
		r.cmd.Process.Signal(os.Interrupt)
		<-r.done
	}
	again := f.start(1)[0]
	after, err := again.client.ShadowPairs(ctx, "chat", sluice.ShadowPairQuery{Limit: api.MaxLimit})
	if err != nil || !slices.Equal(seqs(after.Pairs), want) {
		t.Fatalf("after a restart: seqs %v (%v), want %v", seqs(after.Pairs), err, want)
	}
	if after.Pairs[0].Prompt == "" || after.Pairs[0].Replica != all.Pairs[0].Replica {
		t.Errorf("after a restart the newest pair is %+v, want %+v", after.Pairs[0], all.Pairs[0])
	}
}

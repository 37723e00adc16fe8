package server_test

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// TestGateway_TokenBudgetCutStreams: a client that hangs up on every
// stream a few chunks in, before the last chunk that alone carries the
// backend's usage, was charged 0 tokens (the trial's request log said
// 0/0), so it streamed on a spent budget forever. Now each such stream
// is charged the gateway's estimate: the key's budget is reached by cut
// streams alone and it gets the 429 insufficient_quota; the request log
// marks the rows estimated, GET /admin/v1/usage says how many tokens were
// estimated, and, the budget being summed from the request log, a gateway
// restarted on the same store (what another replica reads) finds the key
// spent without a request of its own.
func TestGateway_TokenBudgetCutStreams(t *testing.T) {
	ctx := context.Background()
	// 200 tokens at 40 a second: each stream would take 5 s.
	b := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{TokensPerSecond: 40, OutputTokens: fakellm.TokenCount{Mean: 200}}})
	const secret, admin = "sk-cutter-budget-0123456789", "sk-ops-cut-budget-0123456789"
	const budget = 150
	cfg := config.Default()
	cfg.Listen = "127.0.0.1:0"
	cfg.Store = filepath.Join(t.TempDir(), "sluice.db")
	cfg.RequestLog.FlushInterval = 10 * time.Millisecond
	cfg.ClientKeys = []config.ClientKey{{Name: "cutter", Secret: secret, TokenBudget: budget, BudgetPeriod: sluice.BudgetDay}}
	cfg.Tokens = []config.TokenConfig{{Name: "ops", Role: sluice.RoleAdmin, Secret: admin}}
	opt := server.Options{Config: cfg, BudgetInterval: 20 * time.Millisecond}
	gw := startGateway(t, opt, chatDoc(map[string]string{"v1.0.0": b.URL()}, nil, nil))

	// cut streams a story and closes the stream after 4 content chunks;
	// it returns the API error of a refused request.
	cut := func(gw *server.Server) error {
		sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0))
		s := sdk.Chat.Completions.NewStreaming(ctx, openai.ChatCompletionNewParams{
			Model:    "chat",
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("write me a long story about a river")},
		})
		defer s.Close()
		for n := 0; n < 4 && s.Next(); {
			if ch := s.Current(); len(ch.Choices) > 0 && ch.Choices[0].Delta.Content != "" {
				n++
			}
		}
		return s.Err()
	}
	spent := func(err error) bool {
		var ae *openai.Error
		return errors.As(err, &ae) && ae.StatusCode == http.StatusTooManyRequests && ae.Code == "insufficient_quota"
	}
	streams := 0
	for {
		err := cut(gw)
		if spent(err) {
			break
		}
		if err != nil {
			t.Fatalf("stream %d: %v", streams+1, err)
		}
		if streams++; streams == 30 {
			t.Fatalf("a key of %d tokens a day still streams after %d streams cut after 4 chunks", budget, streams)
		}
	}
	if streams < 2 {
		t.Fatalf("spent after %d cut streams: the test needs estimates smaller than the budget", streams)
	}

	// The request log marks each row, and the usage report says how many
	// tokens were estimated: here, all of them.
	adm := api.NewClient(gw.URL(), admin)
	var rep api.UsageReport
	waitFor(t, "the request log to hold the cut streams", 10*time.Second, func() bool {
		var err error
		if rep, err = adm.Usage(ctx, sluice.RequestQuery{ClientKey: "cutter"}, api.UsageByKey); err != nil {
			t.Fatal(err)
		}
		return rep.Total.Requests == int64(streams)
	})
	total := rep.Total.InputTokens + rep.Total.OutputTokens
	if rep.Total.Canceled != int64(streams) || total < budget || rep.Total.EstimatedTokens != total {
		t.Fatalf("usage %+v: want %d canceled requests whose %d tokens (at least the budget, %d) are all estimated", rep.Total, streams, total, budget)
	}
	rows, err := adm.Requests(ctx, sluice.RequestQuery{ClientKey: "cutter"})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rows {
		if !o.TokensEstimated || o.ErrorClass != "canceled" || o.OutputTokens <= 0 || o.InputTokens <= 0 {
			t.Errorf("row %s: %d/%d tokens, estimated %v, class %q; want estimated tokens of a canceled stream", o.RequestID, o.InputTokens, o.OutputTokens, o.TokensEstimated, o.ErrorClass)
		}
	}

	// The budget is summed from the request log: a gateway started
	// afresh on the store (this replica's charges gone) finds the key
	// spent by the estimates alone.
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := gw.Shutdown(sctx); err != nil {
		t.Fatal(err)
	}
	again := startGateway(t, opt, sluice.ApplyDoc{})
	var used *int64
	waitFor(t, "the restarted gateway's sum of the key's use", 10*time.Second, func() bool {
		list, err := api.NewClient(again.URL(), admin).KeysAll(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range list.Keys {
			if k.Name == "cutter" {
				used = k.BudgetUsed
			}
		}
		return used != nil && *used > 0
	})
	if *used != total {
		t.Errorf("budget_used %d after the restart, want the %d estimated tokens", *used, total)
	}
	if err := cut(again); !spent(err) || !strings.Contains(err.Error(), "cutter") {
		t.Errorf("a stream after the restart: %v, want the key's budget spent (429 insufficient_quota naming it)", err)
	}
}

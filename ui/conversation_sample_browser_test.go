package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"
	"github.com/openai/openai-go/responses"

	"github.com/sluicehq/sluice/fakellm"
)

// TestDashboard_ConversationSample: the stage's sample counts a Responses
// conversation once, so the Stage sample row read "3 of 1000000 split
// requests to the candidate" after 12 of them. It says what the samples
// stand for, as sluice rollout status does.
func TestDashboard_ConversationSample(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5}))
	spec := canarySpec()
	spec.CanaryPercent = 50
	spec.Analysis.MinSamples = 1000000 // never reached: the rollout stays at its stage
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "conversations", spec); err != nil {
		t.Fatal(err)
	}
	// Agent sessions of 4 turns until 3 of them began on the candidate
	// (the later turns follow the first's version).
	cl := openai.NewClient(option.WithBaseURL(g.URL()+"/v1"), option.WithMaxRetries(0))
	began := 0
	for i := 0; began < 3; i++ {
		if i == 2000 {
			t.Fatal("2000 sessions, none on the candidate")
		}
		user := option.WithHeader("X-User-Id", fmt.Sprintf("agent-%d", i))
		var hr *http.Response
		r, err := cl.Responses.New(t.Context(), responses.ResponseNewParams{Model: "chat",
			Input: responses.ResponseNewParamsInputUnion{OfString: openai.String("plan")}}, user, option.WithResponseInto(&hr))
		if err != nil {
			t.Fatal(err)
		}
		if hr.Header.Get("X-Model-Version") != "chat:v1.1.0" {
			continue
		}
		began++
		for turn := range 3 {
			if r, err = cl.Responses.New(t.Context(), responses.ResponseNewParams{Model: "chat", PreviousResponseID: openai.String(r.ID),
				Input: responses.ResponseNewParamsInputUnion{OfString: openai.String(fmt.Sprintf("step %d", turn))}}, user); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := chromedp.Do(ctx, signInAs(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	const want = "3 of 1000000 split requests to the candidate (analysis.min_samples), a Responses conversation's turns counted once (12 requests)"
	var sample string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		got, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.getElementById('sample-progress') || {}).textContent || ""`))
		if err != nil {
			t.Fatal(err)
		}
		sample = got
		if regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(sample) {
			break
		}
	}
	if !regexp.MustCompile(regexp.QuoteMeta(want)).MatchString(sample) {
		t.Errorf("the Stage sample row says %q; want %q", sample, want)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
	"github.com/sluicehq/sluice/server"
)

// hookSpec is a progressive rollout whose statistical thresholds are loose
// enough that only its webhooks decide it.
func hookSpec(hooks ...sluice.RolloutWebhook) sluice.RolloutSpec {
	s := gatedSpec()
	s.Stages = []sluice.RolloutStage{{Percent: 20, Hold: sluice.Duration(500 * time.Millisecond), MinSamples: 20}, {Percent: 100}}
	s.Analysis.Interval = sluice.Duration(200 * time.Millisecond)
	s.Webhooks = hooks
	return s
}

// evalSuite is a pre_rollout webhook that runs a golden set against the
// candidate through the gateway, with the OpenAI SDK and the pin the body
// names, and passes when every answer came from the candidate and routing
// had not moved yet.
type evalSuite struct {
	gw     *server.Server
	fail   bool
	mu     sync.Mutex
	bodies []rollout.WebhookBody
	served []string // X-Model-Version of each golden-set answer
	policy []string // the model's policy as each call found it
	errs   []string
}

func (e *evalSuite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var body rollout.WebhookBody
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	client := openai.NewClient(option.WithBaseURL(e.gw.URL()+"/v1"), option.WithAPIKey("none"), option.WithMaxRetries(0))
	passed := 0
	for _, q := range []string{"What is 2+2?", "Name a colour.", "Say hi."} {
		var resp *http.Response
		_, err := client.Chat.Completions.New(r.Context(), openai.ChatCompletionNewParams{
			Model:    body.CandidatePin,
			Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage(q)},
		}, option.WithResponseInto(&resp))
		e.mu.Lock()
		if err != nil {
			e.errs = append(e.errs, err.Error())
		}
		if err == nil {
			passed++
			e.served = append(e.served, resp.Header.Get("X-Model-Version"))
		}
		e.mu.Unlock()
	}
	e.mu.Lock()
	e.bodies = append(e.bodies, body)
	e.policy = append(e.policy, e.gw.Control.Registry().Models["chat"].Policy.String())
	e.mu.Unlock()
	pass := passed == 3 && !e.fail
	msg := fmt.Sprintf("golden set %d/3", passed)
	if e.fail {
		msg = "golden set 1/3: regressions in arithmetic"
	}
	json.NewEncoder(w).Encode(map[string]any{"pass": pass, "message": msg})
}

func eventsOf(r sluice.Rollout, kind string) []string {
	var out []string
	for _, e := range r.Events {
		if e.Kind == kind {
			out = append(out, e.Message)
		}
	}
	return out
}

func TestRollout_PreRolloutWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("runs rollouts through a gateway (skipped under -short)")
	}
	run := func(t *testing.T, fail bool) (sluice.Rollout, *server.Server, *api.Client, *evalSuite) {
		stable, cand := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 3})
		gw, cl := startPromGateway(t, func(*config.Gateway) {}, stable, cand)
		suite := &evalSuite{gw: gw, fail: fail}
		hook := httptest.NewServer(suite)
		t.Cleanup(hook.Close)
		l := startLoad(t, gw.URL(), 2)
		defer l.finish()
		if _, err := cl.StartRollout(context.Background(), hookSpec(sluice.RolloutWebhook{Name: "golden-set", URL: hook.URL + "/run", Type: sluice.WebhookPreRollout}), "eval before traffic"); err != nil {
			t.Fatal(err)
		}
		r := waitPhase(t, cl, func(p sluice.Phase) bool { return !p.Active() }, 60*time.Second)
		return r, gw, cl, suite
	}

	t.Run("PassProceeds", func(t *testing.T) {
		r, _, cl, suite := run(t, false)
		if r.Phase != sluice.PhasePromoted {
			t.Fatalf("phase %s (%s), want promoted; golden set errors %q", r.Phase, r.Decision, suite.errs)
		}
		suite.mu.Lock()
		defer suite.mu.Unlock()
		if len(suite.errs) > 0 {
			t.Errorf("golden set errors: %q", suite.errs)
		}
		if len(suite.bodies) != 1 || suite.bodies[0].CandidatePin != "chat:v1.1.0" || suite.bodies[0].Rollout != r.ID || suite.bodies[0].Type != "pre_rollout" || suite.bodies[0].CallID == "" {
			t.Fatalf("calls: %+v", suite.bodies)
		}
		if strings.Join(suite.served, ",") != "chat:v1.1.0,chat:v1.1.0,chat:v1.1.0" {
			t.Errorf("the golden set was answered by %v, want the candidate each time", suite.served)
		}
		if suite.policy[0] != "specific v1.0.0" {
			t.Errorf("traffic had moved before the webhook answered: %s", suite.policy[0])
		}
		hooks := eventsOf(r, "webhook")
		if len(hooks) != 2 || !strings.Contains(hooks[0], "calling webhook golden-set (pre_rollout, call "+suite.bodies[0].CallID) || hooks[1] != "webhook golden-set (pre_rollout) passed: golden set 3/3" {
			t.Errorf("timeline: %q", hooks)
		}
		// The webhook's events come before the candidate's first stage.
		var order []string
		for _, e := range r.Events {
			order = append(order, e.Kind)
		}
		if s := strings.Join(order, " "); !strings.HasPrefix(s, "started webhook webhook warmed stage") {
			t.Errorf("timeline order: %s", s)
		}
		audit, err := cl.Audit(context.Background(), sluice.AuditQuery{Model: "chat", Action: "rollout.webhook"})
		if err != nil || len(audit) != 2 {
			t.Fatalf("audit: %d entries (%v), want the call and its answer", len(audit), err)
		}
	})

	t.Run("FailRollsBackWithNoTraffic", func(t *testing.T) {
		r, gw, _, suite := run(t, true)
		if r.Phase != sluice.PhaseFailed || !r.LiveAt.IsZero() || r.Percent != 0 {
			t.Fatalf("phase %s percent %v live %v (%s), want failed before any traffic", r.Phase, r.Percent, r.LiveAt, r.Decision)
		}
		if !strings.Contains(r.Decision, "pre_rollout webhook golden-set failed: golden set 1/3: regressions in arithmetic") {
			t.Errorf("decision: %s", r.Decision)
		}
		if got := gw.Control.Registry().Models["chat"].Policy.String(); got != "specific v1.0.0" {
			t.Errorf("policy: %s", got)
		}
		if slices := eventsOf(r, "stage"); len(slices) != 0 {
			t.Errorf("stages: %q", slices)
		}
		suite.mu.Lock()
		defer suite.mu.Unlock()
		if len(suite.bodies) != 1 {
			t.Errorf("%d calls", len(suite.bodies))
		}
	})
}

func TestRollout_ConfirmPromotionWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a rollout through a gateway (skipped under -short)")
	}
	stable, cand := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 4})
	logs := &syncBuffer{}
	gw, cl := startRolloutGatewayLogged(t, "", logs, func(cfg *config.Gateway) {
		cfg.Rollouts.Tick = 50 * time.Millisecond
		cfg.OutlierEjection.Disabled = true
	}, stable, cand)
	var approve atomic.Bool
	var calls, unauthorized atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Header.Get("Authorization") != "Bearer approver-secret" {
			unauthorized.Add(1)
		}
		if approve.Load() {
			fmt.Fprint(w, `{"pass": true, "message": "approved by release-bot"}`)
			return
		}
		fmt.Fprint(w, `{"pass": false, "message": "waiting for the change window"}`)
	}))
	defer hook.Close()
	l := startLoad(t, gw.URL(), 2)
	defer l.finish()
	if _, err := cl.StartRollout(context.Background(), hookSpec(sluice.RolloutWebhook{Name: "release-gate", URL: hook.URL, Type: sluice.WebhookConfirmPromotion, Timeout: sluice.Duration(5 * time.Second),
		Headers: map[string]string{"Authorization": "Bearer approver-secret"}}), "approval before 100%"); err != nil {
		t.Fatal(err)
	}
	// Held: the promotion waits for the webhook, asked again and again.
	deadline := time.Now().Add(60 * time.Second)
	var st api.RolloutStatus
	for {
		var err error
		st, err = cl.Rollout(context.Background(), "chat")
		if err == nil && st.Rollout.WebhookWait != nil && st.Rollout.WebhookWait.Asked >= 3 {
			break
		}
		if err == nil && !st.Rollout.Phase.Active() {
			t.Fatalf("ended %s: %s", st.Rollout.Phase, st.Rollout.Decision)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the promotion never waited on the webhook: %+v, %v", st.Rollout.WebhookWait, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if r := st.Rollout; r.Phase != sluice.PhaseProgressing || r.Percent != 20 {
		t.Fatalf("phase %s percent %v: want held at the last stage", r.Phase, r.Percent)
	}
	if got := gw.Control.Registry().Models["chat"].Policy.String(); got != "split v1.0.0=80 v1.1.0=20" {
		t.Errorf("policy while held: %s", got)
	}
	// Each answer is logged once at info; the same hold asked again goes
	// to debug (a weekend's change freeze wrote a line every interval).
	if n := strings.Count(logs.String(), `msg="rollout webhook"`); n != 1 {
		t.Errorf("%d info lines for a hold asked %d times, want 1:\n%s", n, st.Rollout.WebhookWait.Asked, logs.String())
	}
	next := api.WaitingFor(st, time.Now())
	if !strings.Contains(next, "waits for webhook release-gate") || !strings.Contains(next, "waiting for the change window") {
		t.Errorf("Next: %s", next)
	}
	if h := eventsOf(st.Rollout, "webhook"); len(h) != 2 || !strings.Contains(h[1], "holds the promotion: waiting for the change window") {
		t.Errorf("timeline: %q (a repeated answer is counted, not repeated)", h)
	}
	// The header's value reaches the webhook, and admins alone read it
	// back: the operator's token sees its name.
	if got := st.Rollout.Spec.Webhooks[0].Headers["Authorization"]; got != "REDACTED" {
		t.Errorf("an operator reads the webhook's Authorization as %q", got)
	}
	secret, err := gw.CreateToken(context.Background(), "adm", sluice.RoleAdmin, "test", "setup")
	if err != nil {
		t.Fatal(err)
	}
	if ast, err := api.NewClient(gw.AdminURL(), secret).Rollout(context.Background(), "chat"); err != nil || ast.Rollout.Spec.Webhooks[0].Headers["Authorization"] != "Bearer approver-secret" {
		t.Errorf("an admin reads %+v (%v)", ast.Rollout.Spec.Webhooks, err)
	}
	if n := unauthorized.Load(); n > 0 {
		t.Errorf("%d calls without the header", n)
	}
	approve.Store(true)
	r := waitPhase(t, cl, func(p sluice.Phase) bool { return !p.Active() }, 30*time.Second)
	if r.Phase != sluice.PhasePromoted || !strings.Contains(r.Decision, "confirmed by webhook release-gate") {
		t.Fatalf("phase %s: %s", r.Phase, r.Decision)
	}
	if h := eventsOf(r, "webhook"); !strings.Contains(h[len(h)-1], "webhook release-gate (confirm_promotion) passed: approved by release-bot") {
		t.Errorf("timeline: %q", h)
	}
	// The audit: the first hold is a rollout.webhook entry; the same answer
	// again, every analysis interval for as long as the hold lasts, is
	// filed with the routine analyses (left out of sluice audit's listing
	// by default), its reason still naming the answer and its call id; the
	// pass that promotes is the decision.
	audit, err := cl.Audit(context.Background(), sluice.AuditQuery{Model: "chat", Action: "rollout.webhook"})
	if err != nil || len(audit) != 1 || !strings.Contains(audit[0].Reason, "webhook release-gate holds") {
		var reasons []string
		for _, e := range audit {
			reasons = append(reasons, e.Reason)
		}
		t.Fatalf("audit: %d rollout.webhook entries (%v), want the first hold alone: %q", len(audit), err, reasons)
	}
	repeats := 0
	analyses, err := cl.Audit(context.Background(), sluice.AuditQuery{Model: "chat", Action: "rollout.analysis"})
	for _, e := range analyses {
		if strings.Contains(e.Reason, "webhook release-gate holds (call ") {
			repeats++
		}
	}
	if err != nil || repeats < 2 {
		t.Errorf("audit: %d repeated holds among the analyses (%v), want each answer kept there", repeats, err)
	}
	decisions, err := cl.Audit(context.Background(), sluice.AuditQuery{Model: "chat", Action: "rollout.decision"})
	if err != nil || len(decisions) == 0 || !strings.Contains(decisions[0].Reason, "webhook release-gate passes") {
		t.Errorf("audit: the promotion's decision %+v (%v)", decisions, err)
	}
}

// TestRollout_StageWebhook: a stage webhook is asked before the rollout's
// next stage; its fail rolls back from the first stage, the next never
// reached.
func TestRollout_StageWebhook(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a rollout through a gateway (skipped under -short)")
	}
	stable, cand := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 5})
	gw, cl := startPromGateway(t, func(*config.Gateway) {}, stable, cand)
	var bodies []rollout.WebhookBody
	var mu sync.Mutex
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b rollout.WebhookBody
		json.NewDecoder(r.Body).Decode(&b)
		mu.Lock()
		bodies = append(bodies, b)
		mu.Unlock()
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprint(w, `{"message": "KV cache at 97% on the candidate's pool"}`)
	}))
	defer hook.Close()
	l := startLoad(t, gw.URL(), 2)
	defer l.finish()
	spec := hookSpec(sluice.RolloutWebhook{Name: "kv-cache", URL: hook.URL, Type: sluice.WebhookStage})
	spec.Stages = []sluice.RolloutStage{{Percent: 20, Hold: sluice.Duration(300 * time.Millisecond), MinSamples: 20}, {Percent: 50}, {Percent: 100}}
	if _, err := cl.StartRollout(context.Background(), spec, "a check between stages"); err != nil {
		t.Fatal(err)
	}
	r := waitPhase(t, cl, func(p sluice.Phase) bool { return !p.Active() }, 60*time.Second)
	if r.Phase != sluice.PhaseRolledBack || !strings.Contains(r.Decision, "stage webhook kv-cache failed before stage 2 (50%): answered 503: KV cache at 97% on the candidate's pool") {
		t.Fatalf("phase %s: %s", r.Phase, r.Decision)
	}
	if got := gw.Control.Registry().Models["chat"].Policy.String(); got != "specific v1.0.0" {
		t.Errorf("policy: %s", got)
	}
	if n := len(eventsOf(r, "stage")); n != 1 {
		t.Errorf("%d stage events, want the first alone", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(bodies) != 1 || bodies[0].Type != "stage" || bodies[0].Stage != 1 || bodies[0].Percent != 20 {
		t.Errorf("calls: %+v", bodies)
	}
}

// TestRollout_ConfirmPromotionActedOnAtOnce: a held promotion is promoted
// as soon as its webhook answers pass, not at the rollout's next analysis
// interval. The webhook holds its first call and passes from its second:
// the analysis that takes the hold asks again, and the analysis that
// promotes follows the pass with no scheduled analysis between them, well
// within the interval (without the fix the promoting analysis is the
// next scheduled one, a whole interval after the hold's, by construction
// of the schedule).
func TestRollout_ConfirmPromotionActedOnAtOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a rollout through a gateway (skipped under -short)")
	}
	stable, cand := MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 6})
	gw, cl := startPromGateway(t, func(*config.Gateway) {}, stable, cand)
	var calls atomic.Int64
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) == 1 {
			fmt.Fprint(w, `{"pass": false, "message": "waiting for the change window"}`)
			return
		}
		fmt.Fprint(w, `{"pass": true, "message": "approved by release-bot"}`)
	}))
	defer hook.Close()
	l := startLoad(t, gw.URL(), 2)
	defer l.finish()
	const interval = 3 * time.Second
	spec := hookSpec(sluice.RolloutWebhook{Name: "release-gate", URL: hook.URL, Type: sluice.WebhookConfirmPromotion, Timeout: sluice.Duration(5 * time.Second)})
	spec.Analysis.Interval = sluice.Duration(interval)
	if _, err := cl.StartRollout(context.Background(), spec, "approval before 100%"); err != nil {
		t.Fatal(err)
	}
	r := waitPhase(t, cl, func(p sluice.Phase) bool { return !p.Active() }, 60*time.Second)
	if r.Phase != sluice.PhasePromoted || !strings.Contains(r.Decision, "confirmed by webhook release-gate") {
		t.Fatalf("phase %s: %s", r.Phase, r.Decision)
	}
	if n := calls.Load(); n != 2 {
		t.Errorf("%d calls, want 2 (the hold, then the pass)", n)
	}
	// The timeline: waits, holds, passes, promoted, in that order.
	var order []string
	for _, e := range r.Events {
		switch {
		case strings.Contains(e.Message, "the promotion waits for webhook release-gate"):
			order = append(order, "waits")
		case strings.Contains(e.Message, "webhook release-gate (confirm_promotion) holds the promotion"):
			order = append(order, "holds")
		case strings.Contains(e.Message, "webhook release-gate (confirm_promotion) passed"):
			order = append(order, "passed")
		case e.Kind == "promoted":
			order = append(order, "promoted")
		}
	}
	if got := strings.Join(order, " "); got != "waits holds passed promoted" {
		t.Errorf("timeline order: %s", got)
	}
	// The analyses: the one that took the hold, then the promotion, with
	// none between them, the promotion not waiting for the next interval.
	audit, err := gw.Control.Store().Audit(context.Background(), sluice.AuditQuery{Model: "chat"})
	if err != nil {
		t.Fatal(err)
	}
	var analyses []sluice.AuditEntry // oldest first, one per analysis
	for i := len(audit) - 1; i >= 0; i-- {
		if a := audit[i]; strings.HasPrefix(a.Reason, "analysis of "+r.ID) && strings.HasPrefix(a.Action, "rollout.") {
			analyses = append(analyses, a)
		}
	}
	n := len(analyses)
	if n < 2 || !strings.Contains(analyses[n-2].Reason, "webhook release-gate holds") || analyses[n-1].Action != "rollout.decision" || !strings.Contains(analyses[n-1].Reason, "webhook release-gate passes") {
		var rs []string
		for _, a := range analyses {
			rs = append(rs, a.Action+": "+a.Reason)
		}
		t.Fatalf("analyses: want the hold's, then the promotion, with none between:\n%s", strings.Join(rs, "\n"))
	}
	// That the answer is acted on at once, not an interval later, is
	// rollout's TestConfirmPromotion_AnswerTakenAtOnce (a fake clock) and
	// TestConfirmPromotion_RunWakesOnAnswer (an hour's tick): timing it here
	// on the wall clock would be a timed assertion.
}

package api

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/rollout"
)

// Rollouts is the rollout controller as the API needs it.
type Rollouts interface {
	Start(ctx context.Context, actor, reason string, spec sluice.RolloutSpec) (sluice.Rollout, error)
	// Check says whether Start could start spec on reg, without starting.
	Check(reg *sluice.Registry, spec sluice.RolloutSpec, reason string) (sluice.RolloutSpec, error)
	Act(ctx context.Context, actor, model string, kind rollout.EventKind, message string) (sluice.Rollout, error)
	// Conclude ends model's A/B test on the arm pick names ("candidate" or
	// "baseline"), recording why (rollout.Controller.Conclude).
	Conclude(ctx context.Context, actor, model, pick, reason string) (sluice.Rollout, error)
	// StageSamples is the candidate's sample in the rollout's current stage.
	StageSamples(r *sluice.Rollout) int
	// Seeding says whether r's windows are still being filled from the
	// request log after a restart: it is not analysed yet.
	Seeding(r *sluice.Rollout) bool
	// Drill runs a fire drill of the rollback.
	Drill(ctx context.Context, actor, reason, model, candidate string, percent float64) (rollout.DrillReport, error)
}

// stageSampler is Rollouts with the requests its stage sample stands for
// (rollout.Controller.StageSample), which RolloutStatus.StageRequests
// shows.
type stageSampler interface {
	StageSample(r *sluice.Rollout) (samples, requests int)
}

// DrillRequest starts a fire drill.
type DrillRequest struct {
	Model   string  `json:"model"`
	To      string  `json:"to"`
	Percent float64 `json:"percent,omitempty"`
	Reason  string  `json:"reason"`
}

func (s *Server) drill(w http.ResponseWriter, r *http.Request) error {
	if s.rollouts == nil {
		return sluice.Errorf(sluice.CodeUnavailable, "this gateway runs no rollout controller")
	}
	var req DrillRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	rep, err := s.rollouts.Drill(r.Context(), actor(r), req.Reason, req.Model, req.To, req.Percent)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

// StartRolloutRequest starts a rollout.
type StartRolloutRequest struct {
	Spec   sluice.RolloutSpec `json:"spec"`
	Reason string             `json:"reason"`
}

// RolloutList holds rollouts: each model's latest, or a page of one
// model's history (history=true), newest first.
type RolloutList struct {
	Rollouts []sluice.Rollout `json:"rollouts"`
	// Truncated says a page of history holds fewer rollouts than the
	// model has: the next page is before=NextBefore, the id of the last
	// one here.
	Truncated  bool   `json:"truncated,omitempty"`
	NextBefore string `json:"next_before,omitempty"`
}

// RolloutStatus is a rollout with its live progress toward the current
// stage's sample.
type RolloutStatus struct {
	Rollout sluice.Rollout `json:"rollout"`
	// Verdict is the latest analysis, if any.
	Verdict *sluice.Verdict `json:"verdict,omitempty"`
	// Policy is the model's live policy.
	Policy string `json:"policy"`
	// StageSamples is the candidate's sample in the current stage, and
	// StageNeed the sample the stage needs before it may advance.
	StageSamples int `json:"stage_samples"`
	StageNeed    int `json:"stage_need"`
	// StageSampleOf says what StageSamples counts and which setting sets
	// StageNeed (rollout.StageSampleOf): "split requests to the candidate
	// at this stage (the stage's min_samples)". Empty with no StageNeed.
	StageSampleOf string `json:"stage_sample_of,omitempty"`
	// StageRequests is the candidate's requests StageSamples stands for,
	// when they are more: a Responses conversation's turns count once in
	// the sample (observe.Units). Zero when every request is a sample.
	StageRequests int `json:"stage_requests,omitempty"`
	// ABReport is a completed A/B test's report (its "ab_report" event's
	// data): each metric's difference, interval, Holm-adjusted p-value and
	// winner, overall and per request category.
	ABReport *analysis.Report `json:"ab_report,omitempty"`
	// ABLateFeedback is users' ratings of the A/B test's sample that
	// arrived after its report was drawn, per arm, counts and means with
	// no verdict drawn on them (rollout.LateFeedback): not in the report,
	// which stays as drawn. Nil without a report, or for a report stored
	// before reports kept their span; ABLateFeedbackError says why the
	// store's ratings could not be read.
	ABLateFeedback      *rollout.LateRatings `json:"ab_late_feedback,omitempty"`
	ABLateFeedbackError string               `json:"ab_late_feedback_error,omitempty"`
	// Next says what the rollout waits for before its next step, when
	// its progress does not say it (WaitingFor, at the server's clock
	// when answered): "the sample and hold are in: the next step comes
	// when the analysis passes ...". Empty when there is nothing to add.
	Next string `json:"next,omitempty"`
	// Seeding is true while a gateway restarted mid-rollout is still
	// reading the rollout's requests back from the request log (SQLite; on
	// PostgreSQL those older than the fleet's flushes hold, and until it
	// has read the flushes too):
	// StageSamples counts this process's requests until the candidate's
	// rows are read, and no analysis runs until it is done (Next says so).
	Seeding bool `json:"seeding,omitempty"`
}

// ABReportOf returns the report r's A/B test ended with, or nil when it
// has none (another strategy, or not ended yet).
func ABReportOf(r sluice.Rollout) *analysis.Report { return rollout.ABReportOf(r) }

var rolloutActions = map[string]rollout.EventKind{
	"promote": rollout.EvPromote, "pause": rollout.EvPause, "resume": rollout.EvResume,
	"abort": rollout.EvAbort, "undo": rollout.EvUndo,
}

func (s *Server) listRollouts(w http.ResponseWriter, r *http.Request) error {
	if history, err := historyAsked(r); err != nil {
		return err
	} else if history {
		return s.rolloutHistory(w, r)
	}
	reg := s.ctl.Registry()
	out := RolloutList{Rollouts: []sluice.Rollout{}}
	model := r.URL.Query().Get("model")
	for _, name := range reg.ModelNames() {
		if ro := reg.Rollouts[name]; ro != nil && (model == "" || model == name) {
			out.Rollouts = append(out.Rollouts, *ro)
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// LateFeedbackTimeout bounds the read of the ratings that arrived after
// an A/B report (RolloutStatus.ABLateFeedback) in a rollout's status.
const LateFeedbackTimeout = 2 * time.Second

func (s *Server) getRollout(w http.ResponseWriter, r *http.Request) error {
	model, err := pathName(r, "model", "model")
	if err != nil {
		return err
	}
	reg := s.ctl.Registry()
	ro := reg.Rollouts[model]
	if id := r.URL.Query().Get("id"); id != "" && (ro == nil || ro.ID != id) {
		// An older rollout, ended, read whole from the store.
		if reg.Models[model] == nil {
			return errNoModel(model)
		}
		old, err := s.storedRollout(r, model, id)
		if err != nil {
			return err
		}
		ro = &old
	}
	if ro == nil {
		if reg.Models[model] == nil {
			return errNoModel(model)
		}
		return sluice.Errorf(sluice.CodeNotFound, "model %s has no rollout: start one with sluice rollout start %s --to VERSION", model, model)
	}
	st := RolloutStatus{Rollout: *ro, Policy: reg.Models[model].Policy.String()}
	if s.rollouts != nil && ro.Phase.Active() {
		if sr, ok := s.rollouts.(stageSampler); ok {
			var requests int
			st.StageSamples, requests = sr.StageSample(ro)
			if requests > st.StageSamples {
				st.StageRequests = requests
			}
		} else {
			st.StageSamples = s.rollouts.StageSamples(ro)
		}
	}
	st.StageNeed = rollout.StageNeed(ro) // as /metrics and the dashboard say
	st.StageSampleOf = rollout.StageSampleOf(ro)
	st.ABReport = ABReportOf(*ro)
	if st.ABReport != nil && s.store != nil {
		// The one read of the store in a status of the registry's (the
		// dashboard asks every few seconds): a store that hangs must not
		// hold the status with it.
		ctx, cancel := context.WithTimeout(r.Context(), LateFeedbackTimeout)
		late, err := rollout.LateFeedback(ctx, s.store, *ro)
		cancel()
		if err != nil {
			// The status is the registry's and answers without the
			// store; the late ratings are said to be missing, not absent.
			s.log.Warn("users' ratings after an A/B report could not be read", "rollout", ro.ID, "err", err)
			st.ABLateFeedbackError = "users' ratings that arrived after the report could not be read from the store; ask again"
		}
		st.ABLateFeedback = late
	}
	if len(ro.LastVerdict) > 0 {
		var v sluice.Verdict
		if err := json.Unmarshal(ro.LastVerdict, &v); err == nil {
			st.Verdict = &v
		}
	}
	st.Seeding = s.rollouts != nil && ro.Phase.Active() && s.rollouts.Seeding(ro)
	st.Next = WaitingFor(st, s.now())
	writeJSON(w, http.StatusOK, st)
	return nil
}

func (s *Server) startRollout(w http.ResponseWriter, r *http.Request) error {
	if s.rollouts == nil {
		return sluice.Errorf(sluice.CodeUnavailable, "this gateway runs no rollout controller")
	}
	var req StartRolloutRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	// Said here, where the body's shape is known: the controller would
	// answer that model "" is not registered.
	for _, f := range []struct{ field, value string }{{"spec.model", req.Spec.Model}, {"spec.candidate", req.Spec.Candidate}} {
		if f.value == "" {
			return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{f.field}, Message: fmt.Sprintf(`the rollout names no %s: send {"spec": {"model": "chat", "candidate": "v1.2.0"}, "reason": "why"} (more settings go in spec; the CLI's sluice rollout start)`, strings.TrimPrefix(f.field, "spec."))}
		}
	}
	ro, err := s.rollouts.Start(r.Context(), actor(r), req.Reason, req.Spec)
	if err != nil {
		return err
	}
	out := StartedRollout{Rollout: ro}
	if note := sluice.NoHoldWarning(&req.Spec); note != "" {
		out.Warnings = append(out.Warnings, note)
	}
	writeJSON(w, http.StatusCreated, out)
	return nil
}

func (s *Server) actRollout(w http.ResponseWriter, r *http.Request) error {
	if s.rollouts == nil {
		return sluice.Errorf(sluice.CodeUnavailable, "this gateway runs no rollout controller")
	}
	model, err := pathName(r, "model", "model")
	if err != nil {
		return err
	}
	name := r.PathValue("action")
	if name == "conclude" {
		return s.concludeRollout(w, r, model)
	}
	kind, ok := rolloutActions[name]
	if !ok {
		return sluice.Errorf(sluice.CodeNotFound, "unknown rollout action %q: use promote, pause, resume, abort, undo, or conclude (an A/B test)", name)
	}
	var req ReasonRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	// Every action needs a reason, as every other change does: the audit
	// says why the candidate was promoted, held or let go on. The
	// controller's own steps (a stage passed, a bake ended) do not come
	// through here.
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	ro, err := s.rollouts.Act(r.Context(), actor(r), model, kind, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ro)
	return nil
}

// ConcludeRequest is the body of POST /admin/v1/rollouts/{model}/conclude.
type ConcludeRequest struct {
	// Pick is the arm the A/B test ends on: "candidate" ships it (as a
	// promotion), "baseline" keeps the routing from before the test.
	Pick string `json:"pick"`
	// Reason goes into the audit log and the rollout's decision; required.
	Reason string `json:"reason"`
}

// concludeRollout serves POST /admin/v1/rollouts/{model}/conclude, one of
// actRollout's actions with a body of its own.
func (s *Server) concludeRollout(w http.ResponseWriter, r *http.Request, model string) error {
	var req ConcludeRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Pick == "" {
		return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"pick"}, Message: `say which arm the A/B test ends on: {"pick": "candidate", "reason": "why"} ships the candidate, {"pick": "baseline", "reason": "why"} keeps the baseline (the CLI's --pick)`}
	}
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	if s.ctl.Registry().Models[model] == nil {
		return errNoModel(model)
	}
	ro, err := s.rollouts.Conclude(r.Context(), actor(r), model, req.Pick, req.Reason)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ro)
	return nil
}

func (s *Server) getPlan(w http.ResponseWriter, r *http.Request) error {
	model, err := pathName(r, "model", "model")
	if err != nil {
		return err
	}
	reg := s.ctl.Registry()
	if reg.Models[model] == nil {
		return errNoModel(model)
	}
	registered := func(param, tag string) error {
		if reg.Version(model, tag) != nil {
			return nil
		}
		names := []string{}
		for _, v := range reg.VersionsOf(model) {
			names = append(names, v.Version)
		}
		slices.Sort(names)
		return &sluice.Error{Code: sluice.CodeNotFound, Fields: []string{param}, Message: fmt.Sprintf("%s: version %s:%s is not registered; %s has %s", param, model, tag, model, strings.Join(names, ", "))}
	}
	to := r.URL.Query().Get("to")
	if to == "" {
		return badRequest("to", "say which version to plan for: add ?to=VERSION, such as ?to=v1.2.0")
	}
	if err := registered("to", to); err != nil {
		return err
	}
	from := r.URL.Query().Get("from")
	if from == "" {
		from = rollout.StableOf(reg, model)
	} else if err := registered("from", from); err != nil {
		return err
	}
	if from == to {
		// As a rollout start refuses it: a plan of v1 → v1 was rated
		// CRITICAL, "another model family (unknown → unknown)".
		return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"to"}, Message: fmt.Sprintf("%s:%s is already the baseline (the version the plan starts from): nothing to plan; name another version to move to, or another to start from with from", model, to)}
	}
	rate := 0.0
	if q := r.URL.Query().Get("rate"); q != "" {
		var err error
		rate, err = strconv.ParseFloat(q, 64)
		if err != nil || rate < 0 || math.IsInf(rate, 0) || math.IsNaN(rate) {
			return badRequest("rate", fmt.Sprintf("rate %q is not a number of requests per second: use one such as ?rate=50, or leave it out to use the observed rate", q))
		}
	} else if s.rate != nil {
		rate = s.rate(model)
	}
	// guards: the rollout's analysis.guards (repeated, or comma-separated),
	// checked as the rollout's start checks them.
	var guards []string
	for _, g := range r.URL.Query()["guards"] {
		for n := range strings.SplitSeq(g, ",") {
			if n = strings.TrimSpace(n); n != "" {
				guards = append(guards, n)
			}
		}
	}
	// strategy: the one the rollout's start would name, "" for the
	// planner's: whether the guards would be judged depends on it.
	strategy := sluice.Strategy(r.URL.Query().Get("strategy"))
	if strategy != "" && !slices.Contains(sluice.Strategies, strategy) {
		names := make([]string, len(sluice.Strategies))
		for i, st := range sluice.Strategies {
			names[i] = string(st)
		}
		return badRequest("strategy", fmt.Sprintf("unknown strategy %q: use %s, or leave it out for the planner's", strategy, strings.Join(names, ", ")))
	}
	// canary_percent and ab_samples: the start's --canary-percent and
	// --ab-samples, checked as the start checks them.
	start := sluice.RolloutSpec{Model: model, Baseline: from, Candidate: to, Strategy: strategy}
	for _, f := range []struct {
		name string
		set  func(float64)
	}{
		{"canary_percent", func(v float64) { start.CanaryPercent = v }},
		{"ab_samples", func(v float64) { start.ABSamples = int(v) }},
	} {
		q := r.URL.Query().Get(f.name)
		if q == "" {
			continue
		}
		v, err := strconv.ParseFloat(q, 64)
		if err != nil || math.IsInf(v, 0) || math.IsNaN(v) || f.name == "ab_samples" && v != math.Trunc(v) {
			return badRequest(f.name, fmt.Sprintf("%s %q is not a number: use one such as ?%s=20", f.name, q, f.name))
		}
		if strategy == "" {
			return badRequest(f.name, fmt.Sprintf("%s is a setting of the strategy a start names: name it too (--strategy canary or abtest; ?strategy= on the API)", f.name))
		}
		f.set(v)
	}
	if start.Strategy != "" {
		if err := rollout.UnusedSettings(start); err != nil {
			return err
		}
		if err := rollout.Validate(rollout.WithDefaults(start)); err != nil {
			return err
		}
	}
	p := rollout.MakePlan(reg, model, to, from, rate)
	// The rollout a start naming strategy runs: its defaults, not the
	// planner's stages and bake.
	p.ForStart(start)
	if err := p.SetGuards(guards, strategy); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, p)
	return nil
}

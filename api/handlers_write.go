package api

import (
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// change runs fn as one audited transaction by the request's token and
// writes the result with status 200.
func (s *Server) change(w http.ResponseWriter, r *http.Request, reason string, fn func(e *sluice.Edit) error) error {
	if err := checkReason(reason); err != nil {
		return err
	}
	res, err := s.ctl.Do(r.Context(), actor(r), reason, fn)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, resultOf(res))
	return nil
}

func (s *Server) apply(w http.ResponseWriter, r *http.Request) error {
	var req ApplyRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	if len(req.Doc.Models) == 0 {
		return invalid("doc.models", `the document declares no models: send {"doc": {"models": [...]}, "reason": "..."}`)
	}
	// The document is tried on the current registry first, and each
	// declared target checked against the registry it would leave, so an
	// apply whose rollout could not start is refused whole, before anything
	// commits (and a dry run says so too).
	if req.IfRevision != nil && *req.IfRevision < 0 {
		return invalid("if_revision", "if_revision must be a registry revision (GET /admin/v1/models shows it), or left out")
	}
	// ifRevision refuses the apply when the registry moved past the
	// revision the caller planned against.
	ifRevision := func(at int64) error {
		if req.IfRevision != nil && at != *req.IfRevision {
			return &sluice.Error{Code: sluice.CodeConflict, Fields: []string{"if_revision"}, Message: fmt.Sprintf("the registry is at revision %d, not %d: someone changed it since; see what changed (sluice audit) and apply again", at, *req.IfRevision)}
		}
		return nil
	}
	base := s.ctl.Registry()
	if err := ifRevision(base.Revision); err != nil {
		return err
	}
	e := base.Edit(actor(r), req.Reason, s.ctl.Now())
	trial, kept := req.Doc.KeepRolloutRouting(base)
	trial, keptStages := trial.KeepLaterStages(base)
	if err := e.Apply(trial); err != nil {
		return err
	}
	ch, err := e.Finish()
	if err != nil {
		return err
	}
	specs, err := s.checkTargets(e.Registry(), req)
	if err != nil {
		return err
	}
	if req.DryRun {
		res := Result{Revision: base.Revision, Changed: !ch.Empty(), DryRun: true, Audit: ch.Audit, Kept: kept, KeptStages: keptStages, HeldTargets: heldTargets(e.Registry(), req), WouldStart: specs}
		writeJSON(w, http.StatusOK, applied(res, req.Doc))
		return nil
	}
	var known map[string]bool // endpoints before, in the registry the apply committed against
	res, err := s.ctl.Do(r.Context(), actor(r), req.Reason, func(e *sluice.Edit) error {
		// Checked again in the transaction: Do runs this on the registry
		// it commits against, reloaded if another replica came first.
		if err := ifRevision(e.Registry().Revision); err != nil {
			return err
		}
		known = endpointsOf(e.Registry()) // e.Registry() is edited in place by Apply
		var doc sluice.ApplyDoc
		doc, kept = req.Doc.KeepRolloutRouting(e.Registry())
		doc, keptStages = doc.KeepLaterStages(e.Registry())
		return e.Apply(doc)
	})
	if err != nil {
		return err
	}
	out := resultOf(res)
	out.Kept, out.KeptStages = kept, keptStages
	out.HeldTargets = heldTargets(s.ctl.Registry(), req)
	started, err := s.startTargets(r, req)
	out.Rollouts = started
	if err != nil {
		return err
	}
	if res.Changed {
		out.Unreachable = s.probeAdded(r.Context(), known, req.Doc)
	}
	writeJSON(w, http.StatusOK, applied(out, req.Doc))
	return nil
}

// applied is an apply's answer: res and the warnings worked out here from
// doc and res, so that every client of the API hears them, not the CLI
// alone (ApplyResult.Warnings; never nil, so a client tells this gateway
// from an older one that sends none).
func applied(res Result, doc sluice.ApplyDoc) ApplyResult {
	return ApplyResult{Result: res, Warnings: ApplyWarnings(doc, res)}
}

// ApplyWarnings are the warnings of an apply of doc that answered res
// (ApplyResult.Warnings), never nil: the gateway's, and the CLI's own for
// a gateway older than them, so that both say the same.
func ApplyWarnings(doc sluice.ApplyDoc, res Result) []string {
	warnings := []string{}
	// Valid routing that is not what was meant: said, not refused.
	for _, m := range doc.Models {
		warnings = append(warnings, sluice.ShadowedRules(m.Name, m.Rules)...)
	}
	for _, u := range res.Unreachable {
		// A warning by its place here: the message's own "warning: "
		// (kept in unreachable, as before) would be said twice.
		warnings = append(warnings, strings.TrimPrefix(u.Message, "warning: "))
	}
	return append(warnings, ApplyRolloutNotes(doc, res)...)
}

// ApplyRolloutNotes are the notes (RolloutNotes) on the rollouts an
// apply of doc started, or on a dry run would start: what the file's
// rollout: section leaves them without.
func ApplyRolloutNotes(doc sluice.ApplyDoc, res Result) []string {
	var notes []string
	for _, r := range res.Rollouts {
		notes = append(notes, RolloutNotes("rollout "+r.ID, DocRollout(doc, r.Spec.Model), r.Spec.Strategy)...)
	}
	for _, spec := range res.WouldStart {
		notes = append(notes, RolloutNotes("rollout of "+spec.Model+" to "+spec.Candidate, DocRollout(doc, spec.Model), spec.Strategy)...)
	}
	return notes
}

// RolloutNotes are what a rollout started with strategy from a model
// file's rollout: section sent goes without, each "WHICH: …": a stage
// written without hold (sluice.NoHoldWarning) and the analysis.guards the
// planner's rolling leaves out (rollout.GuardsNotApplied). The apply's
// warnings and the CLI's lines beside each rollout are these words.
func RolloutNotes(which string, sent *sluice.RolloutSpec, strategy sluice.Strategy) []string {
	var notes []string
	if rollout.GuardsLeftOut(sent, strategy) {
		notes = append(notes, which+": "+rollout.GuardsNotApplied(sent.Analysis.Guards))
	}
	if note := sluice.NoHoldWarning(sent); note != "" {
		notes = append(notes, which+": "+note)
	}
	return notes
}

// DocRollout is the rollout: section doc gives model, or nil.
func DocRollout(doc sluice.ApplyDoc, model string) *sluice.RolloutSpec {
	for _, m := range doc.Models {
		if m.Name == model {
			return m.Rollout
		}
	}
	return nil
}

func (s *Server) registerVersion(w http.ResponseWriter, r *http.Request) error {
	var req RegisterRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if err := checkReason(req.Reason); err != nil {
		return err
	}
	var created bool
	res, err := s.ctl.Do(r.Context(), actor(r), req.Reason, func(e *sluice.Edit) error {
		var err error
		created, err = e.RegisterVersion(req.Version)
		return err
	})
	if err != nil {
		return err
	}
	out := resultOf(res)
	out.Created = created
	status := http.StatusOK
	if created {
		status = http.StatusCreated
		w.Header().Set("Location", "/admin/v1/versions/"+url.PathEscape(req.Version.Model+":"+req.Version.Version))
	}
	writeJSON(w, status, out)
	return nil
}

func (s *Server) setStage(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := checkVersionID("id", id); err != nil {
		return err
	}
	var req StageRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Stage == "" {
		return invalid("stage", `the stage is missing: send "stage": one of development, staging, production, deprecated or retired`)
	}
	if !req.SunsetAt.IsZero() && req.Stage != sluice.StageDeprecated {
		return invalid("sunset_at", fmt.Sprintf("sunset_at only applies to a deprecated version, not %s: drop it or set the stage to deprecated", req.Stage))
	}
	return s.change(w, r, req.Reason, func(e *sluice.Edit) error { return e.SetStage(id, req.Stage, req.SunsetAt) })
}

func (s *Server) setPolicy(w http.ResponseWriter, r *http.Request) error {
	model, err := pathName(r, "model", "model name")
	if err != nil {
		return err
	}
	var req PolicyRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Policy.Kind == "" {
		return invalid("policy.kind", `the policy kind is missing: send "policy": {"kind": "specific", "version": "v1.2.0"}, or kind latest, all, split or off`)
	}
	return s.change(w, r, req.Reason, func(e *sluice.Edit) error {
		if err := rolloutOwnsRouting(e.Registry(), model, "policy"); err != nil {
			return err
		}
		return e.SetPolicy(model, req.Policy)
	})
}

func (s *Server) setSplit(w http.ResponseWriter, r *http.Request) error {
	model, err := pathName(r, "model", "model name")
	if err != nil {
		return err
	}
	var req SplitRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.Weights) == 0 {
		return invalid("weights", `the split has no weights: send "weights": [{"version": "v1.1.0", "percent": 95}, {"version": "v1.2.0", "percent": 5}]`)
	}
	for i, wt := range req.Weights {
		if err := sluice.CheckName("version", wt.Version); err != nil {
			return invalid(fmt.Sprintf("weights[%d].version", i), sluice.ErrorMessage(err))
		}
	}
	p := sluice.Policy{Kind: sluice.PolicySplit, Split: req.Weights, Salt: req.Salt}
	return s.change(w, r, req.Reason, func(e *sluice.Edit) error {
		if err := rolloutOwnsRouting(e.Registry(), model, "split"); err != nil {
			return err
		}
		return e.SetPolicy(model, p)
	})
}

// rolloutOwnsRouting refuses a change by hand of the policy (a split, a
// pin, latest, off) of a model whose rollout is under way: the rollout
// owns it until it ends (as in Argo Rollouts or Flagger). Accepted, the
// hand split served while the rollout's status still gave the candidate
// its own share, the rollout's next stage overwrote it, and an abort put
// back the routing from before the rollout, not the hand one. Other
// labels, rules and stages stay open: the rollout writes only the policy
// and its own preview and stable labels (refused by rolloutOwnsLabel), and
// restores only those. It is checked inside the change's transaction, on the registry it
// commits against.
func rolloutOwnsRouting(reg *sluice.Registry, model, what string) error {
	ro := reg.ActiveRollout(model)
	if ro == nil {
		return nil
	}
	return sluice.Errorf(sluice.CodeConflict,
		"model %s: rollout %s (%s to %s, phase %s, candidate at %s%%) controls its routing until it ends, so the %s cannot be set by hand (the rollout's next step would overwrite it); end the rollout first: sluice rollout abort %s --reason \"…\" puts back the routing from before it, sluice rollout promote %s --reason \"…\" gives %s all traffic; then set the %s (pausing it is not enough: a paused rollout still owns the routing)",
		model, ro.ID, ro.Spec.Strategy, ro.Spec.Candidate, ro.Phase, sluice.FormatPercent(ro.Percent), what, model, model, ro.Spec.Candidate, what)
}

// rolloutOwnsLabel refuses moving or removing by hand (tag "" removes) a
// label a live rollout of model maintains itself (sluice.RolloutLabels:
// stable, preview), for the same reason as rolloutOwnsRouting; setting it
// to the version it already names changes nothing and passes. Every other
// label stays free during a rollout.
func rolloutOwnsLabel(reg *sluice.Registry, model, label, tag string) error {
	ro := reg.ActiveRollout(model)
	m := reg.Models[model]
	if ro == nil || m == nil || !sluice.RolloutOwnsLabel(label) {
		return nil
	}
	if have, ok := m.Labels[label]; ok == (tag != "") && have == tag {
		return nil
	}
	verb := "moved"
	if tag == "" {
		verb = "removed"
	}
	why := "failed requests are retried on it, and the promotion points it at the candidate"
	if label == "preview" {
		why = "the rollout shows its candidate there, and its promotion or rollback removes or restores it"
	}
	return sluice.Errorf(sluice.CodeConflict,
		"model %s: rollout %s (%s to %s, phase %s, candidate at %s%%) maintains the label %s until it ends (%s), so it cannot be %s by hand; end the rollout first: sluice rollout abort %s --reason \"…\" puts back the labels from before it, sluice rollout promote %s --reason \"…\" points stable at %s; then set the label (pausing it is not enough), or use a label of another name, which stays free during a rollout",
		model, ro.ID, ro.Spec.Strategy, ro.Spec.Candidate, ro.Phase, sluice.FormatPercent(ro.Percent), label, why, verb, model, model, ro.Spec.Candidate)
}

func (s *Server) setLabel(w http.ResponseWriter, r *http.Request) error {
	model, err := pathName(r, "model", "model name")
	if err != nil {
		return err
	}
	label, err := pathName(r, "label", "label")
	if err != nil {
		return err
	}
	var req LabelRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Version == "" {
		return invalid("version", `the version is missing: send "version": "v1.2.0" (to remove the label, send DELETE instead)`)
	}
	if err := sluice.CheckName("version", req.Version); err != nil {
		return invalid("version", sluice.ErrorMessage(err))
	}
	return s.change(w, r, req.Reason, func(e *sluice.Edit) error {
		if err := rolloutOwnsLabel(e.Registry(), model, label, req.Version); err != nil {
			return err
		}
		return e.SetLabel(model, label, req.Version)
	})
}

// setLabels sets and removes several labels in one transaction: all or
// nothing, so a mistyped version in the last one leaves the first unset.
func (s *Server) setLabels(w http.ResponseWriter, r *http.Request) error {
	model, err := pathName(r, "model", "model name")
	if err != nil {
		return err
	}
	var req LabelsRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if len(req.Labels) == 0 {
		return invalid("labels", `no labels to change: send "labels": {"canary": "v1.2.0"}, with "" to remove one`)
	}
	for l, v := range req.Labels {
		if err := sluice.CheckName("label", l); err != nil {
			return invalid("labels", sluice.ErrorMessage(err))
		}
		if v != "" {
			if err := sluice.CheckName("version", v); err != nil {
				return invalid("labels", "label "+l+": "+sluice.ErrorMessage(err))
			}
		}
	}
	return s.change(w, r, req.Reason, func(e *sluice.Edit) error {
		for _, l := range slices.Sorted(maps.Keys(req.Labels)) {
			if err := rolloutOwnsLabel(e.Registry(), model, l, req.Labels[l]); err != nil {
				return err
			}
			if err := e.SetLabel(model, l, req.Labels[l]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Server) deleteLabel(w http.ResponseWriter, r *http.Request) error {
	model, err := pathName(r, "model", "model name")
	if err != nil {
		return err
	}
	label, err := pathName(r, "label", "label")
	if err != nil {
		return err
	}
	var req ReasonRequest
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	return s.change(w, r, req.Reason, func(e *sluice.Edit) error {
		if err := rolloutOwnsLabel(e.Registry(), model, label, ""); err != nil {
			return err
		}
		return e.SetLabel(model, label, "")
	})
}

func (s *Server) setRules(w http.ResponseWriter, r *http.Request) error {
	model, err := pathName(r, "model", "model name")
	if err != nil {
		return err
	}
	// A pointer tells an absent "rules" (a mistake) from an empty list
	// (remove every rule).
	var req struct {
		Rules  *[]sluice.Rule `json:"rules"`
		Reason string         `json:"reason"`
	}
	if err := readJSON(w, r, &req); err != nil {
		return err
	}
	if req.Rules == nil {
		return invalid("rules", `the rules are missing: send "rules": [{"header": "X-User-Segment", "values": ["beta"], "version": "v1.2.0"}], or [] to remove every rule`)
	}
	rules := *req.Rules
	if len(rules) == 0 {
		rules = nil
	}
	return s.change(w, r, req.Reason, func(e *sluice.Edit) error { return e.SetRules(model, rules) })
}

// targetSpec returns the rollout a model's declared target asks for on reg,
// or ok=false when it asks for none (no target, the target is already
// stable, or the running rollout is to it). A running rollout to another
// version is a conflict.
func (s *Server) targetSpec(reg *sluice.Registry, m sluice.ApplyModel) (spec sluice.RolloutSpec, ok bool, err error) {
	if m.Target == "" {
		return spec, false, nil
	}
	if active := reg.ActiveRollout(m.Name); active != nil {
		if active.Spec.Candidate == m.Target {
			return spec, false, nil
		}
		return spec, false, sluice.Errorf(sluice.CodeConflict, "model %s: rollout %s to %s is under way, so target %s cannot start: abort it (sluice rollout abort %s --reason \"…\") and apply again", m.Name, active.ID, active.Spec.Candidate, m.Target, m.Name)
	}
	if rollout.StableOf(reg, m.Name) == m.Target {
		return spec, false, nil
	}
	if _, held := heldTarget(reg, m); held {
		return spec, false, nil
	}
	if s.rollouts == nil {
		return spec, false, sluice.Errorf(sluice.CodeUnavailable, "model %s declares target %s, but this gateway runs no rollout controller", m.Name, m.Target)
	}
	if m.Rollout != nil {
		spec = *m.Rollout
	}
	spec.Model, spec.Candidate = m.Name, m.Target
	return spec, true, nil
}

// heldTarget says why model m's declared target starts no rollout although
// it is not the stable version: the model's last rollout was to that very
// target and ended without promoting it (rolled back, aborted, failed, an
// A/B test completed, undone). ok is false when it is not held. A GitOps
// loop applies the same file every few minutes: starting the rollout again
// each time put users back on a candidate the analysis or an operator had
// just rejected, and rolled it back again, for as long as the file stayed.
func heldTarget(reg *sluice.Registry, m sluice.ApplyModel) (h HeldTarget, ok bool) {
	last := reg.Rollouts[m.Name]
	if m.Target == "" || last == nil || last.Phase.Active() || last.Phase == sluice.PhasePromoted || last.Spec.Candidate != m.Target {
		return h, false
	}
	why := string(last.Phase)
	if last.Decision != "" {
		why = last.Decision
	}
	return HeldTarget{
		Model: m.Name, Target: m.Target, Rollout: last.ID, Phase: last.Phase,
		Message: fmt.Sprintf("model %s: no rollout to target %s started: its last rollout %s ended %s (%s); to try it again, run sluice rollout start %s --to %s --reason \"…\", or declare another target", m.Name, m.Target, last.ID, last.Phase, why, m.Name, m.Target),
	}, true
}

// heldTargets lists the models of req whose declared target heldTarget
// holds, on reg, the registry the apply leaves.
func heldTargets(reg *sluice.Registry, req ApplyRequest) []HeldTarget {
	var out []HeldTarget
	for _, m := range req.Doc.Models {
		if m.Target == "" || reg.ActiveRollout(m.Name) != nil || rollout.StableOf(reg, m.Name) == m.Target {
			continue
		}
		if h, ok := heldTarget(reg, m); ok {
			out = append(out, h)
		}
	}
	return out
}

// checkTargets checks that each declared target's rollout could start on
// reg, the registry the apply would leave, and returns the specs they
// would start with: Rollouts.Check's, with the defaults the start gives
// (rollout.WithDefaults), as the started rollout's spec holds them.
func (s *Server) checkTargets(reg *sluice.Registry, req ApplyRequest) ([]sluice.RolloutSpec, error) {
	var specs []sluice.RolloutSpec
	for _, m := range req.Doc.Models {
		spec, ok, err := s.targetSpec(reg, m)
		if err == nil && ok {
			spec, err = s.rollouts.Check(reg, spec, req.Reason)
			if err == nil {
				specs = append(specs, rollout.WithDefaults(spec))
			}
		}
		if err != nil {
			return nil, sluice.Errorf(sluice.ErrorCode(err), "model %s: target %s: %s (nothing was applied)", m.Name, m.Target, sluice.ErrorMessage(err))
		}
	}
	return specs, nil
}

// startTargets starts a rollout for each model whose declared target is
// neither its stable version nor the candidate of its running rollout: the
// declarative way to ship a version.
func (s *Server) startTargets(r *http.Request, req ApplyRequest) ([]sluice.Rollout, error) {
	var started []sluice.Rollout
	for _, m := range req.Doc.Models {
		spec, ok, err := s.targetSpec(s.ctl.Registry(), m)
		if err == nil && ok {
			var ro sluice.Rollout
			ro, err = s.rollouts.Start(r.Context(), actor(r), req.Reason, spec)
			if err == nil {
				started = append(started, ro)
			}
		}
		if err != nil {
			// Checked before the commit, so only a change by someone else
			// in between gets here: say the routing was applied.
			return started, sluice.Errorf(sluice.ErrorCode(err), "model %s: the routing was applied, but the rollout to target %s could not start: %s", m.Name, m.Target, sluice.ErrorMessage(err))
		}
	}
	return started, nil
}

package api

import (
	"fmt"
	"net/http"
	"net/url"

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
	if !req.DryRun {
		res, err := s.ctl.Do(r.Context(), actor(r), req.Reason, func(e *sluice.Edit) error { return e.Apply(req.Doc) })
		if err != nil {
			return err
		}
		out := resultOf(res)
		started, err := s.startTargets(r, req)
		out.Rollouts = started
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	}
	base := s.ctl.Registry()
	e := base.Edit(actor(r), req.Reason, s.ctl.Now())
	if err := e.Apply(req.Doc); err != nil {
		return err
	}
	ch, err := e.Finish()
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Result{Revision: base.Revision, Changed: !ch.Empty(), DryRun: true, Audit: ch.Audit})
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
		return invalid("policy.kind", `the policy kind is missing: send "policy": {"kind": "specific", "version": "v1.2.0"}, or kind latest, all or split`)
	}
	return s.change(w, r, req.Reason, func(e *sluice.Edit) error { return e.SetPolicy(model, req.Policy) })
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
	return s.change(w, r, req.Reason, func(e *sluice.Edit) error { return e.SetPolicy(model, p) })
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
	return s.change(w, r, req.Reason, func(e *sluice.Edit) error { return e.SetLabel(model, label, req.Version) })
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
	return s.change(w, r, req.Reason, func(e *sluice.Edit) error { return e.SetLabel(model, label, "") })
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

// startTargets starts a rollout for each model whose declared target is
// neither its stable version nor the candidate of its running rollout: the
// declarative way to ship a version.
func (s *Server) startTargets(r *http.Request, req ApplyRequest) ([]sluice.Rollout, error) {
	var started []sluice.Rollout
	for _, m := range req.Doc.Models {
		if m.Target == "" {
			continue
		}
		reg := s.ctl.Registry()
		if active := reg.ActiveRollout(m.Name); active != nil {
			if active.Spec.Candidate == m.Target {
				continue
			}
			return started, sluice.Errorf(sluice.CodeConflict, "model %s: target %s was applied, but rollout %s to %s is under way: abort it (sluice rollout abort %s) and apply again", m.Name, m.Target, active.ID, active.Spec.Candidate, m.Name)
		}
		if rollout.StableOf(reg, m.Name) == m.Target {
			continue
		}
		if s.rollouts == nil {
			return started, sluice.Errorf(sluice.CodeUnavailable, "model %s declares target %s, but this gateway runs no rollout controller", m.Name, m.Target)
		}
		var spec sluice.RolloutSpec
		if m.Rollout != nil {
			spec = *m.Rollout
		}
		spec.Model, spec.Candidate = m.Name, m.Target
		ro, err := s.rollouts.Start(r.Context(), actor(r), req.Reason, spec)
		if err != nil {
			return started, fmt.Errorf("model %s: the routing was applied, but the rollout to target %s could not start: %w", m.Name, m.Target, err)
		}
		started = append(started, ro)
	}
	return started, nil
}

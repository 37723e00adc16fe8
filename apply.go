package sluice

import (
	"fmt"
	"maps"
	"slices"
)

// ApplyDoc is the declarative description of models that `sluice apply -f`
// reads (YAML) and the admin API accepts (JSON). Applying it is idempotent:
// re-applying the same document changes nothing.
type ApplyDoc struct {
	// Models lists the models to create or update.
	Models []ApplyModel `json:"models" yaml:"models"`
}

// ApplyModel declares one model, its versions and its routing. Nil or
// absent routing fields leave the stored ones as they are; a field that is
// present replaces the stored one whole.
type ApplyModel struct {
	// Name is the model name.
	Name string `json:"name" yaml:"name"`
	// Description is free text.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Policy, when set, replaces the routing policy.
	Policy *Policy `json:"policy,omitempty" yaml:"policy,omitempty"`
	// Labels, when set, replace all labels ({} removes them all; null or
	// absent leaves them). No omitempty in JSON, so {} reaches the server.
	Labels map[string]string `json:"labels" yaml:"labels,omitempty"`
	// Rules, when set, replace all rules ([] removes them all).
	Rules []Rule `json:"rules" yaml:"rules,omitempty"`
	// Versions are registered (immutable) or, for existing ones, moved to
	// the stage given, following the lifecycle.
	Versions []Version `json:"versions,omitempty" yaml:"versions,omitempty"`
	// Target, when set, is the version the model should be served by:
	// when it differs from the model's stable version and no rollout is
	// under way, applying the file starts a rollout to it (with Rollout's
	// settings; the update planner's when empty). Applying the same target
	// again changes nothing, also once the rollout to it has ended without
	// promoting it: a rejected candidate is tried again only by starting
	// a rollout to it explicitly, or by declaring another target.
	Target string `json:"target,omitempty" yaml:"target,omitempty"`
	// Rollout configures the rollout Target starts; Model and Candidate
	// are filled in from the model's name and Target.
	Rollout *RolloutSpec `json:"rollout,omitempty" yaml:"rollout,omitempty"`
}

// Apply applies a declarative document to the edit: versions first (so the
// routing may refer to them), then each model's routing.
func (e *Edit) Apply(doc ApplyDoc) error {
	seen := map[string]bool{}
	for i, am := range doc.Models {
		if err := CheckName("model name", am.Name); err != nil {
			return Errorf(CodeInvalid, "models[%d]: %s", i, ErrorMessage(err))
		}
		if seen[am.Name] {
			return Errorf(CodeInvalid, "models[%d]: model %s is declared twice: declare each model once", i, am.Name)
		}
		seen[am.Name] = true
		declared := map[string]int{}
		for j, v := range am.Versions {
			v.Model = am.Name
			if k, ok := declared[v.Version]; ok {
				// Said here, as the registry would call the first one
				// already registered, which sent the user looking for an
				// earlier registration. Declared twice alike, it is a
				// harmless repetition, as it always was; with another
				// stage, the second moves it on, as it always did (a
				// stage is no part of the build).
				first := am.Versions[k]
				first.Model = am.Name
				if diff := first.ContentDiff(&v); len(diff) > 0 {
					return &Error{Code: CodeInvalid, Fields: diff, Message: fmt.Sprintf("models[%d].versions[%d]: version %s is declared twice in the file (versions[%d] too), with different %s: declare each version once (a new build takes a new version tag)", i, j, v.ID(), k, joinFields(diff))}
				}
			}
			declared[v.Version] = j
			if old := e.next.Versions[v.ID()]; old != nil && v.Stage != "" && v.Stage != old.Stage && CheckTransition(old.Stage, v.Stage) != nil {
				// Say which version, and what to write, rather than only
				// that the lifecycle forbids the move. (A stage behind the
				// version's, as a promotion leaves a file, is kept by
				// KeepLaterStages before this.)
				return Errorf(CodeInvalid, "version %s: the model file says stage %s, but the version is %s now, and %s cannot go to %s (from %s it may go to %s): write one of those, or leave stage out to keep the stage it has", v.ID(), v.Stage, old.Stage, old.Stage, v.Stage, old.Stage, joinStages(transitions[old.Stage]))
			}
			if _, err := e.RegisterVersion(v); err != nil {
				return err
			}
		}
		m := e.next.Models[am.Name]
		var next Model
		if m != nil {
			next = m.Clone()
		} else {
			next = Model{Name: am.Name, Policy: Policy{Kind: PolicyLatest}}
		}
		if am.Description != "" {
			// Checked where it is set, so that text stored before the check
			// existed blocks no later change (a rollback above all).
			if err := CheckText("description", am.Description); err != nil {
				return Errorf(CodeInvalid, "model %s: %s", am.Name, ErrorMessage(err))
			}
			next.Description = am.Description
		}
		if am.Policy != nil {
			p := *am.Policy
			if p.Salt == "" {
				// As SetPolicy: the model keeps its salt across policies.
				p.Salt = next.Policy.Salt
			}
			next.Policy = p
		}
		if am.Labels != nil {
			next.Labels = am.Labels
		}
		if am.Rules != nil {
			next.Rules = am.Rules
		}
		if err := e.PutModel(next); err != nil {
			return err
		}
	}
	return nil
}

// KeepRolloutRouting returns doc without what the live rollouts in reg own
// of their models' routing, and the names of the models where that left out
// something the document would change: a live rollout owns its model's
// policy (its split) and its own labels (RolloutLabels: stable, preview)
// until it ends, so applying a file again, as a GitOps loop does, must not
// reset the canary's share or move those labels. The document's other
// labels apply as they would without a rollout (they stay free, as by hand);
// the rollout's own keep the values they have. The rollout leaves its
// routing as it decides when it ends; the file's applies when it is applied
// again then.
func (d ApplyDoc) KeepRolloutRouting(reg *Registry) (ApplyDoc, []string) {
	out := d
	out.Models = slices.Clone(d.Models)
	var kept []string
	for i, m := range out.Models {
		r := reg.Rollouts[m.Name]
		cur := reg.Models[m.Name]
		if r == nil || !r.Phase.Active() || cur == nil {
			continue
		}
		changed := m.Policy != nil
		out.Models[i].Policy = nil
		if m.Labels != nil {
			labels := maps.Clone(m.Labels)
			for _, l := range RolloutLabels {
				have, ok := cur.Labels[l]
				want, asked := m.Labels[l]
				if ok != asked || have != want {
					changed = true
				}
				if ok {
					labels[l] = have
				} else {
					delete(labels, l)
				}
			}
			out.Models[i].Labels = labels
		}
		if changed {
			kept = append(kept, m.Name)
		}
	}
	return out, kept
}

// KeepLaterStages returns doc without the stages that would take a version
// back in its lifecycle from the stage it has in reg, where the lifecycle
// forbids that move (production back to staging, anything back from
// retired), and says what it kept, as "chat:v1.2.0 stays production (the
// file says staging)". A model file registers a fine-tune as staging and a
// rollout then promotes it: the file is behind, not wrong, and refusing it
// made a gateway with that models_file refuse to start after every
// promotion (a crash loop under Kubernetes) until someone edited the file.
// A stage the lifecycle allows is applied as the file says; one ahead of
// the version's that it forbids (development straight to production) is
// still refused by Apply.
func (d ApplyDoc) KeepLaterStages(reg *Registry) (ApplyDoc, []string) {
	out := d
	out.Models = slices.Clone(d.Models)
	var kept []string
	for i := range out.Models {
		m := &out.Models[i]
		cloned := false
		for j, v := range m.Versions {
			old := reg.Versions[m.Name+":"+v.Version]
			// Stages lists the lifecycle in order: a later index is further on.
			if old == nil || v.Stage == "" || v.Stage == old.Stage || !v.Stage.Valid() ||
				CheckTransition(old.Stage, v.Stage) == nil || slices.Index(Stages, old.Stage) < slices.Index(Stages, v.Stage) {
				continue
			}
			if !cloned {
				m.Versions, cloned = slices.Clone(m.Versions), true
			}
			m.Versions[j].Stage = "" // keep the stage it has
			kept = append(kept, fmt.Sprintf("%s:%s stays %s (the file says %s)", m.Name, v.Version, old.Stage, v.Stage))
		}
	}
	return out, kept
}

package sluice

import (
	"cmp"
	"maps"
	"slices"
	"strconv"
)

// Registry is the whole routing state at one revision: every model with its
// policy, labels and rules, and every registered version. A Registry handed
// out by a Store or a control service is never modified; changes are made on
// a clone through an Edit.
type Registry struct {
	// Revision increases by one with each committed change.
	Revision int64 `json:"revision"`
	// Models maps a model name to the model.
	Models map[string]*Model `json:"models"`
	// Versions maps a full version id ("model:version") to the version.
	Versions map[string]*Version `json:"versions"`
	// Rollouts maps a model name to its latest rollout, active or ended.
	Rollouts map[string]*Rollout `json:"rollouts,omitempty"`
}

// NewRegistry returns an empty registry at revision 0.
func NewRegistry() *Registry {
	return &Registry{Models: map[string]*Model{}, Versions: map[string]*Version{}, Rollouts: map[string]*Rollout{}}
}

// Clone returns a deep copy of r.
func (r *Registry) Clone() *Registry {
	c := &Registry{Revision: r.Revision, Models: make(map[string]*Model, len(r.Models)), Versions: make(map[string]*Version, len(r.Versions))}
	for k, m := range r.Models {
		mc := m.Clone()
		c.Models[k] = &mc
	}
	for k, v := range r.Versions {
		vc := v.Clone()
		c.Versions[k] = &vc
	}
	c.Rollouts = make(map[string]*Rollout, len(r.Rollouts))
	for k, ro := range r.Rollouts {
		rc := ro.Clone()
		c.Rollouts[k] = &rc
	}
	return c
}

// ActiveRollout returns model's running rollout, or nil.
func (r *Registry) ActiveRollout(model string) *Rollout {
	if ro := r.Rollouts[model]; ro != nil && ro.Phase.Active() {
		return ro
	}
	return nil
}

// ModelNames returns the model names in order.
func (r *Registry) ModelNames() []string {
	return slices.Sorted(maps.Keys(r.Models))
}

// Version returns the version model:tag, or nil.
func (r *Registry) Version(model, tag string) *Version {
	return r.Versions[model+":"+tag]
}

// VersionsOf returns the versions of model, oldest tag first (see
// CompareTags).
func (r *Registry) VersionsOf(model string) []*Version {
	var vs []*Version
	for _, v := range r.Versions {
		if v.Model == model {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, func(a, b *Version) int { return compareVersions(a, b) })
	return vs
}

func compareVersions(a, b *Version) int {
	if c := CompareTags(a.Version, b.Version); c != 0 {
		return c
	}
	return a.CreatedAt.Compare(b.CreatedAt)
}

// Latest returns the newest production version of model, or nil when it has
// none. Newest means the highest tag in CompareTags order, so a hotfix
// v1.1.1 registered after v1.2.0 does not displace v1.2.0.
func (r *Registry) Latest(model string) *Version {
	var best *Version
	for _, v := range r.Versions {
		if v.Model == model && v.Stage == StageProduction && (best == nil || compareVersions(v, best) > 0) {
			best = v
		}
	}
	return best
}

// ServingVersions returns the tags of the versions model's bare name may be
// routed to under its policy (the split members, the pinned version, or the
// latest production version).
func (r *Registry) ServingVersions(model string) []string {
	m := r.Models[model]
	if m == nil {
		return nil
	}
	switch m.Policy.Kind {
	case PolicyOff:
		return nil
	case PolicySpecific:
		return []string{m.Policy.Version}
	case PolicySplit:
		var out []string
		for _, w := range m.Policy.Split {
			if w.Percent > 0 {
				out = append(out, w.Version)
			}
		}
		return out
	default:
		if l := r.Latest(model); l != nil {
			return []string{l.Version}
		}
		return nil
	}
}

// Addressable reports whether a pin to model:tag is served: under policy all
// every servable version is; under the others, released versions
// (production and deprecated, so clients pinned to an old version keep
// working until it is retired), the versions the policy routes to, and the
// versions a label or rule points at. Development and staging versions are
// reachable only through a label, a rule or the policy, and a rollout's
// candidate while its pre_rollout webhooks may call it (the rollout is
// warming and has some).
func (r *Registry) Addressable(model, tag string) bool {
	m := r.Models[model]
	v := r.Version(model, tag)
	if m == nil || v == nil || !v.Stage.Servable() {
		return false
	}
	if m.Policy.Kind == PolicyAll || v.Stage == StageProduction || v.Stage == StageDeprecated {
		return true
	}
	if slices.Contains(r.ServingVersions(model), tag) {
		return true
	}
	if ro := r.Rollouts[model]; ro != nil && ro.Phase == PhaseWarming && ro.Spec.Candidate == tag && len(ro.Spec.WebhooksOf(WebhookPreRollout)) > 0 {
		// Its pre_rollout webhooks (an eval suite) call it through the
		// gateway by its pin before it takes any traffic.
		return true
	}
	for _, t := range m.Labels {
		if t == tag {
			return true
		}
	}
	for _, rule := range m.Rules {
		if rule.Version == tag {
			return true
		}
	}
	return false
}

// ValidateModel checks that model name's policy, labels and rules refer to
// registered, servable versions and that a split's weights sum to 100. The
// error is CodeInvalid and says what to fix.
func (r *Registry) ValidateModel(name string) error {
	m := r.Models[name]
	if m == nil {
		return Errorf(CodeNotFound, "model %q is not registered: register it with sluice apply -f", name)
	}
	servable := func(what, tag string) error {
		v := r.Version(name, tag)
		if to, ok := m.Labels[tag]; v == nil && ok {
			return Errorf(CodeInvalid, "%s refers to %s:%s, which is not a version: %s is a label of %s (→ %s), and %s takes a version tag: write %s", what, name, tag, tag, name, to, what, to)
		}
		if v == nil {
			return Errorf(CodeInvalid, "%s refers to %s:%s, which is not registered: register the version first or fix the tag", what, name, tag)
		}
		if !v.Stage.Servable() {
			return Errorf(CodeInvalid, "%s refers to %s, which is retired and cannot serve: point it at another version", what, v.ID())
		}
		return nil
	}
	p := m.Policy
	switch p.Kind {
	case PolicySpecific:
		if p.Version == "" {
			return Errorf(CodeInvalid, "model %s: policy specific needs a version", name)
		}
		if err := servable("policy specific", p.Version); err != nil {
			return err
		}
	case PolicySplit:
		if len(p.Split) == 0 {
			return Errorf(CodeInvalid, "model %s: a split needs at least one VERSION=PERCENT", name)
		}
		seen := map[string]bool{}
		total := 0
		for _, w := range p.Split {
			if seen[w.Version] {
				return Errorf(CodeInvalid, "model %s: version %s appears twice in the split: give each version one weight", name, w.Version)
			}
			seen[w.Version] = true
			if w.Percent < 0 || w.Percent > 100 || w.Percent != w.Percent {
				return Errorf(CodeInvalid, "model %s: weight %s=%v is out of range: use 0 to 100", name, w.Version, w.Percent)
			}
			// The check compared two roundings of the same number, so it
			// never refused: 87.655 and 12.345 were each rounded up and
			// refused as summing to 100.01.
			if FinerThanBasis(w.Percent) {
				return Errorf(CodeInvalid, "model %s: weight %s=%v is finer than 0.01%%: give at most two decimals", name, w.Version, w.Percent)
			}
			if err := servable("the split", w.Version); err != nil {
				return err
			}
			total += Basis(w.Percent)
		}
		if total != 10000 {
			return Errorf(CodeInvalid, "model %s: split weights sum to %s, not 100: adjust them so they add up to 100", name, FormatPercent(float64(total)/100))
		}
	case PolicyLatest, PolicyAll, PolicyOff, "":
		if p.Version != "" || len(p.Split) > 0 {
			return Errorf(CodeInvalid, "model %s: policy %s takes no version or split", name, cmp.Or(p.Kind, PolicyLatest))
		}
	default:
		return Errorf(CodeInvalid, "model %s: unknown policy kind %q: use specific, latest, all, split or off", name, p.Kind)
	}
	for label, tag := range m.Labels {
		if err := CheckName("label", label); err != nil {
			return err
		}
		if err := servable("label "+label, tag); err != nil {
			return err
		}
	}
	for i, rule := range m.Rules {
		if err := CheckHeaderName(rule.Header); err != nil {
			return Errorf(CodeInvalid, "model %s rule %d: %s", name, i+1, ErrorMessage(err))
		}
		if len(rule.Values) == 0 {
			return Errorf(CodeInvalid, "model %s rule %d: give at least one header value to match", name, i+1)
		}
		if err := servable("rule "+strconv.Itoa(i+1), rule.Version); err != nil {
			return err
		}
	}
	return nil
}

// CheckHeaderName returns a CodeInvalid error unless h is a valid HTTP
// header field name.
func CheckHeaderName(h string) error {
	if h == "" {
		return Errorf(CodeInvalid, "the header name is empty")
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c == '-' || isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'z')) {
			return Errorf(CodeInvalid, "invalid header name %q: use letters, digits and '-'", h)
		}
	}
	return nil
}

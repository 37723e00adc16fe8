package route

import (
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/sluicehq/sluice"
)

// ModelView describes one model as a Table routes it, for GET /v1/models and
// `sluice get routes`.
type ModelView struct {
	// Name is the model name.
	Name string `json:"name"`
	// Description is the model's free text.
	Description string `json:"description,omitempty"`
	// Kind is the policy kind; an empty kind is reported as latest.
	Kind sluice.PolicyKind `json:"kind"`
	// Policy is the policy as people read it, such as "split v1.1.0=95
	// v1.2.0=5".
	Policy string `json:"policy"`
	// Salt is the salt of the sticky hash: the policy's salt, or the model
	// name when that is empty.
	Salt string `json:"salt"`
	// Versions are every registered version, oldest tag first.
	Versions []VersionView `json:"versions"`
	// Labels are the labels, by label name.
	Labels []LabelView `json:"labels,omitempty"`
	// Rules are the header rules in the order they are tried.
	Rules []sluice.Rule `json:"rules,omitempty"`
	// Split is the split as configured and as served after health; nil
	// unless the policy is a split.
	Split []SplitView `json:"split,omitempty"`
	// Serving is the version tag the bare name goes to under policies
	// specific, latest and all; "" for a split or when nothing can serve.
	Serving string `json:"serving,omitempty"`
	// Stable is the tag of the version failed requests are retried on, ""
	// when there is none.
	Stable string `json:"stable,omitempty"`
	// UpdatedAt is when the model's routing last changed.
	UpdatedAt time.Time `json:"updated_at"`
}

// VersionView describes one version of a model.
type VersionView struct {
	// ID is the full version id.
	ID string `json:"id"`
	// Version is the tag.
	Version string `json:"version"`
	// Stage is the lifecycle stage.
	Stage sluice.Stage `json:"stage"`
	// Servable is false for a retired version.
	Servable bool `json:"servable"`
	// Addressable says a pin "model:tag" is served (see
	// sluice.Registry.Addressable).
	Addressable bool `json:"addressable"`
	// Healthy is false when the version was given to Build as unhealthy.
	Healthy bool `json:"healthy"`
	// Sunset is the announced retirement time as an HTTP-date, or "".
	Sunset string `json:"sunset,omitempty"`
	// Gone says why a version of a servable stage does not serve: a
	// rollback unloaded its backend (Options.Unloaded); "" otherwise.
	Gone string `json:"gone,omitempty"`
}

// LabelView is one label and the version tag it points at.
type LabelView struct {
	// Label is the label name.
	Label string `json:"label"`
	// Version is the tag it points at.
	Version string `json:"version"`
}

// SplitView is one member of a split.
type SplitView struct {
	// Version is the version tag.
	Version string `json:"version"`
	// Percent is the configured weight.
	Percent float64 `json:"percent"`
	// Effective is the share actually served, after unhealthy members are
	// left out and the rest scaled up; 0 for a member left out.
	Effective float64 `json:"effective"`
	// Healthy is false when the version was given to Build as unhealthy.
	Healthy bool `json:"healthy"`
}

// Models returns every model as the Table routes it, by name. The result is
// shared by every caller and must not be modified.
func (t *Table) Models() []ModelView {
	if t == nil {
		return nil
	}
	return t.views
}

// View returns model name as the Table routes it; ok is false when the
// Table has no such model. The result shares its slices with every caller
// and must not be modified.
func (t *Table) View(name string) (v ModelView, ok bool) {
	if t == nil {
		return v, false
	}
	// The views are in the order of Registry.ModelNames: sorted by name.
	i, ok := slices.BinarySearchFunc(t.views, name, func(v ModelView, name string) int { return strings.Compare(v.Name, name) })
	if !ok {
		return v, false
	}
	return t.views[i], true
}

// view describes compiled model m of registry model sm.
func view(reg *sluice.Registry, sm *sluice.Model, m *model) ModelView {
	mv := ModelView{
		Name:        sm.Name,
		Description: sm.Description,
		Kind:        m.kind,
		Policy:      sm.Policy.String(),
		Salt:        sm.Policy.Salt,
		Rules:       sm.Clone().Rules,
		UpdatedAt:   sm.UpdatedAt,
	}
	if mv.Salt == "" {
		mv.Salt = sm.Name
	}
	for _, v := range reg.VersionsOf(sm.Name) {
		e := m.versions[v.Version]
		vv := VersionView{ID: v.ID(), Version: v.Version, Stage: v.Stage, Healthy: true, Gone: e.gone}
		if e.target != nil {
			vv.Servable, vv.Addressable, vv.Healthy, vv.Sunset = true, e.addressable, e.target.Healthy, e.target.Sunset
		}
		mv.Versions = append(mv.Versions, vv)
	}
	for _, name := range slices.Sorted(maps.Keys(sm.Labels)) {
		mv.Labels = append(mv.Labels, LabelView{Label: name, Version: sm.Labels[name]})
	}
	if m.kind == sluice.PolicySplit {
		share := shares(m.split)
		for _, w := range sm.Policy.Split {
			sv := SplitView{Version: w.Version, Percent: w.Percent, Healthy: true}
			if e := m.versions[w.Version]; e != nil && e.target != nil {
				sv.Healthy = e.target.Healthy
				sv.Effective = float64(share[e.target]) / 100
			}
			mv.Split = append(mv.Split, sv)
		}
	}
	if m.fixed != nil {
		mv.Serving = m.fixed.Version
	}
	if m.stable != nil {
		mv.Stable = m.stable.Version
	}
	return mv
}

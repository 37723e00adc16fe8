package route

import (
	"cmp"
	"iter"
	"maps"
	"net/textproto"
	"slices"
	"strings"

	"github.com/cespare/xxhash/v2"
	"github.com/sluicehq/sluice"
)

// DefaultForceHeader is the header that forces a version when
// Options.ForceHeader is empty.
const DefaultForceHeader = "X-Sluice-Version"

// DefaultCategoryHeader is the request-category header when
// Options.CategoryHeader is empty.
const DefaultCategoryHeader = "X-Request-Category"

// DefaultStickyHeaders returns the headers read for a sticky key when
// Options.StickyHeaders is nil: a user id, then a session id.
func DefaultStickyHeaders() []string { return []string{"X-User-Id", "X-Session-Id"} }

// Options are the request-facing settings of a Table.
type Options struct {
	// StickyHeaders are the request headers whose value is the sticky key
	// when the request has no OpenAI "user" field, tried in order. Nil means
	// DefaultStickyHeaders; an empty, non-nil slice means none.
	StickyHeaders []string
	// ForceHeader names the header that forces a version, honoured only
	// when Request.ForceAllowed is set. Empty means DefaultForceHeader.
	ForceHeader string
	// CategoryHeader names the request-category header. A rule on it
	// matches Request.Category when that is set (the category the proxy
	// resolved, from the header or else the body's metadata.category), so
	// a category sent in the body is routed as the same category sent as a
	// header. Empty means DefaultCategoryHeader.
	CategoryHeader string
	// DownEndpoints are the backend URLs health checks found down: a
	// version with several endpoints sends its requests to those that are
	// up (to all of them when none is), as nginx's upstream does.
	DownEndpoints map[string]bool
	// Balance spreads a version's requests over its live endpoints; empty
	// means BalanceLeastRequests.
	Balance Balance
	// Loads counts the requests in flight to each endpoint, for
	// BalanceLeastRequests and the proxy's gauge. Give every Table the same
	// Loads so the counts outlive a rebuild; nil gives this Table counts of
	// its own.
	Loads *Loads
	// Unloaded maps the full id of a version whose backend a rollback
	// unloads (or has unloaded) to what happened, as "was rolled back by
	// rollout chat-3 (aborted) and its backend unloaded". Unless the
	// model's policy or a rule still routes to it (someone put it back on
	// purpose), such a version is left out like a retired one: a pin, a
	// label or the force header naming it gets CodeGone saying so, where it
	// reached a backend that was gone and answered with a bare 502. The
	// requests in flight to it keep the Target they started with. Nil
	// means none.
	Unloaded map[string]string
}

// NewOptions returns Options with every default filled in.
func NewOptions() Options {
	return Options{StickyHeaders: DefaultStickyHeaders(), ForceHeader: DefaultForceHeader, CategoryHeader: DefaultCategoryHeader}
}

// Table is the routing state compiled from one registry revision and one set
// of unhealthy versions. A Table is immutable once built and safe for
// concurrent use; the control plane replaces it whole through a Holder.
type Table struct {
	revision int64
	// names maps every string a request may send that names something that
	// exists, "chat", "chat:v1.2.0" and "chat@canary", to what it names, so
	// a request costs one map lookup to resolve.
	names         map[string]name
	models        map[string]*model
	byID          map[string]*Target
	modelList     string // "chat, embed", for messages
	stickyHeaders []string
	forceHeader   string
	categoryHdr   string
	views         []ModelView
	// downEndpoints is Options.DownEndpoints, for compile.
	downEndpoints map[string]bool
	// unloaded is Options.Unloaded, for compile.
	unloaded map[string]string
	// balance and loads are Options.Balance and Options.Loads, for compile.
	balance Balance
	loads   *Loads
}

// name is what a "model" string resolves to: a model, and for a pin the
// version or for a label the label.
type name struct {
	model *model
	entry *entry
	label *label
}

// model is one model compiled for the request path.
type model struct {
	name     string
	versions map[string]*entry // every registered version, by tag
	labels   map[string]*label
	rules    []rule
	kind     sluice.PolicyKind // never empty: "" is compiled as latest
	// fixed serves the bare name under specific, latest and all; when it is
	// nil, fixedErr says why.
	fixed    *Target
	fixedErr *failure
	// split is the effective split, after health; splitErr is set when no
	// member can serve.
	split    []segment
	splitErr *failure
	stable   *Target
	// saltPrefix is the salt and a zero byte, hashed ahead of each sticky
	// key; digest has absorbed it already, for keys too long for the stack
	// buffer.
	saltPrefix string
	digest     xxhash.Digest
	// pinList and labelList name what a client may send, for messages.
	pinList   string
	labelList string
}

// entry is one registered version of a model.
type entry struct {
	version string
	stage   sluice.Stage
	// target is nil when the version cannot serve (retired, or unloaded).
	target      *Target
	addressable bool
	// gone says why a servable version's target is nil: its backend was
	// unloaded after a rollback (Options.Unloaded); "" otherwise.
	gone string
}

// label is one label of a model and the version it points at.
type label struct {
	name  string
	entry *entry
}

// rule is a compiled header rule.
type rule struct {
	header string // canonical form, for a direct map index
	values []string
	set    map[string]struct{} // instead of values when there are many
	target *Target
}

// ruleSetMin is the number of values from which a rule uses a set instead
// of a linear scan.
const ruleSetMin = 8

// matches reports whether the request's value of r.header is one of r's
// values; category is the request's resolved category, which stands for
// the category header (catHeader) when it is set.
func (r *rule) matches(h map[string][]string, catHeader, category string) bool {
	var v string
	if category != "" && r.header == catHeader {
		v = category
	} else {
		vs := h[r.header]
		if len(vs) == 0 {
			return false
		}
		v = vs[0]
	}
	if r.set != nil {
		_, ok := r.set[v]
		return ok
	}
	for _, x := range r.values {
		if x == v {
			return true
		}
	}
	return false
}

// failure is a precomputed error, turned into a *sluice.Error only when a
// request hits it.
type failure struct {
	code sluice.Code
	msg  string
}

func (f *failure) err() error { return &sluice.Error{Code: f.code, Message: f.msg} }

// Build compiles reg into a Table. unhealthy holds the full ids of versions
// whose backend fails its health check or is ejected; they are left out of
// splits, their buckets divided among the healthy members by weight (see the
// package documentation), so the healthy members' shares are renormalised. If
// every member of a split is unhealthy the split is kept as configured, so
// requests still go somewhere and fail visibly. A nil unhealthy map means
// every version is healthy.
//
// Build does not modify reg or unhealthy and keeps no reference to them. It
// expects a registry that passes sluice.Registry.ValidateModel; a rule that
// points at a version that cannot serve is left out, a label that points at
// a version that is not registered is left out, and a policy that cannot
// serve makes Decide return CodeUnavailable for the bare name.
func Build(reg *sluice.Registry, unhealthy map[string]bool, opt Options) *Table {
	if reg == nil {
		reg = sluice.NewRegistry()
	}
	t := &Table{
		revision: reg.Revision,
		names:    make(map[string]name, len(reg.Models)+len(reg.Versions)),
		models:   make(map[string]*model, len(reg.Models)),
		byID:     make(map[string]*Target, len(reg.Versions)),

		downEndpoints: opt.DownEndpoints,
		unloaded:      opt.Unloaded,
		balance:       opt.Balance,
		loads:         opt.Loads,
	}
	if t.loads == nil {
		t.loads = &Loads{}
	}
	headers := opt.StickyHeaders
	if headers == nil {
		headers = DefaultStickyHeaders()
	}
	for _, h := range headers {
		if h != "" {
			t.stickyHeaders = append(t.stickyHeaders, textproto.CanonicalMIMEHeaderKey(h))
		}
	}
	t.forceHeader = textproto.CanonicalMIMEHeaderKey(cmp.Or(opt.ForceHeader, DefaultForceHeader))
	t.categoryHdr = textproto.CanonicalMIMEHeaderKey(cmp.Or(opt.CategoryHeader, DefaultCategoryHeader))

	models := reg.ModelNames()
	t.modelList = strings.Join(models, ", ")
	for _, mn := range models {
		m := t.compile(reg, reg.Models[mn], unhealthy)
		t.models[mn] = m
		t.names[mn] = name{model: m}
		for _, e := range m.versions {
			t.names[mn+":"+e.version] = name{model: m, entry: e}
		}
		for _, l := range m.labels {
			t.names[mn+"@"+l.name] = name{model: m, label: l}
		}
		t.views = append(t.views, view(reg, reg.Models[mn], m))
	}
	return t
}

// compile builds one model.
func (t *Table) compile(reg *sluice.Registry, sm *sluice.Model, unhealthy map[string]bool) *model {
	m := &model{
		name:     sm.Name,
		versions: map[string]*entry{},
		labels:   map[string]*label{},
		kind:     sm.Policy.Kind,
	}
	if m.kind != sluice.PolicySpecific && m.kind != sluice.PolicySplit && m.kind != sluice.PolicyAll && m.kind != sluice.PolicyOff {
		m.kind = sluice.PolicyLatest
	}
	var pins []string
	var routed []string // computed only when a version was unloaded
	for _, v := range reg.VersionsOf(sm.Name) {
		e := &entry{version: v.Version, stage: v.Stage}
		if why := t.unloadedWhy(v); why != "" {
			if routed == nil {
				routed = routedTags(reg, sm)
			}
			if !slices.Contains(routed, v.Version) {
				e.gone = why
				m.versions[v.Version] = e
				continue
			}
		}
		if v.Stage.Servable() {
			e.target = newTarget(v, !unhealthy[v.ID()], t.downEndpoints, t.loads, t.balance)
			e.addressable = reg.Addressable(sm.Name, v.Version)
			t.byID[e.target.ID] = e.target
			if e.addressable {
				pins = append(pins, e.target.ID)
			}
		}
		m.versions[v.Version] = e
	}
	m.pinList = strings.Join(pins, ", ")

	var labels []string
	for ln, tag := range sm.Labels {
		if e := m.versions[tag]; e != nil {
			m.labels[ln] = &label{name: ln, entry: e}
			labels = append(labels, sm.Name+"@"+ln)
		}
	}
	slices.Sort(labels)
	m.labelList = strings.Join(labels, ", ")

	for _, r := range sm.Rules {
		e := m.versions[r.Version]
		if e == nil || e.target == nil || len(r.Values) == 0 {
			continue
		}
		cr := rule{header: textproto.CanonicalMIMEHeaderKey(r.Header), values: append([]string(nil), r.Values...), target: e.target}
		if len(r.Values) >= ruleSetMin {
			cr.set = make(map[string]struct{}, len(r.Values))
			for _, v := range r.Values {
				cr.set[v] = struct{}{}
			}
		}
		m.rules = append(m.rules, cr)
	}

	m.setSalt(cmp.Or(sm.Policy.Salt, sm.Name))

	switch m.kind {
	case sluice.PolicyOff:
		// Out of service on purpose: rules would serve the bare name too.
		m.rules = nil
		m.fixedErr = &failure{sluice.CodeUnavailable, "model " + sm.Name + " is out of service: an operator set its policy to off (see sluice audit " + sm.Name + "); use another model, or ask them to set a policy again"}
	case sluice.PolicySpecific:
		if e := m.versions[sm.Policy.Version]; e != nil && e.target != nil {
			m.fixed = e.target
		} else {
			m.fixedErr = &failure{sluice.CodeUnavailable, "model " + sm.Name + " is pinned by its policy to " + sm.Name + ":" + sm.Policy.Version + ", which cannot serve: ask an operator to set a policy that names a servable version"}
		}
	case sluice.PolicySplit:
		m.split = compileSplit(sm.Policy.Split, m.versions)
		if len(m.split) == 0 {
			m.splitErr = &failure{sluice.CodeUnavailable, "model " + sm.Name + " has a split with no version that can serve: ask an operator to set a split of servable versions"}
		}
	default:
		if v := reg.Latest(sm.Name); v != nil {
			m.fixed = m.versions[v.Version].target
		} else {
			m.fixedErr = &failure{sluice.CodeUnavailable, "model " + sm.Name + " has no production version: promote one with sluice stage"}
		}
	}

	m.stable = stableOf(m)
	return m
}

// unloadedWhy returns Options.Unloaded's word on servable version v, or "".
func (t *Table) unloadedWhy(v *sluice.Version) string {
	if len(t.unloaded) == 0 || !v.Stage.Servable() {
		return ""
	}
	return t.unloaded[v.ID()]
}

// routedTags lists the versions of sm that its policy or a rule sends
// requests to, never nil.
func routedTags(reg *sluice.Registry, sm *sluice.Model) []string {
	out := append([]string{}, reg.ServingVersions(sm.Name)...)
	for _, r := range sm.Rules {
		out = append(out, r.Version)
	}
	return out
}

// stableOf picks the version a failed request is retried on: the "stable"
// label, else the split member with the largest share after health, else
// the version the policy serves.
func stableOf(m *model) *Target {
	if l := m.labels["stable"]; l != nil && l.entry.target != nil {
		return l.entry.target
	}
	if len(m.split) > 0 {
		// The first of the largest, in split order, so ties are stable.
		share := shares(m.split)
		var best *Target
		for _, sg := range m.split {
			if best == nil || share[sg.target] > share[best] {
				best = sg.target
			}
		}
		return best
	}
	return m.fixed
}

// Revision returns the registry revision the Table was built from.
func (t *Table) Revision() int64 {
	if t == nil {
		return 0
	}
	return t.revision
}

// Stable returns the version a failed request for model name (as
// Request.Model) is retried on in t, Decision.Stable, or nil when t has
// none for it. The proxy asks it when the table changed between a
// request's decision and its retry, so that the retry follows the routing
// in force (a rollback may have taken the old stable version out).
func (t *Table) Stable(name string) *Target {
	if t == nil {
		return nil
	}
	n, ok := t.names[name]
	if !ok || n.model == nil {
		return nil
	}
	return n.model.stable
}

// CannotServe says why the version with full id id has no Target in t, as
// the words that follow its id in a message: Options.Unloaded's word for a
// version a rollback unloaded (which names the rollout), "is retired", or
// "is no longer registered"; "" when it can serve. It is for error paths,
// such as a request that reaches a version by a response id the proxy
// remembered and finds it gone; the request path never calls it.
func (t *Table) CannotServe(id string) string {
	if t.Target(id) != nil {
		return ""
	}
	var n name
	if t != nil {
		n = t.names[id]
	}
	switch e := n.entry; {
	case e == nil:
		return "is no longer registered"
	case e.gone != "":
		return e.gone
	case e.stage == sluice.StageRetired:
		return "is retired"
	default:
		return "has stage " + string(e.stage) + " and cannot serve"
	}
}

// Target returns the servable version with full id id, or nil. Shadow
// mirroring and retries use it to reach a version outside the decision.
func (t *Table) Target(id string) *Target {
	if t == nil {
		return nil
	}
	return t.byID[id]
}

// Targets returns the servable versions' Targets, in no set order; none for
// a nil Table.
func (t *Table) Targets() iter.Seq[*Target] {
	if t == nil {
		return func(func(*Target) bool) {}
	}
	return maps.Values(t.byID)
}

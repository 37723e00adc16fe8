package route

import (
	"net/http"
	"slices"
	"strings"

	"github.com/sluicehq/sluice"
)

// The routes a Decision reports: how the version was chosen.
const (
	// RoutePin means the request named a version, "model:tag".
	RoutePin = "pin"
	// RouteLabel means the request named a label, "model@label".
	RouteLabel = "label"
	// RouteForce means an authorised caller forced a version by header.
	RouteForce = "force"
	// RouteRule means a header rule matched.
	RouteRule = "rule"
	// RouteSplit means the model's weighted split chose the version.
	RouteSplit = "split"
	// RoutePolicy means the policy's one version served: the pinned version
	// of policy specific, or the latest production version of policies
	// latest and all.
	RoutePolicy = "policy"
)

// Request is what Decide needs to know about a request. Decide reads it and
// keeps no reference to it.
type Request struct {
	// Model is the "model" field as sent: "chat", "chat:v1.2.0" (a pin) or
	// "chat@canary" (a label).
	Model string
	// StickyKey is the OpenAI "user" field; empty means Decide reads the
	// sticky headers of Options from Header.
	StickyKey string
	// Header holds the request headers, read for rules, sticky headers and
	// the force header. Keys must be in canonical form, as net/http leaves
	// them; nil means no headers.
	Header http.Header
	// ForceAllowed says the caller is authorised to use the force header;
	// when false the header is ignored.
	ForceAllowed bool
	// Category is the request's category as the proxy resolved it (the
	// category header, else the body's metadata.category); rules on the
	// category header match it. Empty means: read the header.
	Category string
}

// Decision is the version chosen for one request and how it was chosen.
type Decision struct {
	// Target is the version to serve the request.
	Target *Target
	// Stable is the version to retry on when Target fails: the model's
	// "stable" label, else the split member with the largest share after
	// health, else the version the policy serves; nil when there is none. It
	// may be Target itself.
	Stable *Target
	// Route says how Target was chosen: RoutePin, RouteLabel, RouteForce,
	// RouteRule, RouteSplit or RoutePolicy.
	Route string
	// StickyHash is the salted hash of the sticky key, whatever the route,
	// so the proxy can sample users consistently; 0 when there is no key.
	StickyHash uint64
	// Bucket is the sticky bucket, 0 to Buckets-1, of a split decision, and
	// -1 for every other route.
	Bucket int
	// Unpinned is true when policy latest or all resolved the bare name: the
	// version moves whenever a newer one reaches production.
	Unpinned bool
}

// Decide chooses the version that serves r. Errors are *sluice.Error with a
// message that says what to send instead: CodeNotFound for an unknown model,
// version or label or a pin the policy does not serve, CodeGone for a
// retired version, CodeUnavailable when the policy has nothing to serve,
// CodeBadRequest when r names no model. A nil Table answers CodeUnavailable.
//
// Decide does not allocate unless it returns an error.
func (t *Table) Decide(r *Request) (Decision, error) {
	if t == nil {
		return Decision{Bucket: -1}, &sluice.Error{Code: sluice.CodeUnavailable, Message: "the routing table is not loaded yet: retry in a moment"}
	}
	n, ok := t.names[r.Model]
	if !ok {
		return Decision{Bucket: -1}, t.notFound(r.Model)
	}
	m := n.model
	d := Decision{Stable: m.stable, Bucket: -1}
	key := t.stickyKey(r)
	if key != "" {
		d.StickyHash = m.hash(key)
	}

	switch {
	case n.entry != nil:
		if n.entry.target == nil || !n.entry.addressable {
			return Decision{Bucket: -1}, m.pinError(n.entry.version, n.entry)
		}
		d.Target, d.Route = n.entry.target, RoutePin
		return d, nil
	case n.label != nil:
		if n.label.entry.target == nil {
			return Decision{Bucket: -1}, m.labelError(n.label.name, n.label)
		}
		d.Target, d.Route = n.label.entry.target, RouteLabel
		return d, nil
	}

	if r.ForceAllowed {
		if vs := r.Header[t.forceHeader]; len(vs) > 0 && vs[0] != "" {
			target, err := m.force(t.forceHeader, vs[0])
			if err != nil {
				return Decision{Bucket: -1}, err
			}
			d.Target, d.Route = target, RouteForce
			return d, nil
		}
	}
	for i := range m.rules {
		if m.rules[i].matches(r.Header, t.categoryHdr, r.Category) {
			d.Target, d.Route = m.rules[i].target, RouteRule
			return d, nil
		}
	}

	if m.kind == sluice.PolicySplit {
		if m.splitErr != nil {
			return Decision{Bucket: -1}, m.splitErr.err()
		}
		if key != "" {
			d.Bucket = int(d.StickyHash % Buckets)
		} else {
			d.Bucket = randomBucket()
		}
		d.Target, d.Route = pick(m.split, d.Bucket), RouteSplit
		return d, nil
	}
	if m.fixed == nil {
		return Decision{Bucket: -1}, m.fixedErr.err()
	}
	d.Target, d.Route = m.fixed, RoutePolicy
	d.Unpinned = m.kind != sluice.PolicySpecific
	return d, nil
}

// notFound explains why the model string s names nothing that exists.
func (t *Table) notFound(s string) error {
	name, sel, sep := parseModel(s)
	m := t.models[name]
	switch {
	case m == nil:
		return t.unknownModel(name)
	case sep == ':':
		return m.pinError(sel, nil)
	case sep == '@':
		return m.labelError(sel, nil)
	}
	return t.unknownModel(name) // unreachable: a bare model name is in t.names
}

// parseModel splits "name:tag" and "name@label"; sep is 0 for a bare name.
// Neither separator may occur in a model name, so the first one found
// decides.
func parseModel(s string) (name, sel string, sep byte) {
	for i := 0; i < len(s); i++ {
		if s[i] == ':' || s[i] == '@' {
			return s[:i], s[i+1:], s[i]
		}
	}
	return s, "", 0
}

// stickyKey returns the request's sticky key: the "user" field, else the
// first non-empty sticky header.
func (t *Table) stickyKey(r *Request) string {
	if r.StickyKey != "" {
		return r.StickyKey
	}
	for _, h := range t.stickyHeaders {
		if vs := r.Header[h]; len(vs) > 0 && vs[0] != "" {
			return vs[0]
		}
	}
	return ""
}

// force resolves a force header value: a version tag or a full id of m.
// Any servable version may be forced, addressable or not: the header is for
// authorised callers testing a version before it takes traffic.
func (m *model) force(header, value string) (*Target, error) {
	tag := value
	if mn, v, ok := sluice.SplitFullID(value); ok {
		if mn != m.name {
			return nil, sluice.Errorf(sluice.CodeNotFound, "%s names %s, which is not a version of model %s: use one of %s, or drop the header", header, value, m.name, m.servableTags())
		}
		tag = v
	}
	e := m.versions[tag]
	switch {
	case e == nil:
		return nil, sluice.Errorf(sluice.CodeNotFound, "%s names %q, which is not a version of model %s: use one of %s, or drop the header", header, value, m.name, m.servableTags())
	case e.gone != "":
		return nil, sluice.Errorf(sluice.CodeGone, "%s names %s:%s, which %s, so it no longer serves: force another version (one of %s) or drop the header", header, m.name, tag, e.gone, m.servableTags())
	case e.target == nil:
		return nil, sluice.Errorf(sluice.CodeGone, "%s names %s:%s, which is %s and cannot serve: force a servable version (one of %s) or drop the header", header, m.name, tag, e.stage, m.servableTags())
	}
	return e.target, nil
}

func (t *Table) unknownModel(name string) error {
	switch {
	case name == "" && t.modelList == "":
		return sluice.Errorf(sluice.CodeBadRequest, "the request names no model, and no models are registered yet: register one with sluice apply -f")
	case name == "":
		return sluice.Errorf(sluice.CodeBadRequest, "the request names no model: set \"model\" to one of %s (GET /v1/models lists them)", t.modelList)
	case t.modelList == "":
		return sluice.Errorf(sluice.CodeNotFound, "model %q does not exist: no models are registered yet (register one with sluice apply -f)", name)
	}
	return sluice.Errorf(sluice.CodeNotFound, "model %q does not exist: use one of %s (GET /v1/models lists them)", name, t.modelList)
}

func (m *model) pinError(tag string, e *entry) error {
	id := m.name + ":" + tag
	switch {
	case e == nil && m.pinList == "":
		return sluice.Errorf(sluice.CodeNotFound, "model %s has no version %q: send %q to get the current version", m.name, tag, m.name)
	case e == nil:
		return sluice.Errorf(sluice.CodeNotFound, "model %s has no version %q: send %q, or pin one of %s (GET /v1/models lists them)", m.name, tag, m.name, m.pinList)
	case e.stage == sluice.StageRetired:
		return sluice.Errorf(sluice.CodeGone, "%s is retired: send %q to get the current version", id, m.name)
	case e.gone != "":
		return sluice.Errorf(sluice.CodeGone, "%s %s, so it no longer serves: pin another version (%s) or send %q to get the current version", id, e.gone, m.pinsOr(), m.name)
	case e.target == nil:
		return sluice.Errorf(sluice.CodeUnavailable, "%s has stage %q and cannot serve: send %q to get the current version", id, e.stage, m.name)
	}
	return sluice.Errorf(sluice.CodeNotFound, "%s is not served under policy %s: send %q, or ask an operator to label it or switch the model to policy all", id, m.kind, m.name)
}

func (m *model) labelError(name string, l *label) error {
	switch {
	case l != nil && l.entry.gone != "":
		return sluice.Errorf(sluice.CodeGone, "%s@%s points at %s:%s, which %s, so it no longer serves: send %q to get the current version, pin another one (%s), or ask an operator to point the label at another version", m.name, name, m.name, l.entry.version, l.entry.gone, m.name, m.pinsOr())
	case l != nil && l.entry.stage == sluice.StageRetired:
		return sluice.Errorf(sluice.CodeGone, "%s@%s points at %s:%s, which is retired: send %q to get the current version", m.name, name, m.name, l.entry.version, m.name)
	case l != nil:
		return sluice.Errorf(sluice.CodeUnavailable, "%s@%s points at %s:%s, which has stage %q and cannot serve: send %q to get the current version", m.name, name, m.name, l.entry.version, l.entry.stage, m.name)
	case m.labelList != "":
		return sluice.Errorf(sluice.CodeNotFound, "model %s has no label %q: use one of %s, or send %q", m.name, name, m.labelList, m.name)
	}
	return sluice.Errorf(sluice.CodeNotFound, "model %s has no labels: send %q to get the current version", m.name, m.name)
}

// pinsOr lists the versions a client may pin, for messages, or says there
// are none.
func (m *model) pinsOr() string {
	if m.pinList == "" {
		return "none can be pinned now"
	}
	return "one of " + m.pinList
}

// servableTags lists the tags that may be forced, for messages.
func (m *model) servableTags() string {
	var tags []string
	for _, e := range m.versions {
		if e.target != nil {
			tags = append(tags, e.version)
		}
	}
	if len(tags) == 0 {
		return "none: the model has no servable version"
	}
	slices.SortFunc(tags, sluice.CompareTags)
	return strings.Join(tags, ", ")
}

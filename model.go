package sluice

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
)

// PolicyKind says how a request for the bare model name is served.
type PolicyKind string

// The policy kinds.
const (
	// PolicySpecific serves one pinned version.
	PolicySpecific PolicyKind = "specific"
	// PolicyLatest serves the newest production version; it is reported as
	// unpinned, since it moves when a newer version reaches production.
	PolicyLatest PolicyKind = "latest"
	// PolicyAll serves the newest production version for the bare name and
	// makes every servable version addressable by pin.
	PolicyAll PolicyKind = "all"
	// PolicySplit spreads requests over versions by weight, sticky per user.
	PolicySplit PolicyKind = "split"
	// PolicyOff takes the model out of service on purpose: requests for the
	// bare name (rules included) get 503 saying so. Versions stay
	// addressable by pin or label until retired, so evals can still reach
	// them; with policy off every version may be retired.
	PolicyOff PolicyKind = "off"
)

// Weight is one version's share of a split, in percent.
type Weight struct {
	// Version is the version tag (not the full id).
	Version string `json:"version" yaml:"version"`
	// Percent is the share of traffic, 0 to 100, in steps of 0.01.
	Percent float64 `json:"percent" yaml:"percent"`
}

// Policy is a model's routing policy for requests that name the bare model.
type Policy struct {
	// Kind is the policy kind; empty means latest.
	Kind PolicyKind `json:"kind" yaml:"kind"`
	// Version is the pinned version tag for PolicySpecific.
	Version string `json:"version,omitempty" yaml:"version,omitempty"`
	// Split holds the weights for PolicySplit; they sum to 100.
	Split []Weight `json:"split,omitempty" yaml:"split,omitempty"`
	// Salt seeds the sticky hash of a split. Changing it rotates which users
	// land on which version; empty means the model name. The model keeps it
	// under the other policies too, so a split set again after them without
	// a salt puts users back where they were (see Edit.SetPolicy).
	Salt string `json:"salt,omitempty" yaml:"salt,omitempty"`
}

// Rule sends requests whose header matches to a fixed version, ahead of the
// policy: a user segment, a request category, a region.
type Rule struct {
	// Header is the request header to read, such as X-User-Segment.
	Header string `json:"header" yaml:"header"`
	// Values are the header values that match (exact, case-sensitive).
	Values []string `json:"values" yaml:"values"`
	// Version is the version tag matching requests go to.
	Version string `json:"version" yaml:"version"`
}

// Model is a named model with its routing: policy, labels and rules. Its
// versions are held by the Registry.
type Model struct {
	// Name is the model name clients send, such as "chat".
	Name string `json:"name" yaml:"name"`
	// Description is free text for people.
	Description string `json:"description,omitempty" yaml:"description,omitempty"`
	// Policy routes requests for the bare name.
	Policy Policy `json:"policy" yaml:"policy"`
	// Labels map a label ("stable", "canary", any name) to a version tag;
	// clients address them as "model@label".
	Labels map[string]string `json:"labels,omitempty" yaml:"labels,omitempty"`
	// Rules are tried in order before the policy.
	Rules []Rule `json:"rules,omitempty" yaml:"rules,omitempty"`
	// UpdatedAt is when the routing last changed: set by the registry, at
	// the commit of the change (the time of its audit entries).
	UpdatedAt time.Time `json:"updated_at" yaml:"-"`
}

// Clone returns a deep copy of m.
func (m Model) Clone() Model {
	m.Policy.Split = slices.Clone(m.Policy.Split)
	m.Labels = maps.Clone(m.Labels)
	m.Rules = slices.Clone(m.Rules)
	for i := range m.Rules {
		m.Rules[i].Values = slices.Clone(m.Rules[i].Values)
	}
	return m
}

// PolicyString renders the policy for people: "split v1.1.0=95 v1.2.0=5",
// "specific v1.1.0", "latest (unpinned)", "all".
func (p Policy) String() string {
	switch p.Kind {
	case PolicySpecific:
		return "specific " + p.Version
	case PolicySplit:
		var b strings.Builder
		b.WriteString("split")
		for _, w := range p.Split {
			fmt.Fprintf(&b, " %s=%s", w.Version, FormatPercent(w.Percent))
		}
		return b.String()
	case PolicyAll:
		return "all"
	case PolicyOff:
		return "off (out of service)"
	default:
		return "latest (unpinned)"
	}
}

// FormatPercent renders a percentage without trailing zeros: 95, 2.5, 0.01.
func FormatPercent(p float64) string {
	s := fmt.Sprintf("%.2f", p)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// Basis converts a percentage to basis points of the 10,000 sticky buckets.
func Basis(percent float64) int { return int(math.Round(percent * 100)) }

// FinerThanBasis reports whether percent has more than two decimals, so
// that Basis would round it: a split is kept in hundredths of a percent.
// The tolerance lets 0.07 through, which is 7.000000000000001 hundredths.
func FinerThanBasis(percent float64) bool {
	bp := percent * 100
	return math.Abs(bp-math.Round(bp)) > 1e-6
}

// SplitOf returns the percent a split policy gives to version, 0 if none.
func (p Policy) SplitOf(version string) float64 {
	for _, w := range p.Split {
		if w.Version == version {
			return w.Percent
		}
	}
	return 0
}

// ParseWeights parses "v1.1.0=95" style arguments into weights.
func ParseWeights(args []string) ([]Weight, error) {
	var ws []Weight
	for _, a := range args {
		v, p, ok := strings.Cut(a, "=")
		if !ok {
			return nil, Errorf(CodeInvalid, "invalid weight %q: write VERSION=PERCENT, such as v1.2.0=5", a)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, Errorf(CodeInvalid, "invalid weight %q: the percent must be a number, such as v1.2.0=5", a)
		}
		ws = append(ws, Weight{Version: strings.TrimSpace(v), Percent: f})
	}
	return ws, nil
}

// ShadowedRules says which of a model's rules can never match, in whole or
// for some of their values: rules are tried in order and header names are
// read in any case, so a later rule on the same header and value as an
// earlier one never sees a request with them (a copy-paste left behind, or
// X-Segment and x-segment taken for two headers). Each message names both
// rules (numbered from 1, as in the file); nil when none is shadowed. It is
// a warning, as the routing is valid, only not what was meant.
func ShadowedRules(model string, rules []Rule) []string {
	var out []string
	for j, later := range rules {
		var dead []string
		var by []int
		for _, v := range later.Values {
			for i := range j {
				if strings.EqualFold(rules[i].Header, later.Header) && slices.Contains(rules[i].Values, v) {
					if !slices.Contains(dead, v) {
						dead = append(dead, v)
					}
					if !slices.Contains(by, i) {
						by = append(by, i)
					}
					break
				}
			}
		}
		if len(dead) == 0 {
			continue
		}
		earlier := make([]string, len(by))
		for k, i := range by {
			earlier[k] = fmt.Sprintf("rule %d (%s: %s → %s)", i+1, rules[i].Header, strings.Join(rules[i].Values, ","), rules[i].Version)
		}
		what := "can never match"
		if len(dead) < len(later.Values) {
			what = "can never match value " + strings.Join(dead, ", ")
		}
		out = append(out, fmt.Sprintf("model %s: rule %d (%s: %s → %s) %s: %s takes every request with that header (any case) and value first; remove it, or give it another value or header",
			model, j+1, later.Header, strings.Join(later.Values, ","), later.Version, what, strings.Join(earlier, " and ")))
	}
	return out
}

// SplitStableNote says, for a split of model and the version its "stable"
// label names, when failed requests are retried nowhere that matters:
// stable names a member of the split that is not its largest, so its own
// failures (retried on stable, i.e. on itself) are not retried at all,
// while it takes the retries of the larger members. This happens when a
// split is set by hand after a promotion moved stable to the new version.
// "" when stable is not a member, names the largest (or one of them), or
// is not set (retries then go to the largest member).
func SplitStableNote(model string, split []Weight, stable string) string {
	if stable == "" {
		return ""
	}
	i := slices.IndexFunc(split, func(w Weight) bool { return w.Version == stable })
	if i < 0 {
		return ""
	}
	largest := split[0]
	for _, w := range split[1:] {
		if w.Percent > largest.Percent {
			largest = w
		}
	}
	if split[i].Percent >= largest.Percent {
		return ""
	}
	return fmt.Sprintf("the stable label of %s names %s, which takes %s%% of the split: a failed request is retried on stable, so %s's failures are not retried at all, and the larger members' go to it; to retry on the largest member: sluice label %s stable=%s --reason \"…\"",
		model, stable, FormatPercent(split[i].Percent), stable, model, largest.Version)
}

package sim

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/analysis"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
)

// Scenario is one simulated rollout, as a scenario file describes it: the
// two versions' behaviour, the traffic, the rollout and the fixed gate to
// compare with.
type Scenario struct {
	// Name identifies the scenario in results; empty means the file name.
	Name string `yaml:"name"`
	// Description says what the scenario shows, for people.
	Description string `yaml:"description"`
	// Bad says the candidate should be rolled back: rollbacks of a bad
	// candidate count as detections, of a good one as false rollbacks.
	Bad bool `yaml:"bad"`
	// Duration is the most virtual time a run may take; a rollout still
	// active then is inconclusive.
	Duration sluice.Duration `yaml:"duration"`
	// Traffic is the request stream.
	Traffic Traffic `yaml:"traffic"`
	// Baseline and Candidate are the versions' behaviour, per category, as
	// the simulated model server takes it.
	Baseline  fakellm.Config `yaml:"baseline"`
	Candidate fakellm.Config `yaml:"candidate"`
	// Rollout is the rollout as an operator would start it; model and
	// version names are the simulator's own ("chat", "v1" → "v2"). The
	// strategy defaults to progressive.
	Rollout sluice.RolloutSpec `yaml:"rollout"`
	// FixedGate is the naive gate run on the same traffic for comparison.
	FixedGate analysis.FixedGateSpec `yaml:"fixed_gate"`
	// Cancels are the requests whose client leaves before the answer,
	// which the gateway records as canceled; zero means none.
	Cancels Cancels `yaml:"cancels"`
}

// Cancels models clients that give up. A request is canceled with
// probability Rate on either version (users who press stop), or, on top
// of that, when the version hangs on it: BaselineHang and CandidateHang are
// the shares of each version's requests that never answer, whose clients
// give up after their timeout. A canceled request is counted and leaves
// no error, refusal, latency or length, as in the gateway's windows; it is
// recorded when it arrives, not when its client gives up, a shortcut of at
// most a client timeout. A hung request counts among the candidate's bad
// responses; one its user stopped does not.
type Cancels struct {
	Rate          float64 `yaml:"rate"`
	BaselineHang  float64 `yaml:"baseline_hang"`
	CandidateHang float64 `yaml:"candidate_hang"`
}

// any reports whether any request may be canceled; a scenario without
// cancels draws no random value for them, so its runs are as before.
func (c Cancels) any() bool { return c.Rate > 0 || c.BaselineHang > 0 || c.CandidateHang > 0 }

// Traffic is the simulated request stream.
type Traffic struct {
	// Rate is the mean number of requests per second (Poisson arrivals).
	Rate float64 `yaml:"rate"`
	// Users is the number of distinct users, each the sticky key of its
	// requests; a user keeps its version for the whole of a stage.
	Users int `yaml:"users"`
	// StreamFraction is the share of streamed requests, the ones that
	// report a time to first token.
	StreamFraction float64 `yaml:"stream_fraction"`
	// Categories maps each request category to its weight; weights need
	// not sum to one. Empty means one category, "default".
	Categories map[string]float64 `yaml:"categories"`
	// Tools maps a category to the share of its requests that offer tools,
	// whose answers count toward the tool-call rate (the versions'
	// tool_call_rate says how many of them call one); a category not
	// named offers none.
	Tools map[string]float64 `yaml:"tools"`
}

// LoadScenario reads a scenario file: YAML, decoded strictly (an unknown
// key is an error), with ${ENV} references expanded.
func LoadScenario(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read scenario: %w", err)
	}
	sc, err := ParseScenario(data)
	if err != nil {
		return nil, fmt.Errorf("scenario %s: %w", path, err)
	}
	if sc.Name == "" {
		sc.Name = baseName(path)
	}
	return sc, nil
}

// ParseScenario decodes and validates a scenario from YAML, filling in
// defaults.
func ParseScenario(data []byte) (*Scenario, error) {
	var sc Scenario
	data = envRef.ReplaceAllFunc(data, func(m []byte) []byte { return []byte(os.Getenv(string(m[2 : len(m)-1]))) })
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&sc); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	sc.defaults()
	if err := sc.Validate(); err != nil {
		return nil, err
	}
	return &sc, nil
}

func (sc *Scenario) defaults() {
	if sc.Rollout.Strategy == "" {
		sc.Rollout.Strategy = sluice.StrategyProgressive
	}
	if sc.Traffic.Users == 0 {
		sc.Traffic.Users = 10000
	}
	if len(sc.Traffic.Categories) == 0 {
		sc.Traffic.Categories = map[string]float64{"default": 1}
	}
	if sc.Duration == 0 {
		sc.Duration = sluice.Duration(4 * time.Hour)
	}
	sc.Rollout.Model, sc.Rollout.Baseline, sc.Rollout.Candidate = modelName, baselineTag, candidateTag
}

// Validate checks a scenario and returns every problem, each naming its key.
func (sc *Scenario) Validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if sc.Duration <= 0 {
		bad("duration: must be positive, such as 2h")
	}
	if t := sc.Traffic; !(t.Rate > 0) || t.Rate > 10000 {
		bad("traffic.rate: must be between 0 and 10000 requests per second, got %v", t.Rate)
	}
	if sc.Traffic.Users < 1 {
		bad("traffic.users: must be at least 1, got %d", sc.Traffic.Users)
	}
	if f := sc.Traffic.StreamFraction; f < 0 || f > 1 || math.IsNaN(f) {
		bad("traffic.stream_fraction: must be between 0 and 1, got %v", f)
	}
	total := 0.0
	for _, name := range sortedKeys(sc.Traffic.Categories) {
		w := sc.Traffic.Categories[name]
		if !(w >= 0) || math.IsInf(w, 0) {
			bad("traffic.categories.%s: weight must be zero or positive, got %v", name, w)
		}
		total += w
	}
	if !(total > 0) {
		bad("traffic.categories: the weights must not all be zero")
	}
	for _, name := range sortedKeys(sc.Traffic.Tools) {
		if _, ok := sc.Traffic.Categories[name]; !ok {
			bad("traffic.tools.%s: not a category of traffic.categories", name)
		}
		if f := sc.Traffic.Tools[name]; !(f >= 0 && f <= 1) {
			bad("traffic.tools.%s: must be between 0 and 1, got %v", name, f)
		}
	}
	if err := sc.Baseline.Validate(); err != nil {
		bad("baseline: %w", err)
	}
	if err := sc.Candidate.Validate(); err != nil {
		bad("candidate: %w", err)
	}
	switch sc.Rollout.Strategy {
	case sluice.StrategyProgressive, sluice.StrategyCanary:
		spec := sc.Rollout
		spec.Stages = slices.Clone(spec.Stages) // WithDefaults writes through it
		if err := rollout.Validate(rollout.WithDefaults(spec)); err != nil {
			bad("rollout: %s", sluice.ErrorMessage(err))
		}
	default:
		bad("rollout.strategy: the simulator runs progressive and canary rollouts, not %q", sc.Rollout.Strategy)
	}
	if iv := sc.Rollout.Analysis.Interval.D(); iv != 0 && (iv < time.Second || iv%time.Second != 0) {
		bad("rollout.analysis.interval: must be a whole number of seconds, got %s", iv)
	}
	for i, st := range sc.Rollout.Stages {
		if st.Hold.D()%time.Second != 0 {
			bad("rollout.stages[%d].hold: must be a whole number of seconds, got %s", i, st.Hold.D())
		}
	}
	for _, c := range []struct {
		key string
		v   float64
	}{{"cancels.rate", sc.Cancels.Rate}, {"cancels.baseline_hang", sc.Cancels.BaselineHang}, {"cancels.candidate_hang", sc.Cancels.CandidateHang}} {
		if !(c.v >= 0 && c.v <= 1) {
			bad("%s: must be between 0 and 1, got %v", c.key, c.v)
		}
	}
	for _, c := range []struct {
		key string
		v   float64
	}{{"fixed_gate.min_tool_call_rate", sc.FixedGate.MinToolCallRate}, {"fixed_gate.max_tool_call_rate", sc.FixedGate.MaxToolCallRate}} {
		if !(c.v >= 0 && c.v <= 1) {
			bad("%s: must be between 0 and 1, got %v", c.key, c.v)
		}
	}
	if g := sc.FixedGate; g.MinToolCallRate > 0 && g.MaxToolCallRate > 0 && g.MinToolCallRate > g.MaxToolCallRate {
		bad("fixed_gate.min_tool_call_rate: %v is above max_tool_call_rate %v", g.MinToolCallRate, g.MaxToolCallRate)
	}
	if w := sc.FixedGate.Window.D(); w < 0 || w%time.Second != 0 {
		bad("fixed_gate.window: must be a whole number of seconds, got %s", w)
	}
	return errors.Join(errs...)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// envRef matches ${NAME}; a bare $ is left alone so texts may contain it.
var envRef = regexp.MustCompile(`\$\{[A-Za-z_][A-Za-z0-9_]*\}`)

// baseName is a file's name without directory and extension.
func baseName(path string) string {
	b := filepath.Base(path)
	return strings.TrimSuffix(b, filepath.Ext(b))
}

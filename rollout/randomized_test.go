package rollout_test

import (
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
)

// TestController_JudgesSplitTrafficOnly: while the candidate is live in
// the split (a canary, a paused canary, a progressive stage), the analysis
// and the stage's sample count only the requests the split assigned, and
// the verdict says how many it left out; a QA suite pinned to the
// candidate, all refused, does not fail it. In a blue-green preview (the
// candidate reached by label) and in the shadow phase (mirrored requests)
// the candidate's arm is that traffic by design, and is judged whole.
func TestController_JudgesSplitTrafficOnly(t *testing.T) {
	type want struct {
		candN, stageN int
		leftOut       bool
	}
	for _, tc := range []struct {
		name  string
		spec  sluice.RolloutSpec
		pause bool
		route string // how the candidate's own traffic reaches it
		want  want
	}{
		{"Canary", sluice.RolloutSpec{Strategy: sluice.StrategyCanary, CanaryPercent: 10}, false, "split", want{200, 200, true}},
		{"PausedCanary", sluice.RolloutSpec{Strategy: sluice.StrategyCanary, CanaryPercent: 10}, true, "split", want{200, 200, true}},
		{"Progressive", sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Stages: []sluice.RolloutStage{{Percent: 10}, {Percent: 100}}}, false, "split", want{200, 200, true}},
		{"BlueGreenPreview", sluice.RolloutSpec{Strategy: sluice.StrategyBlueGreen}, false, "label", want{300, 300, false}},
		{"Shadow", sluice.RolloutSpec{Strategy: sluice.StrategyShadow, ShadowFraction: 0.5}, false, "shadow", want{300, 300, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rec *observe.Recorder
			e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, func(o *rollout.Options) {
				rec = observe.New(observe.Options{Now: o.Now})
				o.Windows, o.Shadow = rec, &rvShadow{}
			})
			r := e.startLive(t, tc.spec)
			if tc.pause {
				r = e.act(t, rollout.EvPause, "look at it")
			}
			at := e.clock.Now().Add(time.Second)
			for i := range 200 {
				lat := time.Duration(100+i%10) * time.Millisecond
				e.recordN(rec, "v1", "split", at, false, lat, 1)
				e.recordN(rec, "v2", tc.route, at, false, lat, 1)
			}
			// The QA suite: 100 pinned requests, every one refused.
			e.recordN(rec, "v2", "pin", at, true, 100*time.Millisecond, 100)

			v, stageN := e.c.Analyze(&r, at.Add(time.Minute))
			if v.CandidateN != tc.want.candN || stageN != tc.want.stageN {
				t.Errorf("judged %d candidate requests, stage sample %d; want %d and %d", v.CandidateN, stageN, tc.want.candN, tc.want.stageN)
			}
			if got := e.c.StageSamples(&r); got != tc.want.stageN {
				t.Errorf("StageSamples = %d, want %d", got, tc.want.stageN)
			}
			if leftOut := strings.Contains(v.Reason, "not judged: 100 candidate requests"); leftOut != tc.want.leftOut {
				t.Errorf("reason %q: saying 100 candidate requests were left out is %v, want %v", v.Reason, leftOut, tc.want.leftOut)
			}
			if tc.want.leftOut && v.Outcome == sluice.OutcomeFail {
				t.Errorf("the candidate failed on the pinned suite's refusals: %s", v.Reason)
			}
		})
	}
}

// recordN records n successful observations of chat's version on rec,
// arriving at at, routed by how, each with a heuristic quality score (0 for
// a refusal).
func (e *rvEnv) recordN(rec *observe.Recorder, version, how string, at time.Time, refusal bool, latency time.Duration, n int) {
	score := 1.0
	if refusal {
		score = 0
	}
	for range n {
		rec.Record(&sluice.Observation{Model: "chat", Version: version, Route: how, At: at, Status: 200, Refusal: refusal,
			Latency: latency, OutputTokens: 50, ResponseChars: 200})
		rec.RecordQualityRouted(observe.SourceHeuristic, how, "chat", version, "", at, score)
	}
}

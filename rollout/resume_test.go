package rollout_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/rollout"
)

// TestResumeKeepsStageSample: a pause keeps the hold served ("the
// stage's hold continues from 40s") but a resume moved StageStartedAt to
// the resume time, and the stage's sample is counted from StageStartedAt:
// the 90 candidate requests served at this stage before the pause (and
// those served while paused, at the same weight) were forgotten, so the
// stage needed its full min_samples again after every pause. In the shadow
// and preview phases the analysis window itself starts at StageStartedAt,
// so a resume also threw the shadow pairs away. The hold now restarts from
// Rollout.HoldFrom and the stage keeps its start.
func TestResumeKeepsStageSample(t *testing.T) {
	e := newRVEnv(t, sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1"}, map[string]string{"stable": "v1"}, nil)
	e.startLive(t, sluice.RolloutSpec{Strategy: sluice.StrategyProgressive, Stages: []sluice.RolloutStage{
		{Percent: 10, Hold: sluice.Duration(time.Minute), MinSamples: 100}, {Percent: 100}}})
	e.clock.Add(30 * time.Second)
	e.win.record("v2", e.clock.Now(), 90)
	e.clock.Add(10 * time.Second)
	e.act(t, rollout.EvPause, "checking a dashboard")
	e.clock.Add(10 * time.Second)
	e.act(t, rollout.EvResume, "")
	e.clock.Add(20 * time.Second)
	e.win.record("v2", e.clock.Now(), 20)
	r := e.ctl.Registry().Rollouts["chat"]
	if n := e.c.StageSamples(r); n != 110 {
		t.Errorf("stage sample after pause and resume = %d, want 110 (90 before the pause, 20 after); hold served %s", n, r.Held(e.clock.Now()))
	}
}

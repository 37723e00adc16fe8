package server

import (
	"context"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/judge"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

// newJudge returns the configured LLM-as-judge, recording its grades as the
// "judge" quality source and storing each (judge_grades: an A/B test's
// report reads its sample's grades back after a restart or a change of
// leader), or nil when none is configured. A grade not stored (the store
// refused it, or the judge's queue of writes was full) is counted in
// sluice_store_write_errors_total{what="judge_grades"}.
func (s *Server) newJudge(c config.Judge) proxy.Judge {
	if c.Endpoint == "" {
		return nil
	}
	rate := c.SampleRate
	if rate == 0 {
		rate = 0.05
	}
	j := &judge.Judge{Endpoint: c.Endpoint, Model: c.Model, APIKey: c.APIKey, SampleRate: rate,
		Record: s.Recorder.QualityRecorder(observe.SourceJudge)}
	// Each grade not stored is counted, a write that failed or one that
	// found the judge's queue of writes full (a store that hangs: the
	// writes wait apart from the grading, judge.Judge.Keep).
	j.OnUnkept = s.storeWrites.failed(whatGrades)
	j.Keep = func(ctx context.Context, g sluice.JudgeGrade) error {
		err := s.Store.AddJudgeGrade(ctx, g)
		if err != nil {
			s.logger.Warn("a judge grade was not stored: an A/B report drawn after a restart or a change of leader will not count it", "request_id", g.RequestID, "err", err)
		}
		return err
	}
	s.Recorder.Registry().MustRegister(j.Collector())
	s.judge = j
	return j
}

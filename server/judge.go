package server

import (
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/judge"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/proxy"
)

// newJudge returns the configured LLM-as-judge, recording its grades as the
// "judge" quality source, or nil when none is configured.
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
	s.Recorder.Registry().MustRegister(j.Collector())
	s.judge = j
	return j
}

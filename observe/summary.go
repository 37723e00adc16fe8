package observe

import (
	"math"
	"slices"
	"time"
)

// VersionSummary describes how one version of a model did over a window, for
// the dashboard and the admin API. The analysis itself works on Samples.
type VersionSummary struct {
	// Version is the version tag.
	Version string `json:"version"`
	// Requests, Errors and Refusals count the window's observations, as in
	// Counts; Canceled the requests whose client left before the answer.
	Requests int64 `json:"requests"`
	Errors   int64 `json:"errors"`
	Refusals int64 `json:"refusals"`
	Canceled int64 `json:"canceled"`
	// ErrorRate is Errors over the requests that finished (all but the
	// canceled ones, as the analysis counts it: a version that hangs until
	// its clients leave must not look more reliable); CancelRate is Canceled
	// over Requests; RefusalRate is Refusals over the successful requests.
	// All are 0 without requests.
	ErrorRate   float64 `json:"error_rate"`
	CancelRate  float64 `json:"cancel_rate"`
	RefusalRate float64 `json:"refusal_rate"`
	// ToolAnswers and ToolCalls are as in Counts; ToolCallRate is ToolCalls
	// over ToolAnswers, 0 when no request offered tools (ToolAnswers tells
	// that apart from a version that never calls one).
	ToolAnswers  int64   `json:"tool_answers"`
	ToolCalls    int64   `json:"tool_calls"`
	ToolCallRate float64 `json:"tool_call_rate"`
	// LatencyP50, LatencyP95 and LatencyP99 are percentiles of the latency of
	// successful requests, in milliseconds; TTFTP50 is the median time to
	// first token of successful streams. Percentiles interpolate linearly
	// between the closest ranks; they are 0 without data.
	LatencyP50 float64 `json:"latency_p50_ms"`
	LatencyP95 float64 `json:"latency_p95_ms"`
	LatencyP99 float64 `json:"latency_p99_ms"`
	TTFTP50    float64 `json:"ttft_p50_ms"`
	// MeanOutputTokens is the mean output tokens of successful requests.
	MeanOutputTokens float64 `json:"mean_output_tokens"`
	// RatePerSecond is Requests over the time from the window's start to
	// now: since, or the earliest kept observation when since is zero or the
	// window is Truncated; when the Recorder started after since (a gateway
	// up for 30 s asked for its last 5 minutes), from its start, unless it
	// holds observations from before (recorded at earlier times).
	RatePerSecond float64 `json:"rate_per_second"`
	// Truncated is as in Sample.
	Truncated bool `json:"truncated,omitempty"`
}

// Summary returns a summary per version of a model (across categories) of
// the observations at or after since, sorted by version.
//
// A version whose windows were seeded from the request log (Seed) counts
// its rate from where the rows begin, the others from the Recorder's start.
func (r *Recorder) Summary(model string, since time.Time) []VersionSummary {
	versions := r.Versions(model)
	if len(versions) == 0 {
		return nil
	}
	now := r.opt.Now()
	out := make([]VersionSummary, 0, len(versions))
	for _, v := range versions {
		out = append(out, summarize(v, r.Window(model, v, "", since), since, now, r.observedFrom(model, v)))
	}
	return out
}

// Windowed is what Summarize reads: a Recorder, a Union, or the fleet's
// windows (fleet.Windows), whose summary counts every replica's requests.
type Windowed interface {
	Versions(model string) []string
	Window(model, version, category string, since time.Time) Sample
}

// Summarize returns a summary per version of a model (across categories) of
// the observations in w at or after since, as of now, sorted by version.
// started is when this process began to observe (Recorder.Started; zero:
// unknown): a rate counts from it when w holds nothing from before it. The
// fleet's windows hold the other replicas' older observations, so a
// replica restarted into a running fleet counts from since, as it should.
func Summarize(w Windowed, model string, since, now, started time.Time) []VersionSummary {
	versions := w.Versions(model)
	if len(versions) == 0 {
		return nil
	}
	out := make([]VersionSummary, 0, len(versions))
	for _, v := range versions {
		out = append(out, summarize(v, w.Window(model, v, "", since), since, now, started))
	}
	return out
}

// summarize reduces a Sample; it sorts the Sample's slices. started is
// when the Recorder began to observe (zero: unknown).
func summarize(version string, s Sample, since, now, started time.Time) VersionSummary {
	vs := VersionSummary{
		Version:     version,
		Requests:    s.Requests,
		Errors:      s.Errors,
		Refusals:    s.Refusals,
		ToolAnswers: s.ToolAnswers,
		ToolCalls:   s.ToolCalls,
		Truncated:   s.Truncated,
	}
	if s.Requests == 0 {
		return vs
	}
	vs.Canceled = s.Canceled()
	vs.CancelRate = float64(vs.Canceled) / float64(s.Requests)
	if finished := s.Requests - vs.Canceled; finished > 0 {
		vs.ErrorRate = float64(s.Errors) / float64(finished)
	}
	if s.Succeeded > 0 {
		vs.RefusalRate = float64(s.Refusals) / float64(s.Succeeded)
	}
	if s.ToolAnswers > 0 {
		vs.ToolCallRate = float64(s.ToolCalls) / float64(s.ToolAnswers)
	}
	slices.Sort(s.Latency)
	vs.LatencyP50 = quantile(s.Latency, 0.50)
	vs.LatencyP95 = quantile(s.Latency, 0.95)
	vs.LatencyP99 = quantile(s.Latency, 0.99)
	slices.Sort(s.TTFT)
	vs.TTFTP50 = quantile(s.TTFT, 0.50)
	vs.MeanOutputTokens = mean(s.OutputTokens)

	start := since
	if since.IsZero() || s.Truncated {
		start = s.First
	}
	if start.Before(started) && !s.First.Before(started) {
		// Nothing was observed before the Recorder started: spread over
		// the 5 minutes asked for, the first minute's traffic after a
		// restart read as a fifth of what it is.
		start = started
	}
	end := now
	if s.Last.After(end) {
		end = s.Last
	}
	if span := end.Sub(start).Seconds(); span > 0 {
		vs.RatePerSecond = float64(s.Requests) / span
	}
	return vs
}

// quantile returns the q-quantile (0 ≤ q ≤ 1) of sorted, interpolating
// linearly between the closest ranks (the definition R and NumPy use by
// default). It returns 0 for an empty slice and NaN for q outside [0, 1].
func quantile(sorted []float64, q float64) float64 {
	if q < 0 || q > 1 || math.IsNaN(q) {
		return math.NaN()
	}
	n := len(sorted)
	if n == 0 {
		return 0
	}
	h := q * float64(n-1)
	lo := int(h)
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// mean returns the arithmetic mean of xs, 0 when empty.
func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	return sum / float64(len(xs))
}

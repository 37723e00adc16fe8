package observe_test

import (
	"math"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/observe"
)

func TestRecorder_RecordQualityFrom(t *testing.T) {
	t.Run("OK", func(t *testing.T) {
		r := observe.New(observe.Options{})
		r.Record(obs("m", "v1", "code", 1))
		r.RecordQualityFrom(observe.SourceHeuristic, "m", "v1", "code", t0.Add(2*time.Second), 1)
		r.RecordQualityFrom(observe.SourceFeedback, "m", "v1", "code", t0.Add(3*time.Second), 0.25)
		r.RecordQualityFrom(observe.SourceJudge, "m", "v1", "chat", t0.Add(4*time.Second), 0.8)
		r.RecordQualityFrom(observe.SourceHeuristic, "m", "v2", "code", t0.Add(5*time.Second), 0)
		r.RecordQuality("m", "v1", "", t0.Add(6*time.Second), 0.5)

		s := r.Window("m", "v1", "code", time.Time{})
		if !slices.Equal(s.Quality, []float64{1, 0.25}) {
			t.Fatalf("Quality(code) = %v, want [1 0.25]", s.Quality)
		}
		if s.Requests != 1 {
			t.Fatalf("Requests = %d: quality scores must not count as observations", s.Requests)
		}
		all := r.Window("m", "v1", "", time.Time{})
		if !slices.Equal(all.Quality, []float64{1, 0.25, 0.8, 0.5}) {
			t.Fatalf("Quality(all) = %v, want in time order [1 0.25 0.8 0.5]", all.Quality)
		}
		want := map[string][]float64{"heuristic": {1}, "feedback": {0.25}, "judge": {0.8}, "other": {0.5}}
		for src, w := range want {
			if !slices.Equal(all.QualityBySource[src], w) {
				t.Fatalf("QualityBySource[%s] = %v, want %v", src, all.QualityBySource[src], w)
			}
		}
		if got := r.Window("m", "v1", observe.NoCategory, time.Time{}).Quality; !slices.Equal(got, []float64{0.5}) {
			t.Fatalf("Quality(none) = %v, want [0.5]", got)
		}
		if got := r.Window("m", "v1", "", t0.Add(4*time.Second)).Quality; !slices.Equal(got, []float64{0.8, 0.5}) {
			t.Fatalf("Quality since 4s = %v, want [0.8 0.5]", got)
		}
		if got := r.Window("m", "v2", "", time.Time{}).Quality; !slices.Equal(got, []float64{0}) {
			t.Fatalf("Quality(v2) = %v, want [0]", got)
		}
	})
	t.Run("Clamped", func(t *testing.T) {
		r := observe.New(observe.Options{})
		r.RecordQualityFrom(observe.SourceFeedback, "m", "v1", "", t0, 7)
		r.RecordQualityFrom(observe.SourceFeedback, "m", "v1", "", t0, -1)
		r.RecordQualityFrom(observe.SourceFeedback, "m", "v1", "", t0, math.NaN())
		if got := r.Window("m", "v1", "", time.Time{}).Quality; !slices.Equal(got, []float64{1, 0}) {
			t.Fatalf("Quality = %v, want [1 0] (clamped, NaN dropped)", got)
		}
	})
	t.Run("Bounded", func(t *testing.T) {
		r := observe.New(observe.Options{WindowSize: 4})
		for i := range 10 {
			r.RecordQualityFrom(observe.SourceHeuristic, "m", "v1", "c", t0.Add(time.Duration(i)*time.Second), float64(i)/10)
		}
		if got := r.Window("m", "v1", "c", time.Time{}).Quality; !slices.Equal(got, []float64{0.6, 0.7, 0.8, 0.9}) {
			t.Fatalf("Quality = %v, want the 4 most recent", got)
		}
	})
	// What the user does: collects users' thumbs up/down (POST /v1/feedback)
	// on a busy model whose every answer also gets the heuristic score.
	// What must happen: the feedback stays in the window until the window
	// of feedback itself is full; before, the sources shared one window,
	// and WindowSize heuristic scores pushed every feedback score out.
	t.Run("BoundedPerSource", func(t *testing.T) {
		r := observe.New(observe.Options{WindowSize: 4})
		r.RecordQualityFrom(observe.SourceFeedback, "m", "v1", "c", t0, 0.25)
		for i := range 10 {
			r.RecordQualityFrom(observe.SourceHeuristic, "m", "v1", "c", t0.Add(time.Duration(i+1)*time.Second), 1)
		}
		s := r.Window("m", "v1", "c", time.Time{})
		if got := s.QualityBySource["feedback"]; !slices.Equal(got, []float64{0.25}) {
			t.Fatalf("feedback = %v, want [0.25]: it was pushed out by the heuristic's scores", got)
		}
		if n := len(s.QualityBySource["heuristic"]); n != 4 {
			t.Fatalf("kept %d heuristic scores, want the window's 4", n)
		}
		// The fleet's batches carry each source's new scores.
		c := observe.NewCursor(r)
		r.RecordQualityFrom(observe.SourceFeedback, "m", "v1", "c", t0.Add(20*time.Second), 0.5)
		for i := range 6 {
			r.RecordQualityFrom(observe.SourceHeuristic, "m", "v1", "c", t0.Add(time.Duration(21+i)*time.Second), 0)
		}
		bs := c.Take()
		if len(bs) != 1 || bs[0].Scores != 5 {
			t.Fatalf("Take = %+v, want one batch of 5 scores (1 feedback, the 4 heuristic ones the window kept)", bs)
		}
		other := observe.New(observe.Options{WindowSize: 4})
		if err := other.Ingest(bs[0]); err != nil {
			t.Fatal(err)
		}
		if got := other.Window("m", "v1", "c", time.Time{}).QualityBySource["feedback"]; !slices.Equal(got, []float64{0.5}) {
			t.Fatalf("feedback through a batch = %v, want [0.5]", got)
		}
	})
	t.Run("Concurrent", func(t *testing.T) {
		r := observe.New(observe.Options{})
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for i := range 500 {
					r.RecordQualityFrom(observe.SourceHeuristic, "m", "v1", "c", time.Time{}, 1)
					if i%100 == 0 {
						r.Window("m", "v1", "", time.Time{})
						scrape(t, r)
					}
					_ = g
				}
			})
		}
		wg.Wait()
		if n := len(r.Window("m", "v1", "", time.Time{}).Quality); n != 2000 {
			t.Fatalf("kept %d scores, want 2000", n)
		}
	})
}

func TestRecorder_QualityMetrics(t *testing.T) {
	r := observe.New(observe.Options{})
	rec := r.QualityRecorder(observe.SourceJudge)
	rec("m", "v1", "code", "split", t0, 0.8)
	rec("m", "v1", "code", "pin", t0, 0.35)
	r.RecordQualityFrom("made-up", "m", "v1", "code", t0, 1)
	body := scrape(t, r)
	for _, w := range []string{
		`sluice_quality_score_bucket{category="code",model="m",source="judge",version="v1",le="0.4"} 1`,
		`sluice_quality_score_bucket{category="code",model="m",source="judge",version="v1",le="0.8"} 2`,
		`sluice_quality_score_count{category="code",model="m",source="judge",version="v1"} 2`,
		`sluice_quality_score_count{category="code",model="m",source="other",version="v1"} 1`,
	} {
		if !contains(body, w) {
			t.Fatalf("metrics lack %s\n%s", w, body)
		}
	}
}

func BenchmarkRecorder_RecordQualityFrom(b *testing.B) {
	r := observe.New(observe.Options{})
	b.ReportAllocs()
	for b.Loop() {
		r.RecordQualityFrom(observe.SourceHeuristic, "llama", "v7", "chat", t0, 1)
	}
}

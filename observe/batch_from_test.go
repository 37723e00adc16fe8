package observe_test

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/observe"
)

// TestIngest_From: a Batch's From has Ingest leave out the observations
// that arrived before it and their heuristic scores (the reader has them
// from the request log), and keep those at or after it and every other
// source's scores, which the request log does not hold.
func TestIngest_From(t *testing.T) {
	src := observe.New(observe.Options{})
	c := observe.NewCursor(src)
	for i := range 100 {
		o := obs("m", "v1", "chat", i)
		src.Record(o)
		src.RecordQualityFrom(observe.SourceHeuristic, "m", "v1", "chat", o.At, 0.5)
		src.RecordQualityFrom(observe.SourceJudge, "m", "v1", "chat", o.At, 0.75)
	}
	from := t0.Add(40 * time.Second) // the 41st observation's arrival: kept
	dst := observe.New(observe.Options{})
	for _, b := range c.Take() {
		b.From = from
		if err := dst.Ingest(b); err != nil {
			t.Fatal(err)
		}
	}
	got := dst.Window("m", "v1", "chat", time.Time{})
	if got.Requests != 60 || !got.First.Equal(from) {
		t.Errorf("ingested %d observations from %v, want the 60 from %v on", got.Requests, got.First, from)
	}
	if h, j := len(got.QualityBySource[observe.SourceHeuristic]), len(got.QualityBySource[observe.SourceJudge]); h != 60 || j != 100 {
		t.Errorf("ingested %d heuristic and %d judge scores, want the 60 heuristic from the cut on and all 100 of the judge's", h, j)
	}

	// A batch wholly before From adds nothing, not even an empty series.
	src.Record(obs("m", "v9", "chat", 1))
	for _, b := range c.Take() {
		b.From = from
		if err := dst.Ingest(b); err != nil {
			t.Fatal(err)
		}
	}
	if vs := dst.Versions("m"); len(vs) != 1 {
		t.Errorf("versions after a batch wholly before From: %v, want v1 alone", vs)
	}
}

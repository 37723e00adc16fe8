package observe

import (
	"reflect"
	"testing"
)

// entryNext is entry as a later build might lay it out: a field added in
// the middle, one dropped (chars) and the order changed.
type entryNext struct {
	errIdx       uint8
	at           int64
	cachedTokens int32
	latency      float32
	ttft         float32
	outTokens    int32
	flags        uint8
}

// TestDecodeBatch_OtherLayout checks that a Batch from a build whose entry
// has other fields decodes the fields both know.
func TestDecodeBatch_OtherLayout(t *testing.T) {
	in := []entryNext{
		{at: 1e9, cachedTokens: 7, latency: 12.5, ttft: 3, outTokens: 40, flags: flagStream},
		{at: 2e9, latency: 99, outTokens: 1, flags: flagFailed, errIdx: 1},
	}
	l := layoutOf(reflect.TypeFor[entryNext]())
	b := []byte(batchMagic)
	b = appendLayout(b, l)
	b = appendLayout(b, qentryLayout)
	b = appendStrings(b, []string{"", "timeout"})
	b = appendStrings(b, qualitySources[:])
	b = appendColumns(b, l, in)
	b = appendColumns(b, qentryLayout, []qentry{{at: 5, score: 0.25, source: 2}})

	r := New(Options{})
	r.internErrClass("canceled") // so that "timeout" gets another index here
	es, qs, err := r.decodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	timeout := r.internErrClass("timeout")
	want := []entry{
		{at: 1e9, latency: 12.5, ttft: 3, outTokens: 40, flags: flagStream},
		{at: 2e9, latency: 99, outTokens: 1, flags: flagFailed, errIdx: timeout},
	}
	if !reflect.DeepEqual(es, want) {
		t.Errorf("entries %+v, want %+v", es, want)
	}
	if len(qs) != 1 || qs[0] != (qentry{at: 5, score: 0.25, source: sourceIndex(SourceJudge)}) {
		t.Errorf("scores %+v", qs)
	}
}

// TestEncodeBatch_AllFields checks that every field of entry survives a
// round trip, whatever fields entry has when the test runs.
func TestEncodeBatch_AllFields(t *testing.T) {
	var e entry
	for i, f := range entryLayout {
		p := fieldBytes(&e, f)
		for j := range p {
			p[j] = byte(i + j + 1)
		}
	}
	e.errIdx = 1
	r := New(Options{})
	es, _, err := r.decodeBatch(encodeBatch([]entry{e}, nil, []string{"", "boom"}))
	if err != nil {
		t.Fatal(err)
	}
	e.errIdx = r.internErrClass("boom")
	if len(es) != 1 || es[0] != e {
		t.Fatalf("round trip of %+v gave %+v", e, es)
	}
}

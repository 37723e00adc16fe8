package observe

import (
	"reflect"
	"testing"
	"time"
	"unsafe"

	"github.com/sluicehq/sluice"
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

// entryBeforeTools is entry as the builds before the tool-call rate laid
// it out: the same fields, with no flag for tools.
type entryBeforeTools struct {
	at        int64
	latency   float32
	ttft      float32
	outTokens int32
	chars     int32
	flags     uint8
	errIdx    uint8
}

// TestDecodeBatch_BeforeTools checks that an older replica's Batch still
// decodes during a rolling upgrade, and that its observations, which never
// said whether their request offered tools, count in neither the answers
// to tool requests nor the calls: they do not dilute the tool-call rate.
func TestDecodeBatch_BeforeTools(t *testing.T) {
	in := []entryBeforeTools{
		{at: 1e9, latency: 12, outTokens: 40, chars: 100, flags: flagStream | flagRefusal},
		{at: 2e9, latency: 13, outTokens: 4, chars: 10},
	}
	l := layoutOf(reflect.TypeFor[entryBeforeTools]())
	b := []byte(batchMagic)
	b = appendLayout(b, l)
	b = appendLayout(b, qentryLayout)
	b = appendStrings(b, []string{""})
	b = appendStrings(b, qualitySources[:])
	b = appendColumns(b, l, in)
	b = appendColumns(b, qentryLayout, []qentry(nil))
	r := New(Options{})
	es, _, err := r.decodeBatch(b)
	if err != nil {
		t.Fatal(err)
	}
	var c Counts
	for i := range es {
		c.add(&es[i])
	}
	if c.Requests != 2 || c.Refusals != 1 || c.ToolAnswers != 0 || c.ToolCalls != 0 {
		t.Errorf("counts %+v, want 2 requests, 1 refusal, no tool answers", c)
	}

	// This build's entries carry the flags through the same encoding.
	now := []entry{
		newEntry(1e9, &sluice.Observation{ToolsOffered: true, ToolCall: true}),
		newEntry(2e9, &sluice.Observation{ToolsOffered: true}),
		newEntry(3e9, &sluice.Observation{ToolsOffered: true, ToolCall: true, ErrorClass: "timeout"}),
	}
	now[2].errIdx = 1
	es, _, err = r.decodeBatch(encodeBatch(now, nil, []string{"", "timeout"}))
	if err != nil {
		t.Fatal(err)
	}
	c = Counts{}
	for i := range es {
		c.add(&es[i])
	}
	if c.ToolAnswers != 2 || c.ToolCalls != 1 {
		t.Errorf("counts %+v, want 1 tool call of 2 answers (the timeout is no answer)", c)
	}
}

// qentryBeforeRandomized is qentry as the builds before the analysis left
// out requests routed on purpose laid it out.
type qentryBeforeRandomized struct {
	at     int64
	score  float64
	source uint8
}

// TestDecodeBatch_BeforeRandomized checks that an older replica's Batch,
// which does not say how its requests were routed, counts as randomly
// assigned: in a fleet mid-upgrade the analysis keeps judging the older
// replicas' traffic as it did, rather than starving for data.
// (entryBeforeTools is also the layout from before entry.nonRandom.)
func TestDecodeBatch_BeforeRandomized(t *testing.T) {
	es := []entryBeforeTools{{at: 1e9, latency: 12, outTokens: 40, chars: 100}, {at: 2e9, latency: 13, outTokens: 4, chars: 10}}
	qs := []qentryBeforeRandomized{{at: 1e9, score: 1, source: 1}}
	el, ql := layoutOf(reflect.TypeFor[entryBeforeTools]()), layoutOf(reflect.TypeFor[qentryBeforeRandomized]())
	b := []byte(batchMagic)
	b = appendLayout(b, el)
	b = appendLayout(b, ql)
	b = appendStrings(b, []string{""})
	b = appendStrings(b, qualitySources[:])
	b = appendColumns(b, el, es)
	b = appendColumns(b, ql, qs)
	r := New(Options{})
	if err := r.Ingest(Batch{Model: "chat", Version: "v2", Category: NoCategory, Observations: 2, Scores: 1, Data: b}); err != nil {
		t.Fatal(err)
	}
	if s := r.Randomized("chat", "v2", "", time.Time{}); s.Requests != 2 || s.NotRandomized != 0 || len(s.Quality) != 1 {
		t.Errorf("an older replica's batch: %d randomized requests, %d left out, %d scores; want 2, 0, 1", s.Requests, s.NotRandomized, len(s.Quality))
	}
}

// TestEntry_Size: the flag that says a request was not randomly assigned
// fits in the padding of entry and qentry, so a window's memory (32 and 24
// bytes an observation and a score, as Options documents) does not grow.
func TestEntry_Size(t *testing.T) {
	if n := unsafe.Sizeof(entry{}); n != 32 {
		t.Errorf("entry is %d bytes, want 32", n)
	}
	if n := unsafe.Sizeof(qentry{}); n != 24 {
		t.Errorf("qentry is %d bytes, want 24", n)
	}
}

package ui

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/observe"
)

func TestSessions_Expiry(t *testing.T) {
	now := time.Date(2026, 11, 22, 14, 0, 0, 0, time.UTC)
	ss := newSessions(8*time.Hour, time.Hour, func() time.Time { return now })
	id, s := ss.create("hash")
	if id == "" || s.csrf == "" || s.key == id || ss.get(id) == nil {
		t.Fatalf("new session %q: %+v", id, s)
	}
	if ss.get(id+"x") != nil || ss.get("") != nil {
		t.Error("an unknown id found a session")
	}
	now = now.Add(59 * time.Minute)
	if ss.get(id) == nil {
		t.Fatal("a session used within the idle time ended")
	}
	now = now.Add(61 * time.Minute)
	if ss.get(id) != nil {
		t.Error("an idle session is still live")
	}
	id, _ = ss.create("hash")
	for range 10 {
		now = now.Add(50 * time.Minute)
		ss.get(id)
	}
	if ss.get(id) != nil {
		t.Error("a session outlived its TTL")
	}
}

func TestSessions_Bounded(t *testing.T) {
	now := time.Now()
	ss := newSessions(time.Hour, time.Hour, func() time.Time { return now })
	first, _ := ss.create("h")
	for range maxSessions + 10 {
		now = now.Add(time.Millisecond)
		ss.create("h")
	}
	if len(ss.m) != maxSessions || ss.get(first) != nil {
		t.Errorf("%d sessions kept; the least recently used survived: %v", len(ss.m), ss.get(first) != nil)
	}
}

func TestPointOf(t *testing.T) {
	now := time.Unix(1000, 0)
	s := observe.Sample{Counts: observe.Counts{Requests: 20, Succeeded: 18, Errors: 2, Refusals: 3},
		Latency: []float64{5, 1, 3, 2, 4}, TTFT: []float64{2, 1, 3}, OutputTokens: []float64{10, 20}}
	p := pointOf(s, now, 10*time.Second)
	if p.T != 1000000 || p.N != 20 || p.RPS != 2 || p.Err != 0.1 || p.Ref != 3.0/18 || *p.P50 != 3 || *p.P99 != 4.96 || *p.TTFT != 2 || *p.Tok != 15 {
		t.Errorf("pointOf = %+v p50 %v p99 %v", p, *p.P50, *p.P99)
	}
	// Canceled requests: their own rate, and out of the error rate's
	// denominator (a version that hangs must not look more reliable).
	c := pointOf(observe.Sample{Counts: observe.Counts{Requests: 20, Succeeded: 12, Errors: 2}}, now, 10*time.Second)
	if c.Can != 0.3 || c.Err != 2.0/14 {
		t.Errorf("with 6 canceled of 20: cancel rate %v, error rate %v; want 0.3 and 2/14", c.Can, c.Err)
	}
	// The tool-call rate is over the answers to requests that offered
	// tools, and absent without any (not a rate of 0).
	tc := pointOf(observe.Sample{Counts: observe.Counts{Requests: 20, Succeeded: 20, ToolAnswers: 8, ToolCalls: 2}}, now, 10*time.Second)
	if tc.Tool == nil || *tc.Tool != 0.25 {
		t.Errorf("with 2 tool calls of 8 answers to tool requests: Tool %v, want 0.25", tc.Tool)
	}
	if p.Tool != nil {
		t.Errorf("without tool requests: Tool %v, want absent", *p.Tool)
	}
	empty := pointOf(observe.Sample{}, now, 10*time.Second)
	if empty.N != 0 || empty.P50 != nil || empty.TTFT != nil || empty.Tok != nil || empty.Tool != nil {
		t.Errorf("empty point %+v", empty)
	}
}

package route

import (
	"net/http"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// t0 stamps fixture edits.
var t0 = time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC)

// sunset is the announced retirement of chat:v1.0.5 in the fixture.
var sunset = time.Date(2027, 1, 15, 0, 0, 0, 0, time.UTC)

// editor wraps a sluice.Edit and fails the test on any error, so fixtures
// go through the same validation as real changes.
type editor struct {
	tb testing.TB
	e  *sluice.Edit
}

func newEditor(tb testing.TB) *editor {
	tb.Helper()
	return &editor{tb: tb, e: sluice.NewRegistry().Edit("test", "fixture", t0)}
}

func (ed *editor) must(err error) {
	ed.tb.Helper()
	if err != nil {
		ed.tb.Fatalf("fixture: %v", err)
	}
}

// version registers model:tag in stage with one endpoint per extra port
// (default one).
func (ed *editor) version(model, tag string, stage sluice.Stage, endpoints ...string) {
	ed.tb.Helper()
	if len(endpoints) == 0 {
		endpoints = []string{"http://127.0.0.1:9000/" + model + "/" + tag}
	}
	_, err := ed.e.RegisterVersion(sluice.Version{Model: model, Version: tag, Stage: stage, Endpoints: endpoints})
	ed.must(err)
}

// registry finishes the edit and returns the registry it produced.
func (ed *editor) registry() *sluice.Registry {
	ed.tb.Helper()
	_, err := ed.e.Finish()
	ed.must(err)
	return ed.e.Registry()
}

// MustFixture returns the registry most tests route over:
//
//   - chat: split v1.1.0=95 v1.2.0=5; labels stable, canary, legacy; rules
//     on X-User-Segment and X-Region; a retired, a deprecated (with sunset)
//     and an unaddressable development version.
//   - embed: specific v2; v1 is production (addressable, as released
//     versions are), v3 is staging (not addressable).
//   - summarize: latest, resolving to v2.
//   - draft: all, with no production version.
//   - vision: all, with a development version addressable by pin.
func MustFixture(tb testing.TB) *sluice.Registry {
	tb.Helper()
	ed := newEditor(tb)
	ed.version("chat", "v1.0.0", sluice.StageRetired)
	ed.version("chat", "v1.0.5", sluice.StageProduction)
	ed.must(ed.e.SetStage("chat:v1.0.5", sluice.StageDeprecated, sunset))
	ed.version("chat", "v1.1.0", sluice.StageProduction, "http://10.0.0.1:8000", "http://10.0.0.2:8000")
	ed.version("chat", "v1.2.0", sluice.StageStaging)
	ed.version("chat", "v1.3.0", sluice.StageDevelopment)
	ed.must(ed.e.SetSplit("chat", []sluice.Weight{{Version: "v1.1.0", Percent: 95}, {Version: "v1.2.0", Percent: 5}}))
	ed.must(ed.e.SetLabel("chat", "stable", "v1.1.0"))
	ed.must(ed.e.SetLabel("chat", "canary", "v1.2.0"))
	ed.must(ed.e.SetLabel("chat", "legacy", "v1.0.5"))
	ed.must(ed.e.SetRules("chat", []sluice.Rule{
		{Header: "X-User-Segment", Values: []string{"beta", "internal"}, Version: "v1.2.0"},
		{Header: "x-region", Values: []string{"eu"}, Version: "v1.0.5"},
	}))

	ed.version("embed", "v1", sluice.StageProduction)
	ed.version("embed", "v2", sluice.StageProduction)
	ed.version("embed", "v3", sluice.StageStaging)
	ed.must(ed.e.SetPolicy("embed", sluice.Policy{Kind: sluice.PolicySpecific, Version: "v2"}))

	ed.version("summarize", "v1", sluice.StageProduction)
	ed.version("summarize", "v2", sluice.StageProduction)
	ed.version("summarize", "v3", sluice.StageStaging)

	ed.version("draft", "v0.1", sluice.StageStaging)
	ed.must(ed.e.SetPolicy("draft", sluice.Policy{Kind: sluice.PolicyAll}))

	ed.version("vision", "v1", sluice.StageProduction)
	ed.version("vision", "v2", sluice.StageDevelopment)
	ed.must(ed.e.SetPolicy("vision", sluice.Policy{Kind: sluice.PolicyAll}))
	return ed.registry()
}

// MustSplit returns a registry with one model "chat" of production versions
// v1, v2, ... split by percents under salt.
func MustSplit(tb testing.TB, salt string, percents ...float64) *sluice.Registry {
	tb.Helper()
	ed := newEditor(tb)
	var ws []sluice.Weight
	for i, p := range percents {
		tag := "v" + string(rune('1'+i))
		ed.version("chat", tag, sluice.StageProduction)
		ws = append(ws, sluice.Weight{Version: tag, Percent: p})
	}
	ed.must(ed.e.SetPolicy("chat", sluice.Policy{Kind: sluice.PolicySplit, Split: ws, Salt: salt}))
	return ed.registry()
}

// hdr builds a header from name, value pairs.
func hdr(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Add(kv[i], kv[i+1])
	}
	return h
}

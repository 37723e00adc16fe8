package ui_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/rollout"
)

// promotedTable is what TestDashboard_CategoryTableKeepsThePromotedBaseline
// reads: the versions of the category table's all-traffic rows, the note,
// and the versions the all-traffic request-rate chart draws.
type promotedTable struct {
	Versions []string `json:"versions"`
	Note     string   `json:"note"`
	Charted  []string `json:"charted"`
}

const readPromotedTable = `(() => {
  const out = {versions: [], note: "", charted: []};
  document.querySelectorAll('#categories-table tbody tr').forEach(tr => {
    if (tr.children.length > 2 && tr.children[0].textContent === "all traffic") out.versions.push(tr.children[1].textContent);
  });
  const n = document.getElementById('categories-note'); out.note = n ? n.textContent : "";
  document.querySelectorAll('#charts .chart[data-metric="rps"] path.series').forEach(p => {
    if (+p.dataset.points > 0) out.charted.push(p.dataset.series.split(" ")[0]);
  });
  return out;
})()`

// TestDashboard_CategoryTableKeepsThePromotedBaseline: after a promotion
// the charts keep both arms for their window, but the category table
// listed only the versions serving, so the baseline the candidate had just
// replaced vanished from it at the moment an operator compares the two.
// The table now lists the ended rollout's arms beside the serving versions
// as long as the charts do, and its note says why the old one is there.
func TestDashboard_CategoryTableKeepsThePromotedBaseline(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	g := MustGateway(t, MustBackend(t, fakellm.Config{}), MustBackend(t, fakellm.Config{Seed: 3}))
	startLoad(t, g.URL(), 2)
	startCanary(t, g)
	waitFor(t, "the candidate's first answers", 20*time.Second, func() bool {
		return slices.Contains(g.Recorder.Versions("chat"), "v1.1.0")
	})
	if _, err := g.Rollouts.Act(context.Background(), "olga-operator", "chat", rollout.EvPromote, "ship it"); err != nil {
		t.Fatalf("promote: %v", err)
	}
	waitFor(t, "the promotion", 20*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhasePromoted
	})
	if serving := g.Control.Registry().ServingVersions("chat"); !slices.Equal(serving, []string{"v1.1.0"}) {
		t.Fatalf("serving after the promotion: %v; want the candidate alone", serving)
	}
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	var st promotedTable
	deadline := time.Now().Add(30 * time.Second)
	for {
		var err error
		if st, err = chromedp.Run(ctx, chromedp.Evaluate[promotedTable](readPromotedTable)); err != nil {
			t.Fatalf("read the page: %v", err)
		}
		if slices.Contains(st.Charted, "v1.0.0") && len(st.Versions) > 0 && st.Note != "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("page after the promotion: %+v; want both versions charted and the table drawn%s", st, pageText(ctx))
		}
		time.Sleep(100 * time.Millisecond)
	}
	slices.Sort(st.Versions)
	if !slices.Equal(st.Versions, []string{"v1.0.0", "v1.1.0"}) {
		t.Errorf("category table's all-traffic versions after the promotion: %v, while the charts draw %v; want v1.0.0 and v1.1.0, as the charts", st.Versions, st.Charted)
	}
	if !strings.Contains(st.Note, "v1.0.0") || !strings.Contains(st.Note, "rollout") {
		t.Errorf("category note after the promotion: %q; want it to say v1.0.0 is there as the ended rollout's", st.Note)
	}
	if errs := jsErrors(); len(errs) > 0 {
		t.Errorf("page errors: %v", errs)
	}
}

package ui_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// catPage is what the category table's test reads.
type catPage struct {
	Note string   `json:"note"`
	Bad  []string `json:"bad"` // the cells marked worse: text, then title
}

const readCatPage = `(() => {
  const out = {note: "", bad: []};
  const n = document.getElementById('categories-note'); out.note = n ? n.textContent : "";
  const heads = Array.from(document.querySelectorAll('#categories-table thead th')).map(th => th.textContent);
  document.querySelectorAll('#categories-table td.delta-bad').forEach(td => out.bad.push(heads[td.cellIndex] + ": " + td.textContent + " | " + (td.title || "")));
  return out;
})()`

// TestDashboard_CategoryMarks: the category table marked a candidate worse
// in a category by its colour alone, which not everyone can see; such a
// cell now carries a ▲ and a title. And with no rollout, the note read
// "Serving versions since 02:15:54", as if something had happened then:
// it is a sliding window, and now says over how long.
func TestDashboard_CategoryMarks(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{Default: fakellm.Behavior{RefusalRate: 0.02}})
	cand := MustBackend(t, fakellm.Config{Seed: 3, Default: fakellm.Behavior{RefusalRate: 0.5}})
	g := MustGateway(t, stable, cand)
	startLoad(t, g.URL(), 2)
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	var st catPage
	waitFor(t, "the category note", 30*time.Second, func() bool {
		var err error
		st, err = chromedp.Run(ctx, chromedp.Evaluate[catPage](readCatPage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return st.Note != ""
	})
	if !strings.HasPrefix(st.Note, "Serving versions over the last ") || !strings.Contains(st.Note, "(since ") {
		t.Errorf("note with no rollout: %q; want how long the window is", st.Note)
	}

	// Loose enough on refusals (and the quality they lower) that the analysis does not roll it back
	// (the table then leaves the pair) before the page is read.
	spec := canarySpec()
	spec.Analysis.Thresholds.RefusalRateRel, spec.Analysis.Thresholds.RefusalRateAbs, spec.Analysis.Thresholds.QualityAbs = 100, 0.9, 1
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "canary of a refusing candidate", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the canary to go live", 20*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseProgressing
	})
	if err := chromedp.Do(ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("page: %s", pageText(ctx))
		}
	}()
	waitFor(t, "a category marked worse", 60*time.Second, func() bool {
		var err error
		st, err = chromedp.Run(ctx, chromedp.Evaluate[catPage](readCatPage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		return len(st.Bad) > 0
	})
	for _, c := range st.Bad {
		if !strings.Contains(c, "▲") || !strings.HasSuffix(c, "| the candidate is worse here") {
			t.Errorf("cell marked worse %q: want a ▲ and a title, not the colour alone", c)
		}
	}
}

// TestDashboard_CanceledMarkedWorse: the category table's "Canceled"
// column was held to a latency's 50 ms difference (its title holds no
// "rate"), which no rate reaches, so a candidate whose clients give up
// waiting was never marked worse there.
func TestDashboard_CanceledMarkedWorse(t *testing.T) {
	ctx, jsErrors := newBrowser(t)
	stable := MustBackend(t, fakellm.Config{})
	cand := MustBackend(t, fakellm.Config{Seed: 3, Default: fakellm.Behavior{Latency: fakellm.Distribution{MedianMS: 400, P99MS: 600}}})
	g := MustGateway(t, stable, cand)
	spec := canarySpec()
	th := &spec.Analysis.Thresholds
	th.CancelRateRel, th.CancelRateAbs, th.QualityAbs, th.LatencyRel = 100, 1, 1, 100 // never rolled back: the table must keep the pair
	if _, err := g.Rollouts.Start(context.Background(), "alice-admin", "canary of a slow candidate", spec); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the canary to go live", 20*time.Second, func() bool {
		r := g.Control.Registry().Rollouts["chat"]
		return r != nil && r.Phase == sluice.PhaseProgressing
	})
	// Clients that give up after 100 ms: the candidate's requests are
	// canceled, the stable version's answered.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	t.Cleanup(func() { close(stop); wg.Wait() })
	client := &http.Client{Timeout: 100 * time.Millisecond}
	for w := range 6 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := fmt.Sprintf(`{"model":"chat","user":"u-%d-%d","messages":[{"role":"user","content":"hi"}]}`, w, i%97)
				resp, err := client.Post(g.URL()+"/v1/chat/completions", "application/json", strings.NewReader(body))
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		})
	}
	if err := chromedp.Do(ctx, signedIn(g.AdminURL(), g.viewer)); err != nil {
		t.Fatalf("sign-in: %v%s\npage errors: %v", err, pageText(ctx), jsErrors())
	}
	var st catPage
	defer func() {
		if t.Failed() {
			t.Logf("page: %s", pageText(ctx))
		}
	}()
	waitFor(t, "the Canceled column marked worse", 60*time.Second, func() bool {
		var err error
		st, err = chromedp.Run(ctx, chromedp.Evaluate[catPage](readCatPage))
		if err != nil {
			t.Fatalf("read the page: %v", err)
		}
		for _, c := range st.Bad {
			if strings.HasPrefix(c, "Canceled") && strings.Contains(c, "▲") {
				return true
			}
		}
		return false
	})
}

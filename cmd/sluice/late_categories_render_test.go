package main

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice/rollout"
)

// TestRenderLateRatings_ByCategory: late ratings were shown for all traffic
// only, under a report that compares each request category. The view now
// adds them per category (those with late ratings; the others counted in a
// line), so a next-morning wave of thumbs-down in search is seen as
// search's, not as a dip of the candidate overall. The figures are those
// of rollout's TestLateFeedback_ByCategory, with a third category that has
// no late rating.
func TestRenderLateRatings_ByCategory(t *testing.T) {
	late := &rollout.LateRatings{After: time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC),
		Baseline:  rollout.LateArm{Version: "v1", Ratings: 2, Up: 2, Mean: 1, Total: 27, TotalMean: 1},
		Candidate: rollout.LateArm{Version: "v2", Ratings: 8, Down: 8, Mean: 0, Total: 33, TotalMean: 25.0 / 33},
		Categories: []rollout.LateCategory{
			{Category: "billing", Baseline: rollout.LateArm{Version: "v1", Total: 5, TotalMean: 1}, Candidate: rollout.LateArm{Version: "v2", Total: 5, TotalMean: 1}},
			{Category: "payments",
				Baseline:  rollout.LateArm{Version: "v1", Ratings: 2, Up: 2, Mean: 1, Total: 12, TotalMean: 1},
				Candidate: rollout.LateArm{Version: "v2", Total: 10, TotalMean: 1}},
			{Category: "search",
				Baseline:  rollout.LateArm{Version: "v1", Total: 10, TotalMean: 1},
				Candidate: rollout.LateArm{Version: "v2", Ratings: 8, Down: 8, Mean: 0, Total: 18, TotalMean: 10.0 / 18}},
		}}
	var b strings.Builder
	renderLateRatings(&b, late, "")
	out := b.String()
	for _, want := range []string{
		"  By category:\n",
		"(1 category without late ratings not shown: -o json shows every one)",
		"  Not tested: ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the view lacks %q:\n%s", want, out)
		}
	}
	// CATEGORY ARM VERSION LATE UP DOWN LATE-MEAN ALL ALL-MEAN
	rows := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^  (billing|payments|search)\s+(baseline|candidate)\s+(.*)$`).FindAllStringSubmatch(out, -1) {
		rows[m[1]+" "+m[2]] = strings.Join(strings.Fields(m[3]), " ")
	}
	want := map[string]string{
		"payments baseline":  "v1 2 2 0 1 12 1",
		"payments candidate": "v2 0 0 0 - 10 1",
		"search baseline":    "v1 0 0 0 - 10 1",
		"search candidate":   "v2 8 0 8 0 18 0.5556",
	}
	for k, w := range want {
		if rows[k] != w {
			t.Errorf("%s: %q, want %q:\n%s", k, rows[k], w, out)
		}
	}
	if len(rows) != len(want) {
		t.Errorf("category rows %v, want payments' and search's alone:\n%s", rows, out)
	}
	// The all-traffic rows stay as they were, first.
	if !regexp.MustCompile(`(?m)^  candidate\s+v2\s+8\s+0\s+8\s`).MatchString(out) || strings.Index(out, "By category") < strings.Index(out, "  candidate ") {
		t.Errorf("the all-traffic rows are not first:\n%s", out)
	}

	// One category: no category table.
	b.Reset()
	one := *late
	one.Categories = nil
	renderLateRatings(&b, &one, "")
	if strings.Contains(b.String(), "By category") {
		t.Errorf("a category table without categories:\n%s", b.String())
	}
}

package sim

import (
	"fmt"
	"strings"
	"time"
)

// Markdown renders results as the table of sim/RESULTS.md: one row per
// scenario and gate.
func Markdown(results []Result) string {
	var b strings.Builder
	b.WriteString("| scenario | gate | runs | rolled back | promoted | inconclusive | candidate requests before decision (median / p95) | bad responses served (median / p95) | time to decision (median / p95) |\n")
	b.WriteString("|---|---|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		for _, g := range r.Gates {
			s := g.Summary
			n := s.Promoted + s.RolledBack + s.Inconclusive
			if n == 0 {
				continue
			}
			rb := pctOf(s.RolledBack, n)
			switch {
			case r.Bad:
				rb += " (detection)"
			case s.RolledBack > 0:
				rb += " (false)"
			}
			name := r.Scenario
			if r.Bad {
				name += " (bad)"
			}
			fmt.Fprintf(&b, "| %s | %s | %d | %s | %s | %s | %.0f / %.0f | %.0f / %.0f | %s / %s |\n",
				name, g.Gate, n, rb, pctOf(s.Promoted, n), pctOf(s.Inconclusive, n),
				s.CandidateRequests.Median, s.CandidateRequests.P95,
				s.BadResponses.Median, s.BadResponses.P95,
				virtual(s.TimeToDecision.Median), virtual(s.TimeToDecision.P95))
		}
	}
	b.WriteString("\nNote: " + RetryNote + ".\n")
	return b.String()
}

func pctOf(k, n int) string { return fmt.Sprintf("%.1f%%", 100*float64(k)/float64(n)) }

// virtual prints a virtual duration in seconds as 1h23m, 4m10s or 45s.
func virtual(sec float64) string {
	d := time.Duration(sec * float64(time.Second)).Round(time.Second)
	if d >= time.Hour {
		d = d.Round(time.Minute)
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

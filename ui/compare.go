package ui

import (
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// writeError writes err as the admin API writes its errors.
func writeError(w http.ResponseWriter, err error) { api.WriteError(w, err) }

// ArmStats sums up one version's requests in one category.
type ArmStats struct {
	// Requests is the number of requests; RPS their rate.
	Requests int64   `json:"requests"`
	RPS      float64 `json:"rps"`
	// ErrorRate (of the requests that finished), CancelRate and
	// RefusalRate are fractions, as in Point.
	ErrorRate   float64 `json:"error_rate"`
	CancelRate  float64 `json:"cancel_rate"`
	RefusalRate float64 `json:"refusal_rate"`
	// P50, P99 and TTFT are in milliseconds; Tokens is the mean output
	// tokens. Absent without data.
	P50    *float64 `json:"p50_ms,omitempty"`
	P99    *float64 `json:"p99_ms,omitempty"`
	TTFT   *float64 `json:"ttft_ms,omitempty"`
	Tokens *float64 `json:"tokens,omitempty"`
	// ToolCallRate is as Point.Tool: absent when no request offered tools.
	ToolCallRate *float64 `json:"tool_call_rate,omitempty"`
}

// CategoryRow compares the versions in one request category.
type CategoryRow struct {
	// Category is the request category; "" is all traffic.
	Category string `json:"category"`
	// Versions maps a version tag to its numbers.
	Versions map[string]ArmStats `json:"versions"`
}

// CategoriesAnswer is the answer to GET /ui/api/categories.
type CategoriesAnswer struct {
	// Since is the start of the comparison: when the running rollout's
	// candidate went live, else 15 minutes ago, or, when no version's data
	// reaches back that far (the gateway started since, or the model's
	// first request came since), the first request observed (FromFirst).
	Since time.Time `json:"since"`
	// FromFirst is true when Since is the first request observed: the
	// data covers less than the 15 minutes.
	FromFirst bool `json:"from_first,omitempty"`
	// Versions are the versions compared, baseline first during a rollout.
	Versions []string `json:"versions"`
	// Baseline and Candidate are the arms of the running rollout.
	Baseline  string `json:"baseline,omitempty"`
	Candidate string `json:"candidate,omitempty"`
	// Ended lists the versions compared with no rollout running that no
	// longer serve: the arms of the model's rollout that ended at EndedAt,
	// less than the charts' window ago, kept as long as the charts keep
	// them (a promotion's baseline left the table while the charts still
	// drew it beside the candidate).
	Ended   []string  `json:"ended,omitempty"`
	EndedAt time.Time `json:"ended_at,omitzero"`
	// Rows is all traffic first, then each category.
	Rows []CategoryRow `json:"rows"`
	// Cut is true when the windows no longer reach back to the rollout's
	// start (they keep their newest observations): Since is then moved to
	// where every cell's numbers start, so the counts and rates cover one
	// span and say which.
	Cut bool `json:"cut,omitempty"`
}

// categories compares the versions per request category since the
// running rollout's candidate went live.
func (s *Server) categories(w http.ResponseWriter, r *http.Request, _ *session, _ *sluice.Token) {
	model, err := modelParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	now := s.opt.Now()
	reg := s.opt.Control.Registry()
	out := CategoriesAnswer{Since: now.Add(-15 * time.Minute), Versions: []string{}, Rows: []CategoryRow{}}
	if ro := reg.ActiveRollout(model); ro != nil {
		out.Baseline, out.Candidate = ro.Spec.Baseline, ro.Spec.Candidate
		if !ro.LiveAt.IsZero() {
			out.Since = ro.LiveAt
		} else {
			out.Since = ro.StageStartedAt
		}
	}
	if s.opt.Windows == nil {
		writeJSON(w, out)
		return
	}
	if out.Baseline != "" {
		out.Versions = []string{out.Baseline, out.Candidate}
	} else {
		// The versions serving, then an ended rollout's arms, as charted.
		serving := reg.ServingVersions(model)
		observed := s.opt.Windows.Versions(model)
		for _, v := range charted(reg, model, now, s.opt.History) {
			if !slices.Contains(observed, v) {
				continue
			}
			out.Versions = append(out.Versions, v)
			if !slices.Contains(serving, v) {
				out.Ended = append(out.Ended, v)
				out.EndedAt = reg.Rollouts[model].EndedAt
			}
		}
	}
	cats := append([]string{""}, s.opt.Windows.Categories(model)...)
	slices.Sort(cats[1:])
	// A window that no longer reaches back to Since holds only its newest
	// observations: its count would be the window's size, not the traffic.
	// Since then moves to the latest point every cell covers.
	for _, c := range cats {
		for _, v := range out.Versions {
			if smp := s.opt.Windows.Window(model, v, c, out.Since); smp.Truncated && smp.First.After(out.Since) {
				out.Since, out.Cut = smp.First, true
			}
		}
	}
	if out.Baseline == "" && !out.Cut {
		out.Since, out.FromFirst = dataSince(s.opt.Windows, model, out.Versions, out.Since)
	}
	for _, c := range cats {
		row := CategoryRow{Category: c, Versions: map[string]ArmStats{}}
		for _, v := range out.Versions {
			smp := s.opt.Windows.Window(model, v, c, out.Since)
			p := pointOf(smp, now, now.Sub(out.Since))
			row.Versions[v] = ArmStats{Requests: p.N, RPS: p.RPS, ErrorRate: p.Err, CancelRate: p.Can, RefusalRate: p.Ref, P50: p.P50, P99: p.P99, TTFT: p.TTFT, Tokens: p.Tok, ToolCallRate: p.Tool}
		}
		out.Rows = append(out.Rows, row)
	}
	writeJSON(w, out)
}

// dataSince returns when the versions' data starts, from since on: since
// when some version has requests before it, else the first request
// observed, and true. With no rollout the table said "over the last 15m"
// of a gateway up for 5 minutes. A version's window holds requests from
// before since when its total (every request since its series was first
// seen) counts more than the window does.
func dataSince(w Windows, model string, versions []string, since time.Time) (time.Time, bool) {
	var first time.Time
	for _, v := range versions {
		smp := w.Window(model, v, "", since)
		if smp.Total.Requests > smp.Requests {
			return since, false
		}
		if smp.Requests > 0 && (first.IsZero() || smp.First.Before(first)) {
			first = smp.First
		}
	}
	if first.After(since) {
		return first, true
	}
	return since, false
}

// ShadowAnswer is the answer to GET /ui/api/shadow.
type ShadowAnswer struct {
	// Available is false when this gateway keeps no shadow pairs.
	Available bool `json:"available"`
	// Pairs are the most recent pairs, newest first, as the proxy
	// describes them (primary and shadow answers and their differences).
	Pairs []sluice.ShadowPair `json:"pairs"`
	// TextsWithheld is true when the prompts, answer texts and tool calls'
	// arguments were left out for a viewer, as the admin API leaves them out
	// (api.ShadowPairList).
	TextsWithheld bool `json:"texts_withheld,omitempty"`
}

// shadow returns the model's recent stable and shadow answer pairs.
func (s *Server) shadow(w http.ResponseWriter, r *http.Request, _ *session, tok *sluice.Token) {
	model, err := modelParam(r)
	if err != nil {
		writeError(w, err)
		return
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	if limit <= 0 || limit > 200 {
		limit = 50
	}
	out := ShadowAnswer{Pairs: []sluice.ShadowPair{}}
	if s.opt.ShadowPairs != nil {
		out.Available = true
		if p := s.opt.ShadowPairs(model, limit); p != nil {
			out.Pairs = p
		}
	}
	if tok == nil || !tok.Role.Allows(sluice.RoleOperator) {
		out.TextsWithheld = true
		for i := range out.Pairs {
			api.WithholdTexts(&out.Pairs[i])
		}
	}
	writeJSON(w, out)
}

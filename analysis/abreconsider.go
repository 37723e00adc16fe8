package analysis

import (
	"slices"

	"github.com/sluicehq/sluice"
)

// ABQualityRow compares the quality scores b and c of one source as an A/B
// report's all-traffic row of that source compares them (Welch's test,
// the margin from spec's thresholds), its AdjustedP and Winner left for
// WithQualityRow to set; false when an arm has fewer than two scores, as
// the report then has no such row.
func ABQualityRow(source string, b, c []float64, spec sluice.AnalysisSpec) (ABMetric, bool) {
	spec = WithDefaults(spec)
	row, ok := abMeanRow("quality", &mQuality, b, c, 0, spec.Alpha, spec.Thresholds)
	row.Source = source
	return row, ok
}

// WithQualityRow returns a copy of rep whose all-traffic quality row of
// source is row (in its place; added last when rep had none; removed when row is nil), with
// the family's p-values adjusted again and the winners decided again, as
// ABReport decides them: what the report would say had that row been
// drawn on other scores. rep itself is not changed (a drawn report never
// is); its category rows stay as drawn.
func WithQualityRow(rep Report, source string, row *ABMetric) Report {
	out := rep
	out.Metrics = slices.Clone(rep.Metrics)
	at := slices.IndexFunc(out.Metrics, func(m ABMetric) bool {
		return m.Metric == "quality" && m.Source == source && m.Category == ""
	})
	switch {
	case row != nil && at >= 0:
		out.Metrics[at] = *row
		out.Metrics[at].Source, out.Metrics[at].Category = source, ""
	case row != nil:
		r := *row
		r.Source, r.Category = source, ""
		out.Metrics = append(out.Metrics, r)
	case at >= 0:
		out.Metrics = slices.Delete(out.Metrics, at, at+1)
	}
	out.Categories = slices.Clone(rep.Categories)
	if out.Alpha <= 0 || out.Alpha >= 1 {
		out.Alpha = WithDefaults(sluice.AnalysisSpec{}).Alpha // as ABReport's spec takes it
	}
	out.decide()
	return out
}

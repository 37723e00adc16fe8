package analysis

import (
	"fmt"
	"slices"
	"strings"

	"github.com/sluicehq/sluice"
)

// Guardable lists the metrics analysis.guards may name, in the order
// verdicts list them. The error and cancel rates are left out: they are what
// a broken candidate shows, so a pass must show them within their
// thresholds. A Prometheus gate has its own rule for no data (it holds the
// stage), and is not a row of this package.
func Guardable() []string {
	var out []string
	for _, d := range defs {
		if d != &mErrors && d != &mCancels {
			out = append(out, d.name)
		}
	}
	return out
}

// ValidateGuards refuses an analysis.guards list naming a metric that is not
// guardable (Guardable), or one twice, naming the key and what it may hold.
func ValidateGuards(names []string) error {
	ok := Guardable()
	for i, n := range names {
		switch {
		case n == mErrors.name || n == mCancels.name:
			return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"analysis.guards"},
				Message: fmt.Sprintf("analysis.guards cannot name %s: a broken candidate shows first in the error and cancel rates, so a pass must show them within their thresholds; guard any of %s", n, strings.Join(ok, ", "))}
		case !slices.Contains(ok, n):
			return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"analysis.guards"},
				Message: fmt.Sprintf("analysis.guards names %q, which is not a metric of the analysis: use any of %s", n, strings.Join(ok, ", "))}
		case slices.Contains(names[:i], n):
			return &sluice.Error{Code: sluice.CodeInvalid, Fields: []string{"analysis.guards"},
				Message: fmt.Sprintf("analysis.guards names %s twice: give each metric once", n)}
		}
	}
	return nil
}

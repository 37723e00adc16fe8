package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"

	"github.com/sluicehq/sluice"
)

// usageKey names a usage row by client key, model and version.
type usageKey struct{ key, model, version string }

// segUsage is a usage row of one segment, named by the dictionary indexes
// of its key, model and version.
type segUsage struct {
	k [3]uint32
	u sluice.UsageRow
}

// RequestUsage sums the requests matching q per client key, model and
// version (rows of attempts retried on another version left out), ordered
// by key, model and version as text; q.Limit is ignored. It reads the
// segments as CountRequests does: each once, summed by dictionary index
// within a segment and by name across segments.
func (s *Store) RequestUsage(ctx context.Context, q sluice.RequestQuery) ([]sluice.UsageRow, error) {
	f := newSegmentFilter(q)
	sums := map[usageKey]*sluice.UsageRow{}
	add := func(k usageKey, u *sluice.UsageRow) {
		if t := sums[k]; t != nil {
			t.Add(*u)
			return
		}
		row := *u
		row.ClientKey, row.Model, row.Version = k.key, k.model, k.version
		sums[k] = &row
	}
	// A segment's sums by dictionary index, and where each is; rows of
	// one key and version often follow each other, so the last one found
	// is tried first.
	var seg []segUsage
	index := map[[3]uint32]int{}
	last := -1
	const op = "sum request usage"
	err := s.read(ctx, op, func(tx *sql.Tx) error {
		clear(sums)
		if legacy, err := s.legacyIn(ctx, tx); err != nil {
			return err
		} else if legacy {
			if err := legacyUsage(ctx, tx, q, add); err != nil {
				return err
			}
		}
		return s.scanSegments(ctx, tx, op, &f, func(d *decodedSegment, _ int64) bool {
			seg, last = seg[:0], -1
			clear(index)
			f.match(d, func(r *segRow, _ int) {
				if r.flags&segRetried != 0 {
					return
				}
				k := [3]uint32{r.dict[dictKey], r.dict[0], r.dict[1]}
				if last < 0 || seg[last].k != k {
					i, ok := index[k]
					if !ok {
						i = len(seg)
						index[k] = i
						seg = append(seg, segUsage{k: k})
					}
					last = i
				}
				u := &seg[last].u
				u.Requests++
				switch class := d.words[r.dict[5]]; class {
				case "", sluice.ClassDrainCut, sluice.ClassBadRequest: // not the key's error (Observation.Failed)
				case "canceled":
					u.Canceled++
				default:
					u.Errors++
				}
				u.InputTokens += r.numbers[3]
				u.OutputTokens += r.numbers[4]
				u.CachedTokens += r.numbers[6]
				if r.flags&segTokensEstimated != 0 {
					u.EstimatedTokens += r.numbers[3] + r.numbers[4]
				}
			})
			for i := range seg {
				g := &seg[i]
				add(usageKey{d.words[g.k[0]], d.words[g.k[1]], d.words[g.k[2]]}, &g.u)
			}
			return true
		})
	})
	if err != nil {
		return nil, err
	}
	if len(sums) == 0 {
		return nil, nil
	}
	out := make([]sluice.UsageRow, 0, len(sums))
	for _, u := range sums {
		out = append(out, *u)
	}
	slices.SortFunc(out, func(a, b sluice.UsageRow) int {
		return cmp.Or(cmp.Compare(a.ClientKey, b.ClientKey), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Version, b.Version))
	})
	return out, nil
}

// legacyUsage adds the old table's usage of q to add: its rows have no
// client key and no cached tokens.
func legacyUsage(ctx context.Context, tx *sql.Tx, q sluice.RequestQuery, add func(usageKey, *sluice.UsageRow)) error {
	where, args := legacyWhere(q)
	if where == "" {
		where = " WHERE retried = 0"
	} else {
		where += " AND retried = 0"
	}
	rows, err := tx.QueryContext(ctx, `SELECT model, version, COUNT(*),
		COALESCE(SUM(error_class NOT IN ('', 'canceled', 'drain_cut', 'bad_request')), 0), COALESCE(SUM(error_class = 'canceled'), 0),
		COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0) FROM requests`+where+" GROUP BY model, version", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k usageKey
		var u sluice.UsageRow
		if err := rows.Scan(&k.model, &k.version, &u.Requests, &u.Errors, &u.Canceled, &u.InputTokens, &u.OutputTokens); err != nil {
			return err
		}
		add(k, &u)
	}
	return rows.Err()
}

package api

import (
	"fmt"
	"net/http"

	"github.com/sluicehq/sluice"
)

// getUsage sums the request log per client key (and model or version with
// ?by=) over ?since= to ?until=, filtered by ?model=, ?version=, and ?key=
// or ?no_key=true.
// A viewer may read it, as it may read the request log it sums.
func (s *Server) getUsage(w http.ResponseWriter, r *http.Request) error {
	now := s.now()
	rq, err := s.requestFilter(r)
	if err != nil {
		return err
	}
	by := r.URL.Query().Get("by")
	switch by {
	case "":
		by = UsageByKey
	case UsageByKey, UsageByModel, UsageByVersion:
	default:
		return invalid("by", fmt.Sprintf("by %q is not a grouping: use key, model or version", by))
	}
	rows, err := s.store.RequestUsage(r.Context(), rq)
	if err != nil {
		return fmt.Errorf("sum the request log: %w", err)
	}
	if len(rows) == 0 {
		if err := s.unknownKey(rq.ClientKey); err != nil {
			return err
		}
		if err := s.unknownCategory(r.Context(), rq); err != nil {
			return err
		}
	}
	out := UsageReport{By: by, Until: rq.Until, Rows: groupUsage(rows, by), Replica: rq.Replica, NoReplica: rq.NoReplica}
	if out.Until.IsZero() {
		out.Until = now.UTC()
	}
	if !rq.Since.IsZero() {
		out.Since = &rq.Since
	}
	for _, u := range out.Rows {
		out.Total.Add(u)
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// groupUsage sums rows, ordered by key, model and version as the store
// returns them, into one row per key (by key) or per key and model (by
// model); by version keeps them as they are. The order stays.
func groupUsage(rows []sluice.UsageRow, by string) []sluice.UsageRow {
	out := []sluice.UsageRow{}
	for _, u := range rows {
		switch by {
		case UsageByKey:
			u.Model, u.Version = "", ""
		case UsageByModel:
			u.Version = ""
		}
		if n := len(out); n > 0 && out[n-1].ClientKey == u.ClientKey && out[n-1].Model == u.Model && out[n-1].Version == u.Version {
			out[n-1].Add(u)
			continue
		}
		out = append(out, u)
	}
	return out
}

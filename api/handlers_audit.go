package api

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/sluicehq/sluice"
)

// AuditAtWindow is how far around the asked time /audit/at counts
// requests (up to now: RoutingAt.WindowEndsNow).
const AuditAtWindow = 5 * time.Minute

const window = AuditAtWindow

// AuditAtClockSkew is how far past the server's clock /audit/at still
// takes a time as now, for a client whose clock runs ahead of the
// server's: NTP keeps hosts within milliseconds of each other, a laptop or
// VM without it drifts by seconds, and a client that reads its own clock
// for "now" adds its round trip. A minute covers those and leaves four
// of the window's five minutes before the asked time in the past; a time
// further ahead is refused: nothing has been served then yet.
const AuditAtClockSkew = time.Minute

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	aq := sluice.AuditQuery{Model: q.Get("model"), Action: q.Get("action"), Text: q.Get("q")}
	if aq.Model != "" {
		if err := sluice.CheckName("model name", aq.Model); err != nil {
			return invalid("model", sluice.ErrorMessage(err))
		}
	}
	switch q.Get("order") {
	case "", "desc":
	case "asc":
		aq.Ascending = true
	default:
		return invalid("order", fmt.Sprintf("order %q is not known: use asc (oldest first) or desc (newest first, the default)", q.Get("order")))
	}
	var err error
	now := s.now()
	if aq.Since, err = queryTime(r, "since", now); err != nil {
		return err
	}
	if aq.Until, err = queryTime(r, "until", now); err != nil {
		return err
	}
	if err := checkRange(aq.Since, aq.Until); err != nil {
		return err
	}
	if aq.Limit, err = queryLimit(r); err != nil {
		return err
	}
	limit := aq.Limit
	aq.Limit = moreThan(limit)
	for _, x := range q["exclude_action"] {
		if x == "" {
			return invalid("exclude_action", "exclude_action is empty, which would leave out every entry: give the start of the actions to leave out, e.g. exclude_action=rollout.analysis")
		}
		aq.ExcludeActions = append(aq.ExcludeActions, x)
	}
	entries, err := s.store.Audit(r.Context(), aq)
	if err != nil {
		return fmt.Errorf("read the audit log: %w", err)
	}
	if entries == nil {
		entries = []sluice.AuditEntry{}
	}
	list := AuditList{}
	list.Entries, list.Truncated = cut(entries, limit)
	if len(aq.ExcludeActions) > 0 {
		if list.Excluded, err = s.excluded(r.Context(), aq); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, list)
	return nil
}

// excluded counts the entries matching q's other filters that its
// ExcludeActions left out.
func (s *Server) excluded(ctx context.Context, q sluice.AuditQuery) (int, error) {
	kept, err := s.store.CountAudit(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("count the audit log: %w", err)
	}
	q.ExcludeActions = nil
	all, err := s.store.CountAudit(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("count the audit log: %w", err)
	}
	// Two reads: entries committed between them are counted in the second
	// alone.
	return max(all-kept, 0), nil
}

// checkRange refuses an until before since, which can match nothing.
func checkRange(since, until time.Time) error {
	if !since.IsZero() && !until.IsZero() && until.Before(since) {
		return invalid("until", fmt.Sprintf("until (%s) is before since (%s): swap them", until.Format(time.RFC3339), since.Format(time.RFC3339)))
	}
	return nil
}

func (s *Server) auditAt(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	model := q.Get("model")
	if model == "" {
		return invalid("model", "the model is missing: add ?model=NAME&at=2026-11-22T14:00")
	}
	if err := sluice.CheckName("model name", model); err != nil {
		return invalid("model", sluice.ErrorMessage(err))
	}
	if q.Get("at") == "" {
		return invalid("at", "the time is missing: add &at=2026-11-22T14:00 (UTC unless a zone is given)")
	}
	now := s.now()
	at, err := queryTime(r, "at", now)
	if err != nil {
		return err
	}
	if at.After(now.Add(AuditAtClockSkew)) {
		return invalid("at", fmt.Sprintf("at %s is in the future (the server's clock reads %s, and takes up to a minute ahead of it as now, for clocks that differ): no request has been served then yet, and the routing may still change; give a time up to now, or see the routing in force now with sluice get routes %s (GET /admin/v1/routes/%s)",
			at.Format(time.RFC3339Nano), now.UTC().Format(time.RFC3339), model, model))
	}
	out, err := s.routingAt(r.Context(), model, at)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// routingAt reconstructs model's routing at time at from the audit log: the
// last model.* entry at or before at holds the policy, labels and rules;
// replaying the version.register and version.stage entries up to at gives
// each version's stage, and so the newest production version.
func (s *Server) routingAt(ctx context.Context, model string, at time.Time) (RoutingAt, error) {
	end := at.Add(time.Nanosecond) // Until is exclusive; "at or before"
	last, setBy, err := s.routingRun(ctx, model, end)
	if err != nil {
		return RoutingAt{}, err
	}
	if last == nil {
		return RoutingAt{}, s.noRoutingAt(ctx, model, at)
	}
	routing, _, err := routingOf(last)
	if err != nil {
		return RoutingAt{}, err
	}

	versions, err := s.auditAll(ctx, sluice.AuditQuery{Model: model, Action: "version.", Until: end})
	if err != nil {
		return RoutingAt{}, err
	}
	reg := sluice.NewRegistry()
	reg.Models[model] = &sluice.Model{Name: model, Policy: routing.Policy, Labels: routing.Labels, Rules: routing.Rules}
	for _, e := range versions {
		if err := replayVersion(reg, e); err != nil {
			return RoutingAt{}, err
		}
	}

	out := RoutingAt{
		Model:       model,
		At:          at,
		Policy:      routing.Policy,
		Labels:      routing.Labels,
		Rules:       routing.Rules,
		PolicyText:  routing.Policy.String(),
		Serving:     reg.ServingVersions(model),
		Stages:      map[string]sluice.Stage{},
		Since:       setBy.At,
		Entry:       *setBy,
		WindowStart: at.Add(-window),
		WindowEnd:   at.Add(window),
	}
	// A window that runs past now ends now: the requests still to come in
	// it are not in the log, and its counts must not read as a whole
	// window's. (At now or later, the window is empty, at now.)
	if now := s.now(); out.WindowEnd.After(now) {
		out.WindowEnd, out.WindowEndsNow = now, true
		if out.WindowStart.After(now) {
			out.WindowStart = now
		}
	}
	if out.Serving == nil {
		out.Serving = []string{}
	}
	if l := reg.Latest(model); l != nil {
		out.Latest = l.Version
	}
	for _, v := range reg.Versions {
		out.Stages[v.Version] = v.Stage
	}
	counts, err := s.store.CountRequests(ctx, sluice.RequestQuery{Model: model, Since: out.WindowStart, Until: out.WindowEnd.Add(time.Nanosecond)})
	if err != nil {
		return RoutingAt{}, fmt.Errorf("count the request log: %w", err)
	}
	if counts == nil {
		counts = []sluice.VersionCount{}
	}
	out.Requests = counts
	return out, nil
}

// routingRun returns model's last model.* entry with routing before end
// (the routing in force), and the oldest entry of the run of entries that
// repeat that routing up to it (the change that set it: a later entry that
// changed something else, a description, did not). nil when there is none.
// The newest entries come first in one query; the run may be as long as
// history, so the query is asked again with a larger limit until the run
// ends or the answer is not full.
func (s *Server) routingRun(ctx context.Context, model string, end time.Time) (last, setBy *sluice.AuditEntry, err error) {
	for limit := 64; ; limit *= 4 {
		recent, err := s.store.Audit(ctx, sluice.AuditQuery{Model: model, Action: "model.", Until: end, Limit: limit})
		if err != nil {
			return nil, nil, fmt.Errorf("read the audit log: %w", err)
		}
		var withRouting []*sluice.AuditEntry
		for i := range recent {
			if len(recent[i].After) > 0 {
				withRouting = append(withRouting, &recent[i])
			}
		}
		slices.SortFunc(withRouting, func(a, b *sluice.AuditEntry) int {
			if laterEntry(a, b) {
				return -1
			}
			return 1
		})
		if len(withRouting) > 0 {
			last, setBy = withRouting[0], withRouting[0]
			_, key, err := routingOf(last)
			if err != nil {
				return nil, nil, err
			}
			for _, e := range withRouting[1:] {
				if _, k, err := routingOf(e); err != nil || k != key {
					return last, setBy, nil
				}
				setBy = e
			}
		}
		if len(recent) < limit {
			return last, setBy, nil
		}
	}
}

// laterEntry orders audit entries by id, which is commit order.
func laterEntry(a, b *sluice.AuditEntry) bool {
	// Commit order, not the clock: replicas' clocks may disagree, and the
	// routing in force is the one committed last.
	return a.ID > b.ID
}

// noRoutingAt explains why model had no routing at time at.
func (s *Server) noRoutingAt(ctx context.Context, model string, at time.Time) error {
	first, err := s.store.Audit(ctx, sluice.AuditQuery{Model: model, Action: "model.", Ascending: true, Limit: 1})
	if err != nil {
		return fmt.Errorf("read the audit log: %w", err)
	}
	if len(first) == 0 {
		return &sluice.Error{Code: sluice.CodeNotFound, Fields: []string{"model"}, Message: fmt.Sprintf("model %q has no routing history in the audit log: check the name with sluice get models", model)}
	}
	return &sluice.Error{Code: sluice.CodeNotFound, Fields: []string{"at"}, Message: fmt.Sprintf("model %s did not exist yet at %s: it was created at %s; ask about a later time", model, at.Format(time.RFC3339), first[0].At.UTC().Format(time.RFC3339))}
}

// replayVersion applies one version.* audit entry to reg.
func replayVersion(reg *sluice.Registry, e sluice.AuditEntry) error {
	switch e.Action {
	case "version.register":
		var v sluice.Version
		if err := json.Unmarshal(e.After, &v); err != nil {
			return fmt.Errorf("audit entry %d (version.register %s) is unreadable: %w", e.ID, e.Subject, err)
		}
		if v.Stage == "" {
			v.Stage = sluice.StageDevelopment
		}
		reg.Versions[v.ID()] = &v
	case "version.stage":
		v := reg.Versions[e.Subject]
		if v == nil {
			return nil // registered before the audit log began
		}
		var st struct {
			Stage sluice.Stage `json:"stage"`
		}
		if err := json.Unmarshal(e.After, &st); err != nil {
			return fmt.Errorf("audit entry %d (version.stage %s) is unreadable: %w", e.ID, e.Subject, err)
		}
		v.Stage = st.Stage
	}
	return nil
}

// auditAll returns every entry matching q, oldest first. The store caps
// one answer and orders by commit, not by time, so rather than paging on a
// time cursor (which could skip entries stamped out of commit order) it asks
// again with a larger limit until the answer is not full.
func (s *Server) auditAll(ctx context.Context, q sluice.AuditQuery) ([]sluice.AuditEntry, error) {
	q.Ascending = true
	for q.Limit = 1000; ; q.Limit *= 4 {
		out, err := s.store.Audit(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("read the audit log: %w", err)
		}
		if len(out) < q.Limit {
			slices.SortStableFunc(out, func(a, b sluice.AuditEntry) int {
				if c := a.At.Compare(b.At); c != 0 {
					return c
				}
				return cmp.Compare(a.ID, b.ID)
			})
			return out, nil
		}
	}
}

// routingOf reads the routing (policy, labels, rules) a model.* audit entry
// left, and a canonical form of it to compare entries by.
func routingOf(e *sluice.AuditEntry) (routing struct {
	Policy sluice.Policy     `json:"policy"`
	Labels map[string]string `json:"labels"`
	Rules  []sluice.Rule     `json:"rules"`
}, key string, err error) {
	if err := json.Unmarshal(e.After, &routing); err != nil {
		return routing, "", fmt.Errorf("audit entry %d (%s) has unreadable routing: %w", e.ID, e.Action, err)
	}
	if routing.Policy.Kind == "" {
		routing.Policy.Kind = sluice.PolicyLatest
	}
	b, _ := json.Marshal(routing) // map keys sorted: equal routings, equal keys
	return routing, string(b), nil
}

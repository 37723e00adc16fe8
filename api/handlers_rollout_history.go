package api

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/sluicehq/sluice"
)

// DefaultHistoryLimit is how many rollouts GET
// /admin/v1/rollouts?model=M&history=true returns at most without a limit.
const DefaultHistoryLimit = 20

// rolloutHistory answers GET /admin/v1/rollouts?model=M&history=true: a
// page of model's rollouts from the store, newest first, ended ones
// included, or without a model every model's, newest started first;
// before (a rollout id, the last one of the page before) asks for the
// next page.
func (s *Server) rolloutHistory(w http.ResponseWriter, r *http.Request) error {
	qv := r.URL.Query()
	model := qv.Get("model")
	if model != "" && s.ctl.Registry().Models[model] == nil {
		return errNoModel(model)
	}
	limit, err := queryLimit(r)
	if err != nil {
		return err
	}
	if limit == 0 {
		limit = DefaultHistoryLimit
	}
	q := sluice.RolloutQuery{Model: model, Before: qv.Get("before"), Limit: limit + 1}
	list, err := s.store.RolloutHistory(r.Context(), q)
	if err != nil {
		return err
	}
	out := RolloutList{Rollouts: []sluice.Rollout{}}
	out.Rollouts = append(out.Rollouts, list...)
	if len(out.Rollouts) > limit {
		out.Rollouts, out.Truncated = out.Rollouts[:limit], true
		out.NextBefore = out.Rollouts[limit-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// historyAsked reports whether a GET /admin/v1/rollouts asks for a model's
// history (history=true), and refuses the paging parameters without it:
// the list of each model's latest rollout has no pages, so they would be
// ignored without a word.
func historyAsked(r *http.Request) (bool, error) {
	qv := r.URL.Query()
	asked := false
	if v := qv.Get("history"); v != "" {
		var err error
		if asked, err = strconv.ParseBool(v); err != nil {
			return false, badRequest("history", fmt.Sprintf("history %q is not true or false: history=true lists past rollouts, a model's with model=", v))
		}
	}
	if !asked {
		for _, p := range []string{"limit", "before"} {
			if qv.Has(p) {
				return false, badRequest(p, fmt.Sprintf("%s pages the rollout history: add history=true (?history=true&%s=…, with model=chat for one model's); without it the answer is each model's latest rollout, which has no pages", p, p))
			}
		}
	}
	return asked, nil
}

// storedRollout returns model's rollout id from the store, whether it is the
// latest or an ended one before it.
func (s *Server) storedRollout(r *http.Request, model, id string) (sluice.Rollout, error) {
	list, err := s.store.RolloutHistory(r.Context(), sluice.RolloutQuery{Model: model, ID: id, Limit: 1})
	if err != nil {
		return sluice.Rollout{}, err
	}
	if len(list) == 0 {
		return sluice.Rollout{}, &sluice.Error{Code: sluice.CodeNotFound, Fields: []string{"id"}, Message: fmt.Sprintf("model %s has no rollout %s: list its rollouts with sluice rollout history %s", model, id, model)}
	}
	return list[0], nil
}

package api

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/sluicehq/sluice"
)

func (s *Server) whoami(w http.ResponseWriter, r *http.Request) error {
	t, _ := ActorFrom(r.Context())
	writeJSON(w, http.StatusOK, WhoAmI{Name: t.Name, Role: t.Role, ExpiresAt: t.ExpiresAt})
	return nil
}

// modelView renders model name of reg.
func modelView(reg *sluice.Registry, name string) ModelView {
	m := reg.Models[name]
	mv := ModelView{
		Name:        m.Name,
		Description: m.Description,
		Policy:      m.Policy,
		PolicyText:  m.Policy.String(),
		Labels:      m.Labels,
		Rules:       m.Rules,
		Serving:     reg.ServingVersions(name),
		UpdatedAt:   m.UpdatedAt,
		Versions:    []VersionView{},
	}
	if mv.Serving == nil {
		mv.Serving = []string{}
	}
	if ro := reg.Rollouts[name]; ro != nil {
		mv.Rollout = ro.ID
	}
	for _, v := range reg.VersionsOf(name) {
		mv.Versions = append(mv.Versions, versionView(v))
	}
	return mv
}

func versionView(v *sluice.Version) VersionView {
	return VersionView{ID: v.ID(), Version: v.Clone()}
}

func errNoModel(name string) error {
	return &sluice.Error{Code: sluice.CodeNotFound, Fields: []string{"model"}, Message: fmt.Sprintf("model %q is not registered: list models with sluice get models, or register it with sluice apply -f", name)}
}

func (s *Server) listModels(w http.ResponseWriter, r *http.Request) error {
	reg := s.ctl.Registry()
	out := ModelList{Revision: reg.Revision, Models: []ModelView{}}
	for _, name := range reg.ModelNames() {
		out.Models = append(out.Models, modelView(reg, name))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getModel(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r, "model", "model name")
	if err != nil {
		return err
	}
	reg := s.ctl.Registry()
	if reg.Models[name] == nil {
		return errNoModel(name)
	}
	writeJSON(w, http.StatusOK, modelView(reg, name))
	return nil
}

func (s *Server) listVersions(w http.ResponseWriter, r *http.Request) error {
	reg := s.ctl.Registry()
	names := reg.ModelNames()
	if model := r.URL.Query().Get("model"); model != "" {
		if err := sluice.CheckName("model name", model); err != nil {
			return invalid("model", sluice.ErrorMessage(err))
		}
		if reg.Models[model] == nil {
			return errNoModel(model)
		}
		names = []string{model}
	}
	out := VersionList{Revision: reg.Revision, Versions: []VersionView{}}
	for _, name := range names {
		for _, v := range reg.VersionsOf(name) {
			out.Versions = append(out.Versions, versionView(v))
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getVersion(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if err := checkVersionID("id", id); err != nil {
		return err
	}
	v := s.ctl.Registry().Versions[id]
	if v == nil {
		return &sluice.Error{Code: sluice.CodeNotFound, Fields: []string{"id"}, Message: fmt.Sprintf("version %s is not registered: list versions with sluice get versions", id)}
	}
	writeJSON(w, http.StatusOK, versionView(v))
	return nil
}

func (s *Server) getRoutes(w http.ResponseWriter, r *http.Request) error {
	if s.routes == nil {
		return sluice.Errorf(sluice.CodeNotFound, "this server does not expose its routing table: run the full sluice server (sluice serve), not the admin API alone")
	}
	writeJSON(w, http.StatusOK, s.routes())
	return nil
}

// getModelRoutes answers one model's entry of the routing table, so that a
// client asking about one model (sluice get routes MODEL) does not fetch
// the whole table, which grows with every model and version.
func (s *Server) getModelRoutes(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r, "model", "model name")
	if err != nil {
		return err
	}
	if s.routesOf == nil {
		return sluice.Errorf(sluice.CodeNotFound, "this server does not expose its routing table: run the full sluice server (sluice serve), not the admin API alone")
	}
	v, ok := s.routesOf(name)
	if !ok {
		return errNoModel(name)
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) getSummary(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r, "model", "model name")
	if err != nil {
		return err
	}
	if s.ctl.Registry().Models[name] == nil {
		return errNoModel(name)
	}
	if s.summary == nil {
		return sluice.Errorf(sluice.CodeNotFound, "this server keeps no live metrics: ask the sluice server that serves traffic (sluice serve)")
	}
	now := s.now()
	since := now.Add(-time.Hour)
	if r.URL.Query().Get("since") != "" {
		if since, err = queryTime(r, "since", now); err != nil {
			return err
		}
	}
	writeJSON(w, http.StatusOK, s.summary(name, since))
	return nil
}

func (s *Server) listRequests(w http.ResponseWriter, r *http.Request) error {
	rq, err := s.requestFilter(r)
	if err != nil {
		return err
	}
	rq.RequestID = r.URL.Query().Get("request_id")
	if rq.Limit, err = queryLimit(r); err != nil {
		return err
	}
	limit := rq.Limit
	rq.Limit = moreThan(limit)
	rows, err := s.store.Requests(r.Context(), rq)
	if err != nil {
		return fmt.Errorf("read the request log: %w", err)
	}
	if rows == nil {
		rows = []sluice.Observation{}
	}
	if len(rows) == 0 {
		if err := s.unknownKey(rq.ClientKey); err != nil {
			return err
		}
		if err := s.unknownCategory(r.Context(), rq); err != nil {
			return err
		}
	}
	list := RequestList{}
	list.Requests, list.Truncated = cut(rows, limit)
	writeJSON(w, http.StatusOK, list)
	return nil
}

// requestFilter reads the request log's filters a request gives: ?model=,
// ?version= and ?key= (each checked as a name), ?no_key=true (the
// requests sent without a key; not with ?key=), ?replica= (a replica's
// name, or the name it was given: sluice.ReplicaMatches), ?no_replica=true
// (the rows naming none; not with ?replica=), ?failed=true (the failed
// attempts: sluice.Observation.Failed), ?retry_budget_spent=true|false
// (sluice.Observation.RetryBudgetSpent), ?category=, ?route=, ?since= and
// ?until=.
func (s *Server) requestFilter(r *http.Request) (sluice.RequestQuery, error) {
	q := r.URL.Query()
	rq := sluice.RequestQuery{Model: q.Get("model"), Version: q.Get("version"), ClientKey: q.Get("key"), Replica: q.Get("replica"),
		Category: q.Get("category"), Route: q.Get("route")}
	if v := q.Get("failed"); v != "" {
		var err error
		if rq.Failed, err = strconv.ParseBool(v); err != nil {
			return rq, invalid("failed", fmt.Sprintf("failed %q is not true or false: failed=true keeps the failed attempts (an error class other than canceled, drain_cut and bad_request), as the error rate counts them", v))
		}
	}
	if v := q.Get("retry_budget_spent"); v != "" {
		spent, err := strconv.ParseBool(v)
		if err != nil {
			return rq, invalid("retry_budget_spent", fmt.Sprintf("retry_budget_spent %q is not true or false: retry_budget_spent=true keeps the failed attempts the retry budget left unretried, false the others", v))
		}
		rq.RetryBudgetSpent = &spent
	}
	if v := q.Get("no_replica"); v != "" {
		var err error
		if rq.NoReplica, err = strconv.ParseBool(v); err != nil {
			return rq, invalid("no_replica", fmt.Sprintf("no_replica %q is not true or false: no_replica=true keeps the requests that name no replica (a lone gateway's, and those logged before the replica was kept)", v))
		}
		if rq.NoReplica && rq.Replica != "" {
			return rq, invalid("no_replica", "give replica (one replica's requests) or no_replica=true (those that name none), not both")
		}
	}
	if err := checkReplicaName(rq.Replica); err != nil {
		return rq, err
	}
	if v := q.Get("no_key"); v != "" {
		var err error
		if rq.NoClientKey, err = strconv.ParseBool(v); err != nil {
			return rq, invalid("no_key", fmt.Sprintf("no_key %q is not true or false: no_key=true keeps the requests sent without a client key", v))
		}
		if rq.NoClientKey && rq.ClientKey != "" {
			return rq, invalid("no_key", "give key (one client key's requests) or no_key=true (those sent without a key), not both")
		}
	}
	if rq.Route != "" && !slices.Contains(sluice.RequestRoutes, rq.Route) {
		return rq, invalid("route", fmt.Sprintf("route %q is not one the gateway logs: give one of %s (the ROUTE column of sluice requests)", rq.Route, strings.Join(sluice.RequestRoutes, ", ")))
	}
	if rq.Model != "" {
		if err := sluice.CheckName("model name", rq.Model); err != nil {
			return rq, invalid("model", sluice.ErrorMessage(err))
		}
	}
	if rq.Version != "" {
		if err := sluice.CheckName("version", rq.Version); err != nil {
			return rq, invalid("version", sluice.ErrorMessage(err))
		}
	}
	if err := checkKeyName(rq.ClientKey); err != nil {
		return rq, err
	}
	var err error
	now := s.now()
	if rq.Since, err = queryTime(r, "since", now); err != nil {
		return rq, err
	}
	if rq.Until, err = queryTime(r, "until", now); err != nil {
		return rq, err
	}
	return rq, checkRange(rq.Since, rq.Until)
}

// unknownKey is the answer to a ?key= that matched no request, when the
// gateway's config has no client key of that name either: most likely a
// typo or a secret given where its name belongs, so it is not repeated.
// It is nil when the key is configured, or when the server cannot say.
func (s *Server) unknownKey(name string) error {
	if name == "" || s.keys == nil {
		return nil
	}
	known, keyed := s.keys(name)
	switch {
	case known:
		return nil
	case !keyed:
		return &sluice.Error{Code: sluice.CodeNotFound, Fields: []string{"key"}, Message: "this gateway has no client keys (client_keys in its config), and the request log has no requests sent with a key of that name: check the name, and give a key's name, never its secret (the value is not repeated here)"}
	}
	return &sluice.Error{Code: sluice.CodeNotFound, Fields: []string{"key"}, Message: "no client key of that name is in the gateway's config (client_keys), and the request log has no requests sent with one: give the key's name from client_keys, never its secret (the value is not repeated here)"}
}

// categoryCheckTime bounds unknownCategory's read of the whole log: on
// PostgreSQL no index serves it, and a typo costs two reads of the model's
// rows (about a second on 2,000,000 rows). Past it the answer is the empty
// list, as it was before the check, rather than an error after the store's
// call timeout.
var categoryCheckTime = 3 * time.Second

// unknownCategory is the answer to a ?category= that matched no request,
// when no row of the model (of any model, without ?model=) in the whole
// request log has that category: a typo, as a category is the clients'
// free text, said with the categories the log does hold. It is nil when
// some row has it (the other filters left it out).
func (s *Server) unknownCategory(ctx context.Context, rq sluice.RequestQuery) error {
	if rq.Category == "" {
		return nil
	}
	check, cancel := context.WithTimeout(ctx, categoryCheckTime)
	defer cancel()
	found, others, err := s.store.RequestCategory(check, rq.Model, rq.Category)
	if err != nil && ctx.Err() == nil && check.Err() != nil {
		return nil // too large a log to say soon: the empty list
	}
	if err != nil {
		return fmt.Errorf("read the request log's categories: %w", err)
	}
	if found {
		return nil
	}
	if rq.Model != "" && len(others) == 0 && s.ctl.Registry().Models[rq.Model] == nil {
		return errNoModel(rq.Model) // the model is the typo
	}
	of, whose := "no request", "the categories in it are "
	if rq.Model != "" {
		of, whose = "no request of model "+rq.Model, "its requests' categories are "
	}
	const shown = sluice.RequestCategoriesListed
	list := whose + strings.Join(others[:min(len(others), shown)], ", ")
	switch {
	case len(others) == 0:
		list = "none of its requests has a category (the category_header a client sends, X-Request-Category by default, or its metadata.category)"
	case len(others) > shown:
		list += " and more" // the store reads no further
	}
	return &sluice.Error{Code: sluice.CodeNotFound, Fields: []string{"category"}, Message: fmt.Sprintf("%s in the request log has category %q: %s; check its spelling (a category matches whole, case and all)", of, rq.Category, list)}
}

// checkKeyName refuses a ?key= that is not a client key's name, such as a
// pasted "Bearer sk-..." secret, without repeating it; "" filters nothing.
func checkKeyName(name string) error {
	if name == "" {
		return nil
	}
	return sluice.CheckKeyName(name)
}

// checkReplicaName refuses a ?replica= that no replica could be named: a
// replica's name is a host's or pod's, a process id and hex digits, joined
// by dashes; "" filters nothing.
func checkReplicaName(name string) error {
	if name == "" {
		return nil
	}
	if len(name) > 253 || strings.HasPrefix(name, "-") || strings.HasSuffix(name, "-") || strings.ContainsFunc(name, func(r rune) bool {
		return r <= ' ' || r == 0x7f || !utf8.ValidRune(r) || r == utf8.RuneError
	}) {
		return invalid("replica", fmt.Sprintf("replica %q is not a replica's name: give one as the REPLICA column of sluice requests (or the audit) shows it, such as sluice-6d4b9c7f8-x2k4p-1-4f2a9c1e, or a part of it up to a dash, such as the pod's name (sluice-6d4b9c7f8-x2k4p), which keeps each of its starts", name))
	}
	return nil
}

package api

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/sluicehq/sluice"
)

// ShadowPairs is where the admin API reads the shadow pairs: on a shared
// store the fleet's, which every replica writes there (fleet.Pairs), else
// those the proxy, which mirrors requests, keeps in this process's memory.
type ShadowPairs interface {
	// FindShadowPairs returns the kept pairs matching q, newest first, and
	// whether more match after the last one; an error when the store
	// holding them cannot be read.
	FindShadowPairs(ctx context.Context, q sluice.ShadowPairQuery) (pairs []sluice.ShadowPair, more bool, err error)
	// Shadow returns the full version id model is mirrored to now and the
	// fraction mirrored, or "" and 0.
	Shadow(model string) (candidateID string, fraction float64)
	// ShadowPairsKept is how many pairs are kept at most, across models.
	ShadowPairsKept() int
	// FleetPairs reports whether the pairs are the whole fleet's, read
	// from the shared store, rather than this process's.
	FleetPairs() bool
}

// DefaultPairLimit is what GET /admin/v1/shadow/{model}/pairs returns at
// most without a limit.
const DefaultPairLimit = 50

// listShadowPairs answers a page of the model's shadow pairs (the fleet's
// on a shared store that keeps them, else this process's), filtered by category, by answers that differ, and by the side
// that refused, failed or called a tool.
//
// Viewers get the pairs without their prompts and answer texts: the request
// log, the other record of single requests a viewer reads, holds no text
// either, so a viewer token (handed out to watch rollouts) never reads what
// users wrote or were told. Operators and admins, who review a shadow run
// to promote or abort it, get the texts.
func (s *Server) listShadowPairs(w http.ResponseWriter, r *http.Request) error {
	name, err := pathName(r, "model", "model name")
	if err != nil {
		return err
	}
	if s.ctl.Registry().Models[name] == nil {
		return errNoModel(name)
	}
	if s.pairs == nil {
		return sluice.Errorf(sluice.CodeNotFound, "this server keeps no shadow pairs: ask a sluice server that serves traffic (sluice serve), whose proxy mirrors the requests")
	}
	qv := r.URL.Query()
	q := sluice.ShadowPairQuery{Model: name, Category: qv.Get("category"), Refusal: qv.Get("refusal"), Error: qv.Get("error"), ToolCall: qv.Get("tool_call")}
	if v := qv.Get("differ"); v != "" {
		if q.Differ, err = strconv.ParseBool(v); err != nil {
			return badRequest("differ", fmt.Sprintf("differ %q is not true or false", v))
		}
	}
	if v := qv.Get("before"); v != "" {
		if q.Before, err = strconv.ParseInt(v, 10, 64); err != nil || q.Before < 1 {
			return badRequest("before", fmt.Sprintf("before %q is not a pair's seq (a whole number from 1): give the next_before of the previous page", v))
		}
	}
	if q.Limit, err = queryLimit(r); err != nil {
		return err
	}
	if q.Limit == 0 {
		q.Limit = DefaultPairLimit
	}
	if err := q.Check(); err != nil {
		return err
	}
	out := ShadowPairList{Model: name, Kept: s.pairs.ShadowPairsKept(), Fleet: s.pairs.FleetPairs()}
	if s.replica != nil && !out.Fleet {
		out.Replica = s.replica()
	}
	if id, f := s.pairs.Shadow(name); id != "" {
		out.Shadowing, out.Fraction = strings.TrimPrefix(id, name+":"), f
	}
	if out.Pairs, out.Truncated, err = s.pairs.FindShadowPairs(r.Context(), q); err != nil {
		return fmt.Errorf("read the shadow pairs of %s: %w", name, err)
	}
	if out.Truncated && len(out.Pairs) > 0 {
		out.NextBefore = out.Pairs[len(out.Pairs)-1].Seq
	}
	if len(out.Pairs) == 0 && out.Shadowing == "" && q.Before == 0 {
		// Filters that match nothing are an empty page; a model this
		// replica never mirrored is a question about the wrong thing.
		all, _, err := s.pairs.FindShadowPairs(r.Context(), sluice.ShadowPairQuery{Model: name, Limit: 1})
		if err != nil {
			return fmt.Errorf("read the shadow pairs of %s: %w", name, err)
		}
		if len(all) == 0 {
			where, kept := "this gateway", fmt.Sprintf("kept in memory while a rollout mirrors traffic (strategy shadow, or a pipeline's shadow phase), the newest %d, until a restart", out.Kept)
			switch {
			case out.Fleet:
				where, kept = "the fleet", fmt.Sprintf("kept in the shared store while a rollout mirrors traffic (strategy shadow, or a pipeline's shadow phase), the newest %d across models", out.Kept)
			case out.Replica != "":
				where = "replica " + out.Replica + " (each replica keeps the pairs of the requests it mirrored: shadow.store_pairs is false)"
			}
			return sluice.Errorf(sluice.CodeNotFound, "no shadow run of %s has left pairs on %s: pairs are %s; start one with sluice rollout start %s --to VERSION --strategy shadow", name, where, kept, name)
		}
	}
	if t, ok := ActorFrom(r.Context()); !ok || !t.Role.Allows(sluice.RoleOperator) {
		out.TextsWithheld = true
		for i := range out.Pairs {
			WithholdTexts(&out.Pairs[i])
		}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// WithholdTexts clears what users wrote and were told from p: its prompt,
// both answers' texts and their tool calls' arguments (the accounts and
// amounts a user asked for). The tools' names stay: they are the
// application's, not the user's. The dashboard and the admin API do this
// for viewers. p's calls are copied before they are cleared: a pair read
// from the proxy's memory shares them with the pair it keeps.
func WithholdTexts(p *sluice.ShadowPair) {
	p.Prompt, p.Primary.Text, p.Shadow.Text = "", "", ""
	for _, side := range []*sluice.ShadowSide{&p.Primary, &p.Shadow} {
		if len(side.ToolCalls) == 0 {
			continue
		}
		calls := make([]sluice.ShadowToolCall, len(side.ToolCalls))
		for i, c := range side.ToolCalls {
			calls[i] = sluice.ShadowToolCall{Name: c.Name}
		}
		side.ToolCalls = calls
	}
}

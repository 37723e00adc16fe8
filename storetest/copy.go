package storetest

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// RunCopy runs the copy suite: a store from src filled with every kind of
// row, exported and imported into an empty one from dst (sluice.Exporter,
// sluice.Importer), must answer every read as the first does; and an
// import into a store that is not empty is refused, writing nothing. src
// and dst may be the same engine or two; each call returns a new, empty
// store, closed with t.Cleanup.
func RunCopy(t *testing.T, src, dst func(t *testing.T) sluice.Store) {
	t.Run("SameReads", func(t *testing.T) { testCopySameReads(t, src(t), dst(t)) })
	t.Run("RequestsSince", func(t *testing.T) { testCopyRequestsSince(t, src(t), dst(t)) })
	t.Run("RefusesNotEmpty", func(t *testing.T) { testCopyRefusesNotEmpty(t, src(t), dst) })
}

// fillForCopy writes into s a registry over several revisions, rollouts
// ended and live (with their events), audit, admin tokens, client keys
// rotated and revoked, and request log rows; it returns the rows.
func fillForCopy(t *testing.T, s sluice.Store) []sluice.Observation {
	t.Helper()
	seed(t, s)
	for i, phase := range []sluice.Phase{sluice.PhasePromoted, sluice.PhaseAborted, sluice.PhaseProgressing} {
		id := fmt.Sprintf("chat-%d", i+1)
		r := fullRollout(id, sluice.PhaseProgressing)
		r.StartedAt = at(time.Duration(i) * time.Hour)
		edit(t, s, "start "+id, at(time.Duration(i)*time.Hour), func(e *sluice.Edit) { putRollout(t, e, r) })
		if i == 0 {
			emb := fullRollout("embed-1", sluice.PhaseShadow)
			emb.Spec.Model, emb.Spec.Candidate, emb.Spec.Baseline = "embed", "2026-11-20", "2026-01-15"
			edit(t, s, "start embed-1", at(time.Minute), func(e *sluice.Edit) { putRollout(t, e, emb) })
		}
		if phase != sluice.PhaseProgressing {
			r.Phase, r.EndedAt, r.Decision = phase, at(time.Duration(i)*time.Hour+time.Minute), "ended "+string(phase)
			edit(t, s, "end "+id, r.EndedAt, func(e *sluice.Edit) { putRollout(t, e, r) })
		}
	}
	edit(t, s, "label", at(3*time.Hour), func(e *sluice.Edit) {
		must(t, "SetLabel", e.SetLabel("chat", "gold", "v1.1.0"))
	})
	ctx := t.Context()
	must(t, "PutToken ops", s.PutToken(ctx, sluice.Token{Name: "ops", Role: sluice.RoleAdmin, Hash: sluice.HashSecret("ops-secret"),
		CreatedAt: at(0), ExpiresAt: at(365 * 24 * time.Hour)}, tokenAudit("token.create", "ops", at(4*time.Hour))))
	must(t, "PutToken ci", s.PutToken(ctx, sluice.Token{Name: "ci", Role: sluice.RoleOperator, Hash: sluice.HashSecret("ci-secret"),
		CreatedAt: at(time.Hour)}, tokenAudit("token.create", "ci", at(4*time.Hour+time.Second))))
	must(t, "TouchToken ci", s.TouchToken(ctx, "ci", at(5*time.Hour)))
	web := sluice.StoredKey{Name: "web", Hash: sluice.HashSecret("web-1"), Models: []string{"chat"}, RateLimit: 3, Burst: 6, TokensPerMinute: 1000,
		TokenBudget: 50_000_000, BudgetPeriod: "month", ForceVersion: true, CreatedAt: at(6 * time.Hour), CreatedBy: "ops", ExpiresAt: at(90 * 24 * time.Hour)}
	must(t, "PutClientKey web", s.PutClientKey(ctx, web, keyAudit("key.create", "web", at(6*time.Hour))))
	must(t, "RotateClientKey web", s.RotateClientKey(ctx, "web", sluice.HashSecret("web-2"), at(8*time.Hour), keyAudit("key.rotate", "web", at(7*time.Hour))))
	must(t, "TouchClientKey web", s.TouchClientKey(ctx, "web", at(6*time.Hour), at(7*time.Hour+time.Minute)))
	batch := sluice.StoredKey{Name: "batch", Hash: sluice.HashSecret("batch-1"), CreatedAt: at(6 * time.Hour), CreatedBy: "ops"}
	must(t, "PutClientKey batch", s.PutClientKey(ctx, batch, keyAudit("key.create", "batch", at(6*time.Hour+time.Second))))
	must(t, "RotateClientKey batch", s.RotateClientKey(ctx, "batch", sluice.HashSecret("batch-2"), at(9*time.Hour), keyAudit("key.rotate", "batch", at(7*time.Hour+time.Second))))
	must(t, "DeleteClientKey batch", s.DeleteClientKey(ctx, "batch", keyAudit("key.revoke", "batch", at(7*time.Hour+2*time.Second))))
	rows := requestRows(1300, 0) // more than a segment and a batch
	mustAppend(t, s, rows[:700])
	mustAppend(t, s, rows[700:])
	// Users' ratings of some of them: an A/B test waiting for late
	// ratings draws its report from these.
	for i, o := range rows[:40] {
		f := sluice.Feedback{RequestID: o.RequestID, Model: o.Model, Version: o.Version, Category: o.Category, Route: o.Route,
			AnsweredAt: o.At, Score: float64(i%5) / 4, At: o.At.Add(time.Duration(i+1) * time.Minute)}
		if ok, err := s.ClaimFeedback(ctx, f); !ok || err != nil {
			t.Fatalf("ClaimFeedback %s: %v, %v", f.RequestID, ok, err)
		}
	}
	// The judge's grades of some: the report reads these too.
	for i, o := range rows[20:50] {
		g := sluice.JudgeGrade{RequestID: o.RequestID, Model: o.Model, Version: o.Version, Category: o.Category, Route: o.Route,
			AnsweredAt: o.At, Score: float64(i%11) / 10, At: o.At.Add(time.Duration(i+1) * time.Second)}
		must(t, "AddJudgeGrade "+g.RequestID, s.AddJudgeGrade(ctx, g))
	}
	return rows
}

// allGrades returns every judge grade s keeps of the models rows
// answered, in a fixed order.
func allGrades(t *testing.T, s sluice.Store, rows []sluice.Observation) []sluice.JudgeGrade {
	t.Helper()
	models := map[string]bool{}
	var out []sluice.JudgeGrade
	for _, o := range rows {
		if models[o.Model] {
			continue
		}
		models[o.Model] = true
		gs, err := s.JudgeGrades(t.Context(), sluice.FeedbackQuery{Model: o.Model})
		must(t, "JudgeGrades "+o.Model, err)
		out = append(out, gs...)
	}
	return out
}

// allFeedback returns every rating s keeps of the models rows answered,
// in a fixed order.
func allFeedback(t *testing.T, s sluice.Store, rows []sluice.Observation) []sluice.Feedback {
	t.Helper()
	models := map[string]bool{}
	var out []sluice.Feedback
	for _, o := range rows {
		if models[o.Model] {
			continue
		}
		models[o.Model] = true
		fs, err := s.Feedback(t.Context(), sluice.FeedbackQuery{Model: o.Model})
		must(t, "Feedback "+o.Model, err)
		out = append(out, fs...)
	}
	return out
}

// copyStore copies from into to as sluice store copy does: the request log
// in batches, then the rest in one transaction.
func copyStore(t *testing.T, from, to sluice.Store, since time.Time) {
	t.Helper()
	ex, ok := from.(sluice.Exporter)
	if !ok {
		t.Fatalf("%T is not a sluice.Exporter", from)
	}
	im, ok := to.(sluice.Importer)
	if !ok {
		t.Fatalf("%T is not a sluice.Importer", to)
	}
	err := ex.ExportRequests(t.Context(), since, 500, func(rows []sluice.Observation) error {
		return to.AppendRequests(t.Context(), rows)
	})
	must(t, "ExportRequests", err)
	d, err := ex.Export(t.Context())
	must(t, "Export", err)
	must(t, "Import", im.Import(t.Context(), d))
}

func testCopySameReads(t *testing.T, src, dst sluice.Store) {
	rows := fillForCopy(t, src)
	copyStore(t, src, dst, time.Time{})

	equalRegistry(t, mustLoad(t, dst), mustLoad(t, src))
	for _, q := range []sluice.RolloutQuery{{}, {Model: "chat"}, {Model: "embed"}, {Model: "chat", Before: "chat-3"}} {
		g, err := dst.RolloutHistory(t.Context(), q)
		must(t, "RolloutHistory of the copy", err)
		w, err := src.RolloutHistory(t.Context(), q)
		must(t, "RolloutHistory", err)
		if len(g) != len(w) {
			t.Fatalf("RolloutHistory(%+v) of the copy: %d rollouts, want %d", q, len(g), len(w))
		}
		for i := range w {
			if gn, wn := normRollout(g[i]), normRollout(w[i]); !reflect.DeepEqual(gn, wn) {
				t.Fatalf("RolloutHistory(%+v)[%d] of the copy:\n%s\nwant\n%s", q, i, gn, wn)
			}
		}
	}

	// The audit, ids and all, and what it says at a moment (sluice audit
	// --at reads the newest entries up to it).
	ga, wa := allAudit(t, dst), allAudit(t, src)
	if len(wa) < 10 {
		t.Fatalf("the source holds %d audit entries: the fill wrote too few", len(wa))
	}
	equalAudit(t, "all", ga, wa)
	for _, until := range []time.Time{at(30 * time.Minute), at(time.Hour + time.Minute + time.Microsecond), at(7*time.Hour + time.Second)} {
		q := sluice.AuditQuery{Until: until, Limit: 3}
		equalAudit(t, fmt.Sprintf("up to %v", until), mustAudit(t, dst, q), mustAudit(t, src, q))
		q = sluice.AuditQuery{Until: until, Model: "chat", Limit: 1}
		equalAudit(t, fmt.Sprintf("chat's up to %v", until), mustAudit(t, dst, q), mustAudit(t, src, q))
	}

	equalTokens(t, mustTokens(t, dst), mustTokens(t, src))
	gk, wk := mustClientKeys(t, dst), mustClientKeys(t, src)
	if len(wk) != 2 || len(wk[0].Retired) == 0 {
		t.Fatalf("the source's client keys are %+v: want web (rotated) and batch (revoked)", wk)
	}
	if !reflect.DeepEqual(gk, wk) {
		t.Fatalf("client keys of the copy = %+v,\nwant %+v", gk, wk)
	}

	// Users' ratings, each with its score, what it counts for and its
	// times: an A/B test's report reads them, and a rated answer takes no
	// second score.
	gf, wf := allFeedback(t, dst, rows), allFeedback(t, src, rows)
	if len(wf) != 40 {
		t.Fatalf("the source holds %d ratings: the fill wrote 40", len(wf))
	}
	if len(gf) != len(wf) {
		t.Fatalf("the copy holds %d ratings, want %d", len(gf), len(wf))
	}
	for i := range wf {
		g, w := gf[i], wf[i]
		if g.RequestID != w.RequestID || g.Model != w.Model || g.Version != w.Version || g.Category != w.Category || g.Route != w.Route ||
			!g.AnsweredAt.Equal(w.AnsweredAt) || g.Score != w.Score || !g.At.Equal(w.At) {
			t.Errorf("rating %d of the copy: %+v, want %+v", i, g, w)
		}
	}
	if ok, err := dst.ClaimFeedback(t.Context(), wf[0]); ok || err != nil {
		t.Errorf("a second rating of %s in the copy: recorded %v (%v), want refused (rated in the source)", wf[0].RequestID, ok, err)
	}

	// The judge's grades, each with what it counts for and its times.
	gg, wg := allGrades(t, dst, rows), allGrades(t, src, rows)
	if len(wg) != 30 {
		t.Fatalf("the source holds %d judge grades: the fill wrote 30", len(wg))
	}
	if !reflect.DeepEqual(gg, wg) {
		t.Errorf("the copy's judge grades = %+v,\nwant %+v", gg, wg)
	}

	all := sluice.RequestQuery{Limit: 1 << 20}
	want := newestFirst(rows, func(*sluice.Observation) bool { return true })
	checkRows(t, "the source's requests", mustRequests(t, src, all), want)
	checkRows(t, "the copy's requests", mustRequests(t, dst, all), want)
	for _, q := range []sluice.RequestQuery{{}, {Model: "chat"}, {ClientKey: "team-a"}, {Replica: "gw-a-101-4f2a"}, {Since: at(1000 * time.Second)}} {
		if g, w := mustCount(t, dst, q), mustCount(t, src, q); !reflect.DeepEqual(g, w) {
			t.Errorf("CountRequests(%+v) of the copy = %v, want %v", q, g, w)
		}
		checkUsage(t, dst, rows, q)
	}
	// Another request log row and audit entry after the copy follow on.
	mustAppend(t, dst, requestRows(1, 2000*time.Second))
	appendAudit(t, dst, sluice.AuditEntry{At: at(10 * time.Hour), Actor: "ops", Action: "note", Reason: "after the copy"})
	if got := allAudit(t, dst); got[len(got)-1].ID != wa[len(wa)-1].ID+1 {
		t.Errorf("the copy's next audit id is %d, want %d (after the copied ones)", got[len(got)-1].ID, wa[len(wa)-1].ID+1)
	}
}

// testCopyRequestsSince copies the request log's rows at or after a time
// (sluice store copy --requests-since) and the rest whole.
func testCopyRequestsSince(t *testing.T, src, dst sluice.Store) {
	rows := fillForCopy(t, src)
	since := at(1000*time.Second + 500*time.Millisecond)
	copyStore(t, src, dst, since)
	want := newestFirst(rows, func(o *sluice.Observation) bool { return !o.At.Before(since) })
	if len(want) == 0 || len(want) == len(rows) {
		t.Fatalf("%d of %d rows are at or after %v: pick a time within them", len(want), len(rows), since)
	}
	checkRows(t, "the copy's requests", mustRequests(t, dst, sluice.RequestQuery{Limit: 1 << 20}), want)
	equalAudit(t, "all", allAudit(t, dst), allAudit(t, src))
}

// equalAudit compares audit entries, ids included, at the suite's time
// precision.
func equalAudit(t *testing.T, what string, got, want []sluice.AuditEntry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("audit %s of the copy: %d entries, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		checkUTC(t, "audit entry At", g.At)
		g.At, w.At = micro(g.At), micro(w.At)
		if !reflect.DeepEqual(g, w) {
			t.Fatalf("audit %s of the copy, entry %d:\n got  %+v\n want %+v", what, i, g, w)
		}
	}
}

func testCopyRefusesNotEmpty(t *testing.T, src sluice.Store, dst func(t *testing.T) sluice.Store) {
	fillForCopy(t, src)
	d, err := src.(sluice.Exporter).Export(t.Context())
	must(t, "Export", err)

	for _, c := range []struct {
		name string
		fill func(s sluice.Store)
		held []string
	}{
		{"an admin token", func(s sluice.Store) {
			must(t, "PutToken", s.PutToken(t.Context(), sluice.Token{Name: "x", Role: sluice.RoleViewer, Hash: sluice.HashSecret("x"), CreatedAt: at(0)}, tokenAudit("token.create", "x", at(0))))
		}, []string{"1 admin tokens", "1 audit entries"}},
		{"a registry change", func(s sluice.Store) {
			edit(t, s, "a model", at(0), func(e *sluice.Edit) { register(t, e, minimalVersion("other", "v1", sluice.StageProduction)) })
		}, []string{"registry revision 1", "1 models", "1 versions"}},
		{"a client key", func(s sluice.Store) {
			must(t, "PutClientKey", s.PutClientKey(t.Context(), sluice.StoredKey{Name: "k", Hash: sluice.HashSecret("k"), CreatedAt: at(0)}, keyAudit("key.create", "k", at(0))))
		}, []string{"1 client keys"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := dst(t)
			c.fill(s)
			before := takeSnapshot(t, s)
			err := s.(sluice.Importer).Import(t.Context(), d)
			wantCode(t, "Import into a store holding "+c.name, err, sluice.CodeConflict)
			for _, h := range c.held {
				if msg := sluice.ErrorMessage(err); !strings.Contains(msg, h) {
					t.Errorf("Import into a store holding %s: %q, want it to say it holds %q", c.name, msg, h)
				}
			}
			checkUnchanged(t, s, before)
		})
	}
	// Request log rows alone (an interrupted copy's) do not make a store
	// refuse: the rest is imported beside them.
	s := dst(t)
	mustAppend(t, s, requestRows(3, 0))
	must(t, "Import beside request rows", s.(sluice.Importer).Import(t.Context(), d))
	equalRegistry(t, mustLoad(t, s), mustLoad(t, src))
}

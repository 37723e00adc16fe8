package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// mustRolloutHistory stores n rollouts of chat, chat-1 to chat-n, each
// started an hour after the one before; all but the last ended (aborted).
func (e *env) mustRolloutHistory(tb testing.TB, n int) {
	tb.Helper()
	for i := 1; i <= n; i++ {
		ro := sluice.Rollout{
			ID: fmt.Sprintf("chat-%d", i), Phase: sluice.PhaseProgressing, Percent: 10,
			Actor: "otto", Reason: fmt.Sprintf("try %d", i),
			StartedAt: t0.Add(time.Duration(i) * time.Hour), StageStartedAt: t0.Add(time.Duration(i) * time.Hour),
			Spec:           sluice.RolloutSpec{Model: "chat", Candidate: "v1.2.0", Baseline: "v1.1.0", Strategy: sluice.StrategyCanary},
			PreviousPolicy: sluice.Policy{Kind: sluice.PolicySpecific, Version: "v1.1.0"},
			Events:         []sluice.RolloutEvent{{At: t0.Add(time.Duration(i) * time.Hour), Kind: "started", Message: "started by otto"}},
		}
		if i < n {
			ro.Phase, ro.Percent, ro.EndedAt, ro.Decision = sluice.PhaseAborted, 0, ro.StartedAt.Add(time.Minute), "aborted by otto: try again"
		}
		if _, err := e.Ctl.Do(context.Background(), "test", "test setup", func(ed *sluice.Edit) error { return ed.PutRollout(ro) }); err != nil {
			tb.Fatalf("seed rollout %s: %v", ro.ID, err)
		}
	}
}

func ids(list []sluice.Rollout) []string {
	out := []string{}
	for _, r := range list {
		out = append(out, r.ID)
	}
	return out
}

// TestRolloutHistory: GET /admin/v1/rollouts listed only each model's
// latest rollout, and an ended one was lost to every reader once the next
// started. With history=true it lists a model's rollouts from the store,
// newest first, a page at a time; the list without it is unchanged.
func TestRolloutHistory(t *testing.T) {
	ctx := context.Background()
	e := MustEnv(t)
	e.MustSeed(t)

	t.Run("Empty", func(t *testing.T) {
		list, err := e.Viewer.RolloutHistory(ctx, "chat", "", 0)
		if err != nil || len(list.Rollouts) != 0 || list.Truncated {
			t.Fatalf("history before any rollout = %v truncated %v, err %v; want none", ids(list.Rollouts), list.Truncated, err)
		}
	})
	e.mustRolloutHistory(t, 3)

	t.Run("OK", func(t *testing.T) {
		list, err := e.Viewer.RolloutHistory(ctx, "chat", "", 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(list.Rollouts); !slices.Equal(got, []string{"chat-3", "chat-2", "chat-1"}) || list.Truncated || list.NextBefore != "" {
			t.Fatalf("history = %v truncated %v next %q; want chat-3, chat-2, chat-1 whole", got, list.Truncated, list.NextBefore)
		}
		if r := list.Rollouts[1]; r.Phase != sluice.PhaseAborted || r.Reason != "try 2" || len(r.Events) != 1 || r.EndedAt.IsZero() {
			t.Errorf("chat-2 = %+v, want it whole as it ended", r)
		}
		// The list of each model's latest is as it was.
		latest, err := e.Viewer.Rollouts(ctx, "")
		if err != nil || !slices.Equal(ids(latest), []string{"chat-3"}) {
			t.Errorf("latest rollouts = %v, err %v; want chat-3 alone", ids(latest), err)
		}
	})

	t.Run("Pages", func(t *testing.T) {
		page, err := e.Viewer.RolloutHistory(ctx, "chat", "", 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page.Rollouts); !slices.Equal(got, []string{"chat-3", "chat-2"}) || !page.Truncated || page.NextBefore != "chat-2" {
			t.Fatalf("first page = %v truncated %v next %q; want chat-3, chat-2, more before chat-2", got, page.Truncated, page.NextBefore)
		}
		page, err = e.Viewer.RolloutHistory(ctx, "chat", page.NextBefore, 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page.Rollouts); !slices.Equal(got, []string{"chat-1"}) || page.Truncated || page.NextBefore != "" {
			t.Fatalf("second page = %v truncated %v next %q; want chat-1, the last", got, page.Truncated, page.NextBefore)
		}
	})

	// With no model, every model's rollouts, newest started first, paged
	// alike (sluice rollout history with no MODEL).
	t.Run("AllModels", func(t *testing.T) {
		page, err := e.Viewer.RolloutHistory(ctx, "", "", 2)
		if err != nil {
			t.Fatal(err)
		}
		if got := ids(page.Rollouts); !slices.Equal(got, []string{"chat-3", "chat-2"}) || !page.Truncated || page.NextBefore != "chat-2" {
			t.Fatalf("every model's first page = %v truncated %v next %q; want chat-3, chat-2, more before chat-2", got, page.Truncated, page.NextBefore)
		}
		page, err = e.Viewer.RolloutHistory(ctx, "", page.NextBefore, 0)
		if err != nil || !slices.Equal(ids(page.Rollouts), []string{"chat-1"}) || page.Truncated {
			t.Fatalf("every model's second page = %v truncated %v, err %v; want chat-1, the last", ids(page.Rollouts), page.Truncated, err)
		}
		_, err = e.Viewer.RolloutHistory(ctx, "", "chat-9", 0)
		wantErr(t, err, sluice.CodeNotFound, nil, "there is no rollout chat-9 to page from")
	})

	t.Run("ByID", func(t *testing.T) {
		st, err := e.Viewer.RolloutByID(ctx, "chat", "chat-1")
		if err != nil {
			t.Fatal(err)
		}
		if st.Rollout.ID != "chat-1" || st.Rollout.Phase != sluice.PhaseAborted || st.Rollout.Reason != "try 1" {
			t.Fatalf("chat-1 by id = %+v", st.Rollout)
		}
		// The latest by its id is what status without one shows.
		st, err = e.Viewer.RolloutByID(ctx, "chat", "chat-3")
		if err != nil || st.Rollout.ID != "chat-3" || st.Rollout.Phase != sluice.PhaseProgressing {
			t.Fatalf("chat-3 by id = %+v, err %v", st.Rollout, err)
		}
	})

	t.Run("ErrUnknownModel", func(t *testing.T) {
		_, err := e.Viewer.RolloutHistory(ctx, "nope", "", 0)
		wantErr(t, err, sluice.CodeNotFound, []string{"model"}, `model "nope" is not registered`)
		_, err = e.Viewer.RolloutByID(ctx, "nope", "chat-1")
		wantErr(t, err, sluice.CodeNotFound, []string{"model"}, `model "nope" is not registered`)
	})

	t.Run("ErrUnknownID", func(t *testing.T) {
		_, err := e.Viewer.RolloutByID(ctx, "chat", "chat-9")
		wantErr(t, err, sluice.CodeNotFound, []string{"id"}, "model chat has no rollout chat-9", "sluice rollout history chat")
		_, err = e.Viewer.RolloutHistory(ctx, "chat", "chat-9", 0)
		wantErr(t, err, sluice.CodeNotFound, nil, "model chat has no rollout chat-9 to page from")
	})

	t.Run("ErrBadQuery", func(t *testing.T) {
		for path, want := range map[string]string{
			"/admin/v1/rollouts?model=chat&history=maybe":        `history "maybe" is not true or false`,
			"/admin/v1/rollouts?model=chat&limit=2":              "limit pages the rollout history: add history=true",
			"/admin/v1/rollouts?model=chat&before=chat-2":        "before pages the rollout history: add history=true",
			"/admin/v1/rollouts?model=chat&history=true&limit=0": "limit 0 is out of range",
		} {
			r := e.do(t, "GET", path, viewerSecret, nil)
			if r.Status != http.StatusBadRequest && r.Status != http.StatusUnprocessableEntity {
				t.Errorf("GET %s = %d %s, want a refusal", path, r.Status, r.Body)
				continue
			}
			r.want(t, r.Status, want)
		}
	})
}

// TestRolloutHistory_DefaultLimit: without a limit a page holds
// DefaultHistoryLimit rollouts and says there are more.
func TestRolloutHistory_DefaultLimit(t *testing.T) {
	e := MustEnv(t)
	e.MustSeed(t)
	e.mustRolloutHistory(t, api.DefaultHistoryLimit+1)
	list, err := e.Viewer.RolloutHistory(context.Background(), "chat", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("chat-%d", api.DefaultHistoryLimit+1)
	if len(list.Rollouts) != api.DefaultHistoryLimit || list.Rollouts[0].ID != want || !list.Truncated || list.NextBefore != "chat-2" {
		t.Fatalf("history = %d rollouts from %s, truncated %v, next %q; want %d from %s, more before chat-2",
			len(list.Rollouts), list.Rollouts[0].ID, list.Truncated, list.NextBefore, api.DefaultHistoryLimit, want)
	}
}

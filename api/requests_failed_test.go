package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
)

// The dashboard's Requests view asks the request log for a canary's failed
// attempts, one category's or one route's: /admin/v1/requests (and the Go
// client) filter by ?failed=true, ?category= and ?route=, a viewer's token
// enough, and a failed= that is no boolean says what it takes.
func TestRequests_FailedCategoryRoute(t *testing.T) {
	e := MustEnv(t)
	at := t0.Add(-time.Minute)
	rows := []sluice.Observation{
		{RequestID: "ok", At: at, Model: "chat", Version: "v2", Route: "split", Category: "code", Status: 200},
		{RequestID: "bad", At: at.Add(time.Second), Model: "chat", Version: "v2", Route: "split", Category: "code", Status: 502, ErrorClass: "upstream_5xx", Retried: true},
		{RequestID: "bad", At: at.Add(2 * time.Second), Model: "chat", Version: "v1", Route: "retry", Category: "code", Status: 200},
		{RequestID: "left", At: at.Add(3 * time.Second), Model: "chat", Version: "v2", Route: "split", Category: "<b>x</b>", Status: 499, ErrorClass: "canceled"},
		{RequestID: "slow", At: at.Add(4 * time.Second), Model: "chat", Version: "v2", Route: "pin", Category: "<b>x</b>", Status: 504, ErrorClass: "timeout"},
	}
	if err := e.Store.AppendRequests(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	ids := func(q sluice.RequestQuery) []string {
		t.Helper()
		list, err := e.Viewer.ListRequests(t.Context(), q)
		if err != nil {
			t.Fatalf("ListRequests(%+v): %v", q, err)
		}
		var out []string
		for _, o := range list.Requests {
			out = append(out, o.RequestID+"@"+o.Version)
		}
		return out
	}
	for _, c := range []struct {
		q    sluice.RequestQuery
		want string
	}{
		{sluice.RequestQuery{Model: "chat", Failed: true}, "[slow@v2 bad@v2]"},
		{sluice.RequestQuery{Model: "chat", Version: "v2", Failed: true, Route: "split"}, "[bad@v2]"},
		{sluice.RequestQuery{Model: "chat", Category: "<b>x</b>"}, "[slow@v2 left@v2]"},
		{sluice.RequestQuery{Model: "chat", Route: "retry"}, "[bad@v1]"},
		{sluice.RequestQuery{Model: "chat", Category: "code", Failed: true, Since: at.Add(2 * time.Second)}, "[]"},
	} {
		if got := ids(c.q); fmt.Sprint(got) != c.want {
			t.Errorf("ListRequests(%+v) = %v, want %s", c.q, got, c.want)
		}
	}
	r := e.do(t, "GET", "/admin/v1/requests?failed=yes", viewerSecret, nil)
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "failed=true keeps the failed attempts") {
		t.Errorf("failed=yes: status %d (%s), want 422 saying what failed takes", r.Status, r.Body)
	}
}

// An SRE sizing the retry budget lists the failed attempts it left
// unretried: /admin/v1/requests (and the Go client) filter by
// ?retry_budget_spent=true, or false for the others, and a value that is
// no boolean says what it takes; /admin/v1/usage takes it too.
func TestRequests_RetryBudgetSpent(t *testing.T) {
	e := MustEnv(t)
	at := t0.Add(-time.Minute)
	rows := []sluice.Observation{
		{RequestID: "ok", At: at, Model: "chat", Version: "v2", Route: "split", Status: 200},
		{RequestID: "bad", At: at.Add(time.Second), Model: "chat", Version: "v2", Route: "split", Status: 502, ErrorClass: "upstream_5xx", Retried: true},
		{RequestID: "bad", At: at.Add(2 * time.Second), Model: "chat", Version: "v1", Route: "retry", Status: 200},
		{RequestID: "spent", At: at.Add(3 * time.Second), Model: "chat", Version: "v2", Route: "split", Status: 502, ErrorClass: "upstream_5xx", RetryBudgetSpent: true},
		{RequestID: "old", At: at.Add(4 * time.Second), Model: "chat", Version: "v2", Route: "split", Status: 503, ErrorClass: "upstream_5xx", FinishReason: sluice.FinishRetryBudgetLegacy},
	}
	if err := e.Store.AppendRequests(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	yes, no := true, false
	for _, c := range []struct {
		q    sluice.RequestQuery
		want string
	}{
		{sluice.RequestQuery{Model: "chat", RetryBudgetSpent: &yes}, "[old@v2 spent@v2]"},
		{sluice.RequestQuery{Model: "chat", RetryBudgetSpent: &no}, "[bad@v1 bad@v2 ok@v2]"},
		{sluice.RequestQuery{Model: "chat", RetryBudgetSpent: &no, Failed: true}, "[bad@v2]"},
	} {
		list, err := e.Viewer.ListRequests(t.Context(), c.q)
		if err != nil {
			t.Fatalf("ListRequests(%+v): %v", c.q, err)
		}
		var got []string
		for _, o := range list.Requests {
			got = append(got, o.RequestID+"@"+o.Version)
		}
		if fmt.Sprint(got) != c.want {
			t.Errorf("ListRequests(%+v) = %v, want %s", c.q, got, c.want)
		}
	}
	r := e.do(t, "GET", "/admin/v1/requests?retry_budget_spent=maybe", viewerSecret, nil)
	if r.Status != http.StatusUnprocessableEntity || !strings.Contains(string(r.Body), "retry_budget_spent=true keeps the failed attempts the retry budget left unretried") {
		t.Errorf("retry_budget_spent=maybe: status %d (%s), want 422 saying what it takes", r.Status, r.Body)
	}
	r = e.do(t, "GET", "/admin/v1/usage?model=chat&retry_budget_spent=true", viewerSecret, nil)
	var usage struct{ Total sluice.UsageRow }
	if err := json.Unmarshal(r.Body, &usage); r.Status != http.StatusOK || err != nil || usage.Total.Requests != 2 || usage.Total.Errors != 2 {
		t.Errorf("usage with retry_budget_spent=true: status %d (%s), want the two spent requests", r.Status, r.Body)
	}
}

// A mistyped filter says so instead of an empty list: a route the gateway
// never logs is a 422 naming those it does, on the request log and usage
// alike; a category no request of the model has in the whole log is a 404
// listing the categories its requests have, while one that the other
// filters left out is an empty list.
func TestRequests_MistypedRouteCategory(t *testing.T) {
	e := MustEnv(t)
	at := t0.Add(-time.Hour)
	rows := []sluice.Observation{
		{RequestID: "a", At: at, Model: "chat", Version: "v2", Route: "split", Category: "code", Status: 200},
		{RequestID: "b", At: at, Model: "chat", Version: "v2", Route: "pin", Category: "payments", Status: 200},
		{RequestID: "c", At: at, Model: "chat", Version: "v2", Route: "split", Status: 200},
	}
	if err := e.Store.AppendRequests(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path   string
		status int
		says   string
		field  string
	}{
		{"/admin/v1/requests?model=chat&route=splitt", 422, `route \"splitt\" is not one the gateway logs: give one of split, policy, pin, label, force, rule, previous_response, retry`, "route"},
		{"/admin/v1/usage?route=shadow", 422, `route \"shadow\" is not one the gateway logs`, "route"},
		{"/admin/v1/requests?model=chat&category=paymnts", 404, `no request of model chat in the request log has category \"paymnts\": its requests' categories are code, payments;`, "category"},
		{"/admin/v1/usage?category=paymnts", 404, `no request in the request log has category \"paymnts\": the categories in it are code, payments;`, "category"},
		{"/admin/v1/requests?model=chat&category=payments&since=10m", 200, `"requests": []`, ""},
		{"/admin/v1/requests?model=chat&category=payments&route=split", 200, `"requests": []`, ""},
		{"/admin/v1/requests?model=chat&category=payments&route=pin", 200, `"request_id": "b"`, ""},
	} {
		r := e.do(t, "GET", c.path, viewerSecret, nil)
		var answer struct{ Error struct{ Fields []string } }
		_ = json.Unmarshal(r.Body, &answer)
		if r.Status != c.status || !strings.Contains(string(r.Body), c.says) || c.field != "" && fmt.Sprint(answer.Error.Fields) != "["+c.field+"]" {
			t.Errorf("GET %s: status %d (%s); want %d saying %s, naming field %q", c.path, r.Status, r.Body, c.status, c.says, c.field)
		}
	}
}

// slowCategories is a store whose RequestCategory reads a log too large
// to answer soon: it returns when its context ends, or after a minute.
type slowCategories struct{ sluice.Store }

func (slowCategories) RequestCategory(ctx context.Context, _, _ string) (bool, []string, error) {
	select {
	case <-ctx.Done():
		return false, nil, ctx.Err()
	case <-time.After(time.Minute):
		return false, nil, errors.New("read request categories: took a minute")
	}
}

// On a log too large to read its categories soon (tens of millions of
// rows on PostgreSQL, where no index serves them), the category check of
// an empty answer gives up within its time, and the answer is the empty
// list it was before the check: not an error after the store's call
// timeout, nor a client waiting on an error's words.
func TestRequests_CategoryCheckBounded(t *testing.T) {
	defer api.SetCategoryCheckTime(200 * time.Millisecond)()
	e := mustEnvWith(t, func(s sluice.Store) sluice.Store { return slowCategories{s} })
	for _, path := range []string{"/admin/v1/requests?model=chat&category=paymnts", "/admin/v1/usage?category=paymnts"} {
		start := time.Now()
		r := e.do(t, "GET", path, viewerSecret, nil)
		if took := time.Since(start); r.Status != http.StatusOK || took > 10*time.Second {
			t.Errorf("GET %s: status %d (%s) after %v; want the empty answer within the check's time", path, r.Status, r.Body, took)
		}
	}
}

// A model whose clients send a category per user has more categories than
// an error can list: the answer to a typo names the first
// sluice.RequestCategoriesListed in byte order and says there are more.
func TestRequests_MistypedCategoryOfMany(t *testing.T) {
	e := MustEnv(t)
	var rows []sluice.Observation
	for i := range 300 {
		rows = append(rows, sluice.Observation{RequestID: fmt.Sprintf("r%d", i), At: t0.Add(-time.Duration(i) * time.Second), Model: "chat", Version: "v2",
			Route: "split", Category: fmt.Sprintf("user-%03d", i), Status: 200})
	}
	if err := e.Store.AppendRequests(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, "GET", "/admin/v1/requests?model=chat&category=usr-001", viewerSecret, nil)
	if says := `its requests' categories are user-000, user-001,`; r.Status != http.StatusNotFound || !strings.Contains(string(r.Body), says) ||
		!strings.Contains(string(r.Body), "user-019 and more;") || strings.Contains(string(r.Body), "user-020") {
		t.Errorf("category=usr-001: status %d (%s); want 404 listing user-000 to user-019 and more", r.Status, r.Body)
	}
}

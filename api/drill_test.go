package api_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/observe"
	"github.com/sluicehq/sluice/rollout"
)

// drillAdapter runs real fire drills whose synthetic requests are sent by
// send.
type drillAdapter struct {
	*rollout.Controller
	send func(ctx context.Context) (string, error)
}

func (a drillAdapter) Drill(ctx context.Context, actor, reason, model, cand string, p float64) (rollout.DrillReport, error) {
	return a.Controller.Drill(ctx, actor, reason, model, cand, p, func(ctx context.Context, _ string) (string, error) { return a.send(ctx) })
}

// drillEnv is MustEnv with chat seeded, labelled stable=v1.1.0, and a
// second API server on the same control service whose drills send
// synthetic requests through send. It returns the second server's URL.
func drillEnv(t *testing.T, send func(ctx context.Context) (string, error)) (*env, string) {
	t.Helper()
	e := MustEnv(t)
	e.MustSeed(t)
	if _, err := e.Oper.SetLabel(context.Background(), "chat", "stable", "v1.1.0", "setup"); err != nil {
		t.Fatal(err)
	}
	ctrl := rollout.New(rollout.Options{Control: e.Ctl, Windows: observe.New(observe.Options{Now: e.Clock.Now}), Now: e.Clock.Now})
	srv := api.New(api.Options{
		Control: e.Ctl,
		Auth: api.NewAuth(e.Store, []sluice.Token{
			{Name: "otto", Role: sluice.RoleOperator, Hash: sluice.HashSecret(operatorSecret)},
		}),
		Rollouts: drillAdapter{ctrl, send},
	})
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	return e, hs.URL
}

// startDrill posts a drill in the background and returns once it has set
// its canary; the channel closes when the request has ended.
func startDrill(t *testing.T, ctx context.Context, e *env, url, body string) <-chan struct{} {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		resp, err := postDrill(ctx, url, body)
		if err == nil {
			resp.Body.Close()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for e.Ctl.Registry().Models["chat"].Policy.Kind != sluice.PolicySplit {
		if time.Now().After(deadline) {
			t.Fatal("the drill never set its canary")
		}
		time.Sleep(5 * time.Millisecond)
	}
	return done
}

func postDrill(ctx context.Context, url, body string) (*http.Response, error) {
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/admin/v1/drills", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+operatorSecret)
	return http.DefaultClient.Do(req)
}

// TestDrillInterruptedLeavesCanary: a fire drill puts the candidate
// on a small canary and must always put the routing back. When the client
// goes away mid-drill (Ctrl-C on sluice rollout drill, a proxy timeout),
// the drill ran on the request's cancelled context, so its rollback commit
// failed and the canary split stayed live with nobody watching it.
func TestDrillInterruptedLeavesCanary(t *testing.T) {
	e, url := drillEnv(t, func(ctx context.Context) (string, error) {
		<-ctx.Done()
		return "", ctx.Err()
	})
	before := e.Ctl.Registry().Models["chat"].Policy.String()
	ctx, cancel := context.WithCancel(context.Background())
	done := startDrill(t, ctx, e, url, `{"model":"chat","to":"v1.2.0","percent":5,"reason":"quarterly fire drill"}`)
	cancel() // the operator presses Ctrl-C
	<-done
	deadline := time.Now().Add(3 * time.Second)
	for time.Now().Before(deadline) && e.Ctl.Registry().Models["chat"].Policy.String() != before {
		time.Sleep(20 * time.Millisecond)
	}
	if got := e.Ctl.Registry().Models["chat"].Policy.String(); got != before {
		t.Errorf("after the interrupted drill chat is left on %q, want the routing from before the drill, %q", got, before)
	}
}

// TestDrillClobbersConcurrentEdit: the drill's rollback wrote back the
// whole policy and label set it saw before it started, so a label another
// operator set while the drill ran was silently removed. It now puts back
// only the policy, and only while it is still the drill's canary.
func TestDrillClobbersConcurrentEdit(t *testing.T) {
	release := make(chan struct{})
	e, url := drillEnv(t, func(ctx context.Context) (string, error) {
		<-release
		return "", errors.New("no data plane")
	})
	done := startDrill(t, context.Background(), e, url, `{"model":"chat","to":"v1.2.0","reason":"quarterly fire drill"}`)
	if _, err := e.Oper.SetLabel(context.Background(), "chat", "beta", "v1.0.0", "beta testers"); err != nil {
		t.Fatal(err)
	}
	close(release)
	<-done
	if got := e.Ctl.Registry().Models["chat"].Labels["beta"]; got != "v1.0.0" {
		t.Errorf("label beta, set by another operator during the drill, is %q after the drill, want v1.0.0", got)
	}
}

// TestDrillAuditsReason: the drill endpoint required a reason and
// then dropped it: the drill's audit entries carried fixed texts ("fire
// drill: small canary"), never the operator's why.
func TestDrillAuditsReason(t *testing.T) {
	e, url := drillEnv(t, func(ctx context.Context) (string, error) { return "", errors.New("no data plane") })
	resp, err := postDrill(context.Background(), url, `{"model":"chat","to":"v1.2.0","reason":"quarterly fire drill INC-42"}`)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	entries, _ := e.Store.Audit(context.Background(), sluice.AuditQuery{Model: "chat", Limit: 100})
	n := 0
	for _, a := range entries {
		if strings.HasPrefix(a.Reason, "fire drill") || a.Action == "rollout.drill" {
			n++
			if !strings.Contains(a.Reason, "INC-42") {
				t.Errorf("audit %s by %s has reason %q, without the operator's reason", a.Action, a.Actor, a.Reason)
			}
		}
	}
	if n == 0 {
		t.Fatal("the drill wrote no audit entries")
	}
}

// TestDrillPercentOutOfRange: a percent outside (0, 100) was
// silently replaced by 5 and the drill ran with 200; it is a 422 naming
// "percent".
func TestDrillPercentOutOfRange(t *testing.T) {
	_, url := drillEnv(t, func(ctx context.Context) (string, error) { return "", errors.New("no data plane") })
	for _, p := range []string{"500", "-3", "100"} {
		resp, err := postDrill(context.Background(), url, `{"model":"chat","to":"v1.2.0","percent":`+p+`,"reason":"drill"}`)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnprocessableEntity {
			t.Errorf("percent %s: status %d, want 422", p, resp.StatusCode)
		}
	}
}

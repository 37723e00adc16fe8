package server_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openai/openai-go"
	"github.com/openai/openai-go/option"

	"github.com/sluicehq/sluice/api"
	"github.com/sluicehq/sluice/config"
	"github.com/sluicehq/sluice/fakellm"
	"github.com/sluicehq/sluice/server"
)

// limitChat sends one chat request to gw under secret and returns its
// status, its error's message and its x-ratelimit-limit-requests.
func limitChat(t *testing.T, gw *server.Server, secret string) (int, string, string) {
	t.Helper()
	var resp *http.Response
	sdk := openai.NewClient(option.WithBaseURL(gw.URL()+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0), option.WithResponseInto(&resp))
	_, err := sdk.Chat.Completions.New(context.Background(), openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
	limit := ""
	if resp != nil {
		limit = resp.Header.Get("x-ratelimit-limit-requests")
	}
	if err == nil {
		return http.StatusOK, "", limit
	}
	var ae *openai.Error
	if !errors.As(err, &ae) {
		t.Fatalf("chat: %v", err)
	}
	if ae.Response != nil {
		limit = ae.Response.Header.Get("x-ratelimit-limit-requests")
	}
	return ae.StatusCode, ae.Message, limit
}

// driveKey sends the key's chat requests through gws in turn, a few
// milliseconds apart (many times the key's rate, so its buckets stay
// drained), for at least window, and returns how many were admitted and
// the time from before the first to after the last. Any answer other
// than 200 or the rate limit's 429 fails the test.
func driveKey(t *testing.T, gws []*server.Server, secret string, window time.Duration, check func(code int, msg, limit string)) (int, time.Duration) {
	t.Helper()
	admitted := 0
	start := time.Now()
	for i := 0; time.Since(start) < window; i++ {
		code, msg, limit := limitChat(t, gws[i%len(gws)], secret)
		switch code {
		case http.StatusOK:
			admitted++
		case http.StatusTooManyRequests:
		default:
			t.Fatalf("answer %d %q, want 200 or 429", code, msg)
		}
		if check != nil {
			check(code, msg, limit)
		}
		time.Sleep(3 * time.Millisecond)
	}
	return admitted, time.Since(start)
}

// TestReplicas_KeyLimitsShared runs two replicas on one PostgreSQL store
// with a key of rate_limit 10, burst 2, and drives it with the OpenAI SDK
// through both: the fleet admits about the limit, not twice it, each
// replica enforcing half. The 429s and the headers name the limit
// configured, and the key list says two replicas share it. Then one
// replica stops: within a few seconds the survivor enforces the whole
// limit again, and admits about twice what its half allowed.
//
// The bounds come from the bucket's arithmetic, not from timing: a GCRA
// bucket of cost c and tolerance τ admits at most (E+τ)/c + 1 requests in
// any E, whatever the load on the machine. Shared by 2, c = 200 ms and
// τ = 200 ms on each replica, so the fleet admits at most 10·E + 4, where
// per-process limits admitted up to 20·E + 6. Below, a slow machine only
// sends fewer requests: the lower bounds leave a third of the rate for it.
func TestReplicas_KeyLimitsShared(t *testing.T) {
	const secret = "sk-fleet-limit-0123456789abcdef"
	const rate, burst = 10, 2
	f := newKeyFleet(t, func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{{Name: "shared", Secret: secret, RateLimit: rate, Burst: burst}}
	}, server.Options{})
	a, b := f.a, f.b
	ctx := context.Background()
	waitFor(t, "both replicas to count the two", 15*time.Second, func() bool { return a.LimitReplicas() == 2 && b.LimitReplicas() == 2 })

	list, err := api.NewClient(b.AdminURL(), f.token).KeysAll(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if list.LimitReplicas != 2 || len(list.Keys) != 1 || list.Keys[0].RateLimit != rate || list.Keys[0].Burst != burst {
		t.Errorf("key list: limit_replicas %d, keys %+v; want 2 replicas and the key's limits as configured (10/s burst 2)", list.LimitReplicas, list.Keys)
	}

	const window = 4 * time.Second
	saw429 := false
	admitted, elapsed := driveKey(t, []*server.Server{a, b}, secret, window, func(code int, msg, limit string) {
		if limit != "2" {
			t.Fatalf("x-ratelimit-limit-requests %q on a %d, want the burst configured, 2", limit, code)
		}
		if code == http.StatusTooManyRequests && !saw429 {
			saw429 = true
			if want := "rate limit of 10 requests per second (burst 2) shared by 2 replicas"; !strings.Contains(msg, want) {
				t.Errorf("the 429 says %q, want it to hold %q", msg, want)
			}
		}
	})
	most := int(elapsed.Seconds()*rate) + 4
	least := int(window.Seconds() * rate * 2 / 3)
	t.Logf("two replicas: %d admitted in %v (at most %d shared, up to %d per process)", admitted, elapsed.Round(time.Millisecond), most, int(elapsed.Seconds()*2*rate)+6)
	if admitted > most || admitted < least {
		t.Errorf("two replicas admitted %d in %v, want %d to %d: the key's limit across the fleet", admitted, elapsed.Round(time.Millisecond), least, most)
	}
	if !saw429 {
		t.Error("no request was refused: the key was not driven over its limit")
	}

	// b stops: it deletes its beat, and a counts itself alone within a
	// beat interval (a second; a crash would take the beat's expiry, 5 s).
	stopped := time.Now()
	b.Shutdown(ctx)
	waitFor(t, "a to count itself alone", 15*time.Second, func() bool { return a.LimitReplicas() == 1 })
	t.Logf("a counted itself alone %v after b stopped", time.Since(stopped).Round(time.Millisecond))
	admitted, elapsed = driveKey(t, []*server.Server{a}, secret, window, nil)
	// Half the limit would admit at most 5·E + 2 (c = 200 ms, τ = 200 ms);
	// the whole admits 10·E, less the burst the bucket may start without.
	half := int(elapsed.Seconds()*rate/2) + 2
	least = max(int(window.Seconds()*rate*2/3), half+5)
	most = int(elapsed.Seconds()*rate) + burst + 1
	t.Logf("a alone: %d admitted in %v (at most %d on half the limit)", admitted, elapsed.Round(time.Millisecond), half)
	if admitted < least || admitted > most {
		t.Errorf("a alone admitted %d in %v, want %d to %d: the whole limit, more than half's %d", admitted, elapsed.Round(time.Millisecond), least, most, half)
	}
}

// TestReplicas_KeyLimitsDrainingReplica: a replica that stops takes no
// new requests from then on, but keeps its beat while its requests in
// flight drain (up to 30 s of streams, for a rollback's drain to wait
// for them). The survivor must take the whole limit within a beat of the
// stop, not once the drain ends: a rolling update otherwise held every
// key to a smaller share than the replicas still serving for its whole
// length.
func TestReplicas_KeyLimitsDrainingReplica(t *testing.T) {
	const secret = "sk-fleet-drain-0123456789abcdef"
	f := newKeyFleet(t, func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{{Name: "shared", Secret: secret, RateLimit: 10, Burst: 2}}
	}, server.Options{})
	a, b := f.a, f.b
	waitFor(t, "both replicas to count the two", 15*time.Second, func() bool { return a.LimitReplicas() == 2 && b.LimitReplicas() == 2 })

	// A slow request on b, still in flight while b stops: the backend
	// answers it after a minute, and the test cancels it once done.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	slow := make(chan error, 1)
	go func() {
		sdk := openai.NewClient(option.WithBaseURL(b.URL()+"/v1/"), option.WithAPIKey(secret), option.WithMaxRetries(0), option.WithHeader(fakellm.HeaderLatency, "60000"))
		_, err := sdk.Chat.Completions.New(ctx, openai.ChatCompletionNewParams{Model: "chat", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}})
		slow <- err
	}()
	waitFor(t, "the slow request to be in flight on b", 10*time.Second, func() bool { return len(b.Proxy.InFlightVersions()) > 0 })

	stopped := make(chan struct{})
	go func() { defer close(stopped); b.Shutdown(context.Background()) }()
	// b deletes its beat only once the slow request ends; a counts itself
	// alone once b's beat says it drains (within a beat interval, a
	// second; 15 s is for a loaded machine).
	waitFor(t, "a to count itself alone while b drains", 15*time.Second, func() bool { return a.LimitReplicas() == 1 })
	select {
	case <-stopped:
		t.Fatal("b stopped before the slow request ended: the test did not see a draining replica")
	case err := <-slow:
		t.Fatalf("the slow request ended (%v) before a counted itself alone: the test did not see a draining replica", err)
	default:
	}
	cancel()
	<-stopped
}

// TestReplicas_KeyLimitsWeighted runs two replicas on one PostgreSQL
// store with a key of rate_limit 10, burst 2, and drives it with the
// OpenAI SDK through replica a alone, as a client on one kept-alive
// connection behind an L4 balancer reaches one replica: a's share of
// the key rises to 0.95 (0.9 by demand and half the even tenth) and a
// admits about the whole limit, where an even share admitted half; b
// keeps the floor's 0.05. Then through both: the shares come back to
// about half each, and the fleet admits about the limit, not more.
//
// The bounds come from the bucket's arithmetic, not from timing: a GCRA
// bucket whose share stays at most s, with tolerance τ, admits at most
// (E+τ)·10·s + 1 requests in any E (each costs 100 ms/s, and the bucket
// is never more than τ ahead), whatever the load on the machine. At
// 0.95, c = 105 ms and τ = 200 ms: at most 9.5·E + 2.9; half the limit
// (the even share) admits at most 5·E + 2. Below, a slow machine only
// sends fewer requests: the lower bounds leave a third of the rate for it.
func TestReplicas_KeyLimitsWeighted(t *testing.T) {
	const secret = "sk-fleet-weighted-0123456789abcdef"
	const rate, burst = 10, 2
	f := newKeyFleet(t, func(c *config.Gateway) {
		c.ClientKeys = []config.ClientKey{{Name: "shared", Secret: secret, RateLimit: rate, Burst: burst}}
	}, server.Options{})
	a, b := f.a, f.b
	waitFor(t, "both replicas to count the two", 15*time.Second, func() bool { return a.LimitReplicas() == 2 && b.LimitReplicas() == 2 })
	if got := a.LimitShare("shared"); got != 0.5 {
		t.Errorf("a's share before any request: %v, want the even 0.5", got)
	}

	// Through a alone until its demand is weighed: its beats publish
	// it, and its share rises at the weighing after the first that sees it.
	drive := func(gws []*server.Server, until func() bool, what string) {
		t.Helper()
		for deadline := time.Now().Add(40 * time.Second); !until(); {
			if time.Now().After(deadline) {
				t.Fatalf("%s: a's share %v, b's %v", what, a.LimitShare("shared"), b.LimitShare("shared"))
			}
			driveKey(t, gws, secret, 200*time.Millisecond, nil)
		}
	}
	drive([]*server.Server{a}, func() bool { return a.LimitShare("shared") > 0.94 && b.LimitShare("shared") < 0.06 }, "a's share to rise to 0.95 with all the demand on a")

	const window = 4 * time.Second
	admitted, elapsed := driveKey(t, []*server.Server{a}, secret, window, nil)
	half := int(elapsed.Seconds()*rate/2) + 2
	most := int((elapsed.Seconds()+0.2)*rate*0.95) + 1
	least := max(int(window.Seconds()*rate*0.95*2/3), half+5)
	t.Logf("all through a: %d admitted in %v (at most %d on the even half, %d at 0.95)", admitted, elapsed.Round(time.Millisecond), half, most)
	if admitted < least || admitted > most {
		t.Errorf("all through a admitted %d in %v, want %d to %d: about the whole limit, more than the even half's %d", admitted, elapsed.Round(time.Millisecond), least, most, half)
	}
	if s := a.LimitShare("shared"); s > 0.95+1e-9 {
		t.Errorf("a's share %v, over 0.95", s)
	}

	// Through both: the demand evens out, and so do the shares.
	drive([]*server.Server{a, b}, func() bool {
		sa, sb := a.LimitShare("shared"), b.LimitShare("shared")
		return sa > 0.44 && sa < 0.56 && sb > 0.44 && sb < 0.56
	}, "the shares to come back to about half each with the demand spread")
	var maxA, maxB float64
	admitted, elapsed = driveKey(t, []*server.Server{a, b}, secret, window, func(int, string, string) {
		maxA, maxB = max(maxA, a.LimitShare("shared")), max(maxB, b.LimitShare("shared"))
	})
	// Each replica's share at most maxA, maxB through the window, its
	// tolerance at most 100 ms / 0.44 < 250 ms.
	most = int((elapsed.Seconds()+0.25)*rate*maxA) + int((elapsed.Seconds()+0.25)*rate*maxB) + 2
	least = int(window.Seconds() * rate * 2 / 3)
	t.Logf("through both: %d admitted in %v (shares at most %.3f and %.3f; at most %d)", admitted, elapsed.Round(time.Millisecond), maxA, maxB, most)
	if maxA+maxB > 1.05 {
		t.Errorf("the shares reached %.3f and %.3f: their sum %.3f is over the limit", maxA, maxB, maxA+maxB)
	}
	if admitted < least || admitted > most {
		t.Errorf("through both admitted %d in %v, want %d to %d: about the key's limit across the fleet", admitted, elapsed.Round(time.Millisecond), least, most)
	}
}

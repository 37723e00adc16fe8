package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// coldBackend is a candidate's model server that answers its first
// warm-up requests with 500, as a vLLM whose CUDA graphs are still being
// captured, or whose first request raced the model's load, does; after
// those it is a fakellm.
type coldBackend struct {
	url      string
	failNext atomic.Int32 // warm-up requests still to fail
	warmups  atomic.Int32 // warm-up requests received
}

func newColdBackend(t *testing.T) *coldBackend {
	t.Helper()
	b := &coldBackend{}
	fake := fakellm.New(fakellm.Config{}).Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Sluice-Warmup") != "" {
			b.warmups.Add(1)
			if b.failNext.Add(-1) >= 0 {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"error": {"message": "CUDA graph capture in progress", "type": "server_error"}}`)
				return
			}
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	b.url = srv.URL
	return b
}

// failFirst makes the next n warm-up requests fail, and counts the
// warm-up requests from zero.
func (b *coldBackend) failFirst(n int32) {
	b.failNext.Store(n)
	b.warmups.Store(0)
}

const coldModelsYAML = `models:
  - name: chat
    policy: {kind: specific, version: v1.1.0}
    labels: {stable: v1.1.0}
    versions:
      - version: v1.1.0
        endpoints: [STABLE]
        stage: production
      - version: v1.2.0
        endpoints: [CANDIDATE]
        stage: staging
`

// TestCLI_RolloutWarmupMaxFailures: a candidate whose backend fails its
// first warm-up request (a transient error at start) gets to its canary
// when the rollout allows a warm-up failure (--warmup-max-failures, or a
// model file's warmup.max_failures), and the timeline says how many of the
// warm-up's requests failed and what was allowed. Without the allowance it
// fails as before, and a backend failing more than the allowance fails
// the rollout with a decision naming the allowance. Allowances that cannot
// work are refused at start, naming the flag.
func TestCLI_RolloutWarmupMaxFailures(t *testing.T) {
	stable := fakellm.New(fakellm.Config{})
	if err := stable.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stable.Close)
	cold := newColdBackend(t)
	gw, token := startGateway(t)
	file := filepath.Join(t.TempDir(), "models.yaml")
	text := strings.NewReplacer("STABLE", stable.URL(), "CANDIDATE", cold.url).Replace(coldModelsYAML)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd := func(args ...string) []string { return append(append([]string{}, args...), g...) }
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)

	start := func(t *testing.T, flags ...string) {
		t.Helper()
		args := cmd(append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--reason", "cold start"}, flags...)...)
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, errOut, code := run(t, args...)
			if code == 0 {
				return
			}
			// The abort before drains the candidate in the background.
			if !strings.Contains(errOut, "is still being rolled back") || time.Now().After(deadline) {
				t.Fatalf("start: exit %d: %s", code, errOut)
			}
		}
	}
	latest := func() string {
		if r := gw.Control.Registry().Rollouts["chat"]; r != nil {
			return r.ID
		}
		return ""
	}
	// settled waits for a rollout other than before to end its warm-up.
	settled := func(t *testing.T, before string) sluice.Rollout {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if r := gw.Control.Registry().Rollouts["chat"]; r != nil && r.ID != before && r.Phase != sluice.PhaseWarming {
				return *r
			}
			if time.Now().After(deadline) {
				t.Fatalf("the rollout still warms after 20s: %+v", gw.Control.Registry().Rollouts["chat"])
			}
		}
	}
	abort := func(t *testing.T) {
		t.Helper()
		if r := gw.Control.Registry().ActiveRollout("chat"); r != nil {
			mustRun(t, cmd("rollout", "abort", "chat", "--reason", "next test")...)
		}
	}

	// apply applies the model file, again while the rollout aborted
	// before drains the candidate in the background.
	apply := func(t *testing.T, flags ...string) (string, int) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			_, errOut, code := run(t, cmd(append([]string{"apply", "-f", file}, flags...)...)...)
			if code == 0 || !strings.Contains(errOut, "is still being rolled back") || time.Now().After(deadline) {
				return errOut, code
			}
		}
	}

	t.Run("Refused", func(t *testing.T) {
		for _, c := range []struct {
			flags []string
			want  string
		}{
			{[]string{"--warmup-max-failures", "-1"}, "warmup.max_failures -1 cannot be negative"},
			{[]string{"--warmup-max-failures", "5"}, "warmup.max_failures 5 must be below the warm-up's 5 requests"},
			{[]string{"--warmup-max-failures", "1", "--skip-warmup"}, "a skipped warm-up sends no requests to fail"},
		} {
			args := cmd(append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "canary", "--reason", "try"}, c.flags...)...)
			_, errOut, code := run(t, args...)
			if code == 0 || !strings.Contains(errOut, c.want) || !strings.Contains(errOut, "--warmup-max-failures") {
				t.Errorf("%q: exit %d, %q; want refused with %q, naming the flag", c.flags, code, errOut, c.want)
			}
			if r := gw.Control.Registry().ActiveRollout("chat"); r != nil {
				t.Fatalf("%q: a refused start left rollout %s live", c.flags, r.ID)
			}
		}
	})

	t.Run("WithoutAllowanceFails", func(t *testing.T) {
		cold.failFirst(1)
		before := latest()
		start(t)
		r := settled(t, before)
		if r.Phase != sluice.PhaseFailed || !strings.Contains(r.Decision, "warm-up request 1 of 5 to "+cold.url+" answered 500") {
			t.Fatalf("phase %s (%s); want failed on the first warm-up request", r.Phase, r.Decision)
		}
		if !strings.Contains(r.Decision, "warmup.max_failures") {
			t.Errorf("decision %q does not say that an allowance exists", r.Decision)
		}
		if n := cold.warmups.Load(); n != 1 {
			t.Errorf("the candidate got %d warm-up requests; want 1: the failure ends the warm-up", n)
		}
	})

	t.Run("AllowanceGoesLive", func(t *testing.T) {
		cold.failFirst(1)
		before := latest()
		start(t, "--warmup-max-failures", "1")
		r := settled(t, before)
		if r.Phase != sluice.PhaseProgressing || r.Percent != 10 {
			t.Fatalf("phase %s at %v%% (%s); want live at the canary's 10%%", r.Phase, r.Percent, r.Decision)
		}
		if r.Spec.Warmup.MaxFailures != 1 {
			t.Errorf("stored warm-up spec %+v; want max_failures 1", r.Spec.Warmup)
		}
		if n := cold.warmups.Load(); n != 5 {
			t.Errorf("the candidate got %d warm-up requests; want all 5", n)
		}
		want := "candidate ready and warm: 1 of 5 warm-up requests failed, within warmup.max_failures 1 (request 1 to " + cold.url + " answered 500)"
		out := mustRun(t, cmd("rollout", "status", "chat")...)
		for _, w := range []string{want, "Warm-up:   5 requests, at most 1 may fail"} {
			if !strings.Contains(out, w) {
				t.Errorf("status lacks %q:\n%s", w, out)
			}
		}
		abort(t)
	})

	t.Run("BeyondAllowanceFails", func(t *testing.T) {
		cold.failFirst(2)
		before := latest()
		start(t, "--warmup-max-failures", "1")
		r := settled(t, before)
		want := "warm-up request 2 of 5 to " + cold.url + " answered 500: 2 warm-up requests failed, more than warmup.max_failures 1 allows (the first: request 1 to " + cold.url + " answered 500)"
		if r.Phase != sluice.PhaseFailed || !strings.Contains(r.Decision, want) {
			t.Fatalf("phase %s (%s); want failed with %q", r.Phase, r.Decision, want)
		}
		if n := cold.warmups.Load(); n != 2 {
			t.Errorf("the candidate got %d warm-up requests; want 2: the warm-up stops once past its allowance", n)
		}
		out, _, code := run(t, cmd("rollout", "watch", "chat")...)
		if code != 1 || !strings.Contains(out, want) {
			t.Errorf("watch: exit %d\n%s", code, out)
		}
	})

	t.Run("ModelFile", func(t *testing.T) {
		cold.failFirst(1)
		before := latest()
		// A version of its own: a target whose rollout has ended (v1.2.0's
		// above) starts nothing when applied again.
		withTarget := strings.Replace(text, "    labels: {stable: v1.1.0}\n",
			"    labels: {stable: v1.1.0}\n    target: v1.3.0\n    rollout: {strategy: canary, warmup: {requests: 3, max_failures: 1}}\n", 1) +
			"      - version: v1.3.0\n        endpoints: [" + cold.url + "]\n        stage: staging\n"
		if err := os.WriteFile(file, []byte(withTarget), 0o644); err != nil {
			t.Fatal(err)
		}
		if errOut, code := apply(t, "--reason", "cold start from the file"); code != 0 {
			t.Fatalf("apply: exit %d: %s", code, errOut)
		}
		r := settled(t, before)
		if r.Phase != sluice.PhaseProgressing || r.Spec.Warmup.MaxFailures != 1 || r.Spec.Warmup.Requests != 3 {
			t.Fatalf("phase %s (%s), warm-up %+v; want live with the file's warm-up", r.Phase, r.Decision, r.Spec.Warmup)
		}
		// The warmed event by its kind: the first analysis's verdict may
		// follow the stage's before a loaded machine reads the rollout.
		var warmed string
		for _, e := range r.Events {
			if e.Kind == "warmed" {
				warmed = e.Message
			}
		}
		if !strings.Contains(warmed, "1 of 3 warm-up requests failed, within warmup.max_failures 1") {
			t.Errorf("warmed %q; events: %+v", warmed, r.Events)
		}

		// A file whose allowance cannot work is refused, naming its key.
		bad := strings.NewReplacer("max_failures: 1", "max_failures: 3", "target: v1.3.0", "target: v1.4.0").Replace(withTarget) +
			"      - version: v1.4.0\n        endpoints: [" + cold.url + "]\n        stage: staging\n"
		os.WriteFile(file, []byte(bad), 0o644)
		abort(t)
		errOut, code := apply(t, "--dry-run", "--reason", "too lenient")
		if code == 0 || !strings.Contains(errOut, "warmup.max_failures 3 must be below the warm-up's 3 requests") {
			t.Errorf("apply of max_failures 3 of 3: exit %d: %s", code, errOut)
		}
	})
}

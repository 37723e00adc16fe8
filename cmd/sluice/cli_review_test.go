package main

// Each test here came from a review, with the bug it found; its comment
// says what the code did before the fix.

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// TestWatchEveryNotPositive: `sluice rollout watch chat --every 0`
// (or a negative interval) crashes with a Go panic ("non-positive interval
// for NewTicker") and exit status 2 instead of an error saying what to pass
// (rollout.go: time.NewTicker(every) unchecked).
func TestWatchEveryNotPositive(t *testing.T) {
	for _, every := range []string{"0", "-1s"} {
		t.Run(every, func(t *testing.T) {
			var code int
			var errOut string
			panicked := func() (p any) {
				defer func() { p = recover() }()
				_, errOut, code = run(t, "rollout", "watch", "chat", "--every", every, "--token", "x", "--server", "http://127.0.0.1:1")
				return nil
			}()
			if panicked != nil {
				t.Fatalf("sluice rollout watch chat --every %s panicked: %v", every, panicked)
			}
			if code == 0 || !strings.Contains(errOut, "--every") {
				t.Errorf("exit %d, stderr %q; want an error naming --every", code, errOut)
			}
		})
	}
}

// TestUnknownSubcommandFails: a mistyped subcommand of a command
// group (get, set, token, rollout, plan) prints the group's help and exits
// 0, so `sluice rollout strat chat ...` in a script or runbook "succeeds"
// having done nothing. The root command reports an unknown command with
// exit 1; the groups should too.
func TestUnknownSubcommandFails(t *testing.T) {
	for _, args := range [][]string{
		{"get", "model"},
		{"set", "splt", "chat", "v1=100"},
		{"token", "crate", "alice"},
		{"rollout", "strat", "chat"},
		{"rollout", "abrot", "chat"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			_, _, code := run(t, append(args, "--token", "x", "--server", "http://127.0.0.1:1")...)
			if code == 0 {
				t.Errorf("sluice %s: exit 0; want an unknown-command error and a non-zero exit", strings.Join(args, " "))
			}
		})
	}
}

// TestRolloutStartHoldWithoutStages: --hold and --min-samples are
// read only when --stages is given (rollout.go, `if stages != ""`); without
// it they are dropped without a word and the rollout starts with the
// planner's holds and samples.
func TestRolloutStartHoldWithoutStages(t *testing.T) {
	var mu sync.Mutex
	var body string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		body = string(b)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"id":"r1","phase":"warming_up","spec":{"model":"chat","candidate":"v1.2.0","strategy":"progressive"}}`)
	}))
	defer srv.Close()
	for _, flag := range [][]string{{"--hold", "30m"}, {"--min-samples", "5000"}} {
		t.Run(flag[0], func(t *testing.T) {
			args := append([]string{"rollout", "start", "chat", "--to", "v1.2.0", "--strategy", "progressive", "--reason", "r", "--server", srv.URL, "--token", "x"}, flag...)
			_, _, code := run(t, args...)
			mu.Lock()
			sent := body
			mu.Unlock()
			want := map[string]string{"--hold": "30m0s", "--min-samples": "5000"}[flag[0]]
			if code == 0 && !strings.Contains(sent, want) {
				t.Errorf("sluice rollout start ... %s %s: exit 0 and the spec sent holds no %s: %s\n(want the value used, or an error saying it needs --stages)", flag[0], flag[1], want, sent)
			}
		})
	}
}

// TestPlanSamplesChecksAlphaPower: `sluice plan samples` checks
// --baseline and --mde but not --alpha or --power: --alpha 0, --alpha 2 or
// --power 1.5 print "0 requests per arm, 0 in all" and exit 0.
func TestPlanSamplesChecksAlphaPower(t *testing.T) {
	for _, extra := range [][]string{{"--alpha", "0"}, {"--alpha", "2"}, {"--power", "1.5"}, {"--power", "0"}} {
		t.Run(strings.Join(extra, "="), func(t *testing.T) {
			out, _, code := run(t, append([]string{"plan", "samples", "--baseline", "0.85", "--mde", "0.05"}, extra...)...)
			if code == 0 {
				t.Errorf("plan samples %s: exit 0 with %q; want an error saying the valid range", strings.Join(extra, " "), strings.TrimSpace(out))
			}
		})
	}
}

// TestOutputFormatChecked: --output/-o is documented as "table or
// json", but any other value (yaml, JSON, jsno) silently prints the table,
// so a script parsing `-o JSON` gets a table.
func TestOutputFormatChecked(t *testing.T) {
	for _, o := range []string{"yaml", "JSON", "jsno"} {
		t.Run(o, func(t *testing.T) {
			out, _, code := run(t, "-o", o, "plan", "samples", "--baseline", "0.85", "--mde", "0.05")
			if code == 0 {
				t.Errorf("-o %s: exit 0, printed %q; want an error: use table or json", o, strings.TrimSpace(out))
			}
		})
	}
}

// Numbers that make no sense are refused before anything starts: demo
// --rate 0 sent 1 request/s, --duration -5s ran for ever, sim --runs -3
// and bench --duration 0 / --rounds 0 took their defaults without a word.
func TestBadNumbersRefused(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "--rate", "0"},
		{"demo", "--duration", "-5s"},
		{"sim", "--runs", "-3", "sim/scenarios/none.yaml"},
		{"bench", "--duration", "0", "--no-install"},
		{"bench", "--rounds", "0", "--no-install"},
		{"bench", "--concurrency", "0", "--no-install"},
	} {
		_, errOut, code := run(t, args...)
		if code == 0 || !strings.Contains(errOut, "--") {
			t.Errorf("sluice %s: exit %d, stderr %q; want an error naming the flag", strings.Join(args, " "), code, strings.TrimSpace(errOut))
		}
	}
}

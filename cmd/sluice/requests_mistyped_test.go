package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
)

// TestCLI_RequestsMistypedFilter: `sluice requests --route splitt` printed
// an empty table, as if no request had been routed by the split. A route
// the gateway never logs is refused, naming the routes it does; a category
// (the clients' free text) that no request of the model has in the whole
// log is refused with the categories its requests have, while one that
// some request has, outside --since, is an empty list as before.
func TestCLI_RequestsMistypedFilter(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	now := time.Now().UTC()
	var rows []sluice.Observation
	for i, c := range []string{"payments", "code", "", "support"} {
		rows = append(rows, sluice.Observation{RequestID: fmt.Sprintf("req_typo_%d", i), At: now.Add(-time.Duration(10-i) * time.Minute),
			Model: "chat", Version: "v1.1.0", Route: "split", Category: c, Status: 200})
	}
	if err := gw.Store.AppendRequests(t.Context(), rows); err != nil {
		t.Fatal(err)
	}
	refused := []struct {
		args []string
		says []string
	}{
		{[]string{"requests", "chat", "--route", "splitt"}, []string{`route "splitt" is not one the gateway logs`, "split, policy, pin, label, force, rule, previous_response, retry"}},
		{[]string{"requests", "--route", "Split", "-o", "json"}, []string{`route "Split"`, "split, policy"}},
		{[]string{"requests", "chat", "--category", "paymnts"}, []string{`no request of model chat in the request log has category "paymnts"`, "code, payments, support"}},
		{[]string{"requests", "chat", "--category", "Payments", "--since", "1h"}, []string{`category "Payments"`, "code, payments, support"}},
		{[]string{"requests", "--category", "paymnts", "--failed"}, []string{`no request in the request log has category "paymnts"`, "code, payments, support"}},
		// The model is the typo: said so, not that it has no categories.
		{[]string{"requests", "chta", "--category", "payments"}, []string{`model "chta" is not registered`}},
	}
	for _, c := range refused {
		stdout, stderr, code := run(t, cmd(c.args...)...)
		if code == 0 || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q; want it refused", strings.Join(c.args, " "), code, stdout)
		}
		for _, s := range c.says {
			if !strings.Contains(stderr, s) {
				t.Errorf("%s: stderr %q; want it to say %q", strings.Join(c.args, " "), stderr, s)
			}
		}
	}
	// A category some request has, outside the window: an empty list.
	stdout, stderr, code := run(t, cmd("requests", "chat", "--category", "payments", "--since", "5m", "-o", "json")...)
	if code != 0 || strings.TrimSpace(stdout) != "[]" {
		t.Errorf("--category payments --since 5m: exit %d, stdout %q, stderr %q; want an empty list", code, stdout, stderr)
	}
	stdout, _, code = run(t, cmd("requests", "chat", "--category", "payments", "--route", "split")...)
	if code != 0 || !strings.Contains(stdout, "req_typo_0") || strings.Contains(stdout, "req_typo_1") {
		t.Errorf("--category payments --route split: exit %d, stdout %q; want the payments request alone", code, stdout)
	}
}

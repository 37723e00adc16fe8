package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestApply_ShadowedRuleWarned: two rules on the same header (in another
// case) and value, the second of which can never match (rules are tried in
// order, headers read in any case), were applied with "rules changed" and
// nothing else. sluice apply, and its dry run, now warn naming both, once
// (the gateway's warning, not the CLI's own as well); a
// rule only some of whose values are taken is named with those values; a
// file without such rules gets no warning.
func TestApply_ShadowedRuleWarned(t *testing.T) {
	_, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	base, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	withRules := strings.Replace(string(base), "    labels: {stable: v1.1.0}\n", `    labels: {stable: v1.1.0}
    rules:
      - {header: X-Segment, values: [beta], version: v1.2.0}
      - {header: x-segment, values: [beta], version: v1.1.0}
      - {header: X-SEGMENT, values: [beta, internal], version: v1.1.0}
      - {header: X-Team, values: [beta], version: v1.1.0}
`, 1)
	if withRules == string(base) {
		t.Fatal("the README's model file has no labels line to add rules after")
	}
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(rules, []byte(withRules), 0o644)
	for _, dry := range []bool{true, false} {
		args := cmd("apply", "-f", rules, "--reason", "segments")
		if dry {
			args = append(args, "--dry-run")
		}
		out, errOut, code := run(t, args...)
		if code != 0 {
			t.Fatalf("apply (dry run %v): exit %d: %s", dry, code, errOut)
		}
		for _, want := range []string{
			"warning: model chat: rule 2 (x-segment: beta → v1.1.0) can never match: rule 1 (X-Segment: beta → v1.2.0)",
			"warning: model chat: rule 3 (X-SEGMENT: beta,internal → v1.1.0) can never match value beta: rule 1 (X-Segment: beta → v1.2.0)",
		} {
			if n := strings.Count(errOut, want); n != 1 {
				t.Errorf("apply (dry run %v): stderr says %q %d times, want once:\n%s%s", dry, want, n, out, errOut)
			}
		}
		if strings.Contains(errOut, "rule 4") {
			t.Errorf("apply (dry run %v): rule 4 (another header) was warned of:\n%s", dry, errOut)
		}
	}
	if _, errOut, _ := run(t, cmd("apply", "-f", file, "--reason", "no rules")...); strings.Contains(errOut, "warning") {
		t.Errorf("apply of a file without shadowed rules warned:\n%s", errOut)
	}
}

// TestApply_WarningsFromGateway: the CLI worked the shadowed rules out
// itself, so only it warned. It now prints the gateway's warnings (the
// apply answer's warnings) in place of its own, and an older gateway,
// whose answer has no warnings field, still gets the CLI's own check.
// A proxy in front of a real gateway rewrites the apply's answer as each
// gateway would send it.
func TestApply_WarningsFromGateway(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "plan")...)
	base, _ := os.ReadFile(file)
	rules := filepath.Join(t.TempDir(), "rules.yaml")
	os.WriteFile(rules, []byte(strings.Replace(string(base), "    labels: {stable: v1.1.0}\n", `    labels: {stable: v1.1.0}
    rules:
      - {header: X-Segment, values: [beta], version: v1.2.0}
      - {header: x-segment, values: [beta], version: v1.1.0}
`, 1)), 0o644)
	const shadowed = "warning: model chat: rule 2 (x-segment: beta → v1.1.0) can never match"

	target, _ := url.Parse(gw.AdminURL())
	var rewrite func(map[string]json.RawMessage)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.ModifyResponse = func(res *http.Response) error {
		if res.Request.URL.Path != "/admin/v1/apply" || res.StatusCode != http.StatusOK {
			return nil
		}
		b, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil {
			return err
		}
		var m map[string]json.RawMessage
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		if _, ok := m["warnings"]; !ok {
			return fmt.Errorf("the gateway's apply answer has no warnings: %s", b)
		}
		rewrite(m)
		b, _ = json.Marshal(m)
		res.Body = io.NopCloser(bytes.NewReader(b))
		res.ContentLength = int64(len(b))
		res.Header.Set("Content-Length", strconv.Itoa(len(b)))
		return nil
	}
	front := httptest.NewServer(rp)
	t.Cleanup(front.Close)
	via := func(args ...string) []string {
		a := cmd(args...)
		for i := range a {
			if a[i] == gw.AdminURL() {
				a[i] = front.URL
			}
		}
		return a
	}
	for _, c := range []struct {
		name    string
		rewrite func(map[string]json.RawMessage)
		want    string
		not     string
	}{
		// The gateway's warnings are what is printed: one of its own
		// here, and the CLI's check stays out.
		{"Gateway", func(m map[string]json.RawMessage) { m["warnings"] = json.RawMessage(`["from the gateway"]`) }, "warning: from the gateway\n", shadowed},
		// An older gateway: no warnings field, the CLI's own check.
		{"OlderGateway", func(m map[string]json.RawMessage) { delete(m, "warnings") }, shadowed, "from the gateway"},
	} {
		rewrite = c.rewrite
		for _, dry := range []bool{true, false} {
			args := via("apply", "-f", rules, "--reason", "segments "+c.name)
			if dry {
				args = append(args, "--dry-run")
			}
			out, errOut, code := run(t, args...)
			if code != 0 {
				t.Fatalf("%s: apply (dry run %v): exit %d: %s", c.name, dry, code, errOut)
			}
			if strings.Count(errOut, c.want) != 1 || strings.Contains(errOut, c.not) {
				t.Errorf("%s: apply (dry run %v): stderr\n%s%s\nwant %q once and no %q", c.name, dry, out, errOut, c.want, c.not)
			}
		}
	}
	// -o json from an older gateway: the CLI's own warnings, as a newer
	// gateway's answer holds them, and [] when there are none; it printed
	// "warnings": null.
	rewrite = func(m map[string]json.RawMessage) { delete(m, "warnings") }
	for _, c := range []struct {
		file string
		want []string
	}{
		{rules, []string{strings.TrimPrefix(shadowed, "warning: ")}},
		{file, []string{}},
	} {
		out, errOut, code := run(t, via("apply", "-f", c.file, "--reason", "json from an older gateway", "--dry-run", "-o", "json")...)
		if code != 0 {
			t.Fatalf("apply -o json from an older gateway: exit %d: %s", code, errOut)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out), &got); err != nil {
			t.Fatalf("apply -o json: %v\n%s", err, out)
		}
		var ws []string
		if err := json.Unmarshal(got["warnings"], &ws); err != nil || ws == nil || len(ws) != len(c.want) {
			t.Errorf("apply -f %s -o json from an older gateway: warnings %s, want %q", filepath.Base(c.file), got["warnings"], c.want)
			continue
		}
		for i := range ws {
			if !strings.HasPrefix(ws[i], c.want[i]) {
				t.Errorf("apply -o json from an older gateway: warning %d is %q, want %q", i, ws[i], c.want[i])
			}
		}
	}
	// An empty list from the gateway: nothing to say, and the CLI does
	// not second-guess it.
	rewrite = func(m map[string]json.RawMessage) { m["warnings"] = json.RawMessage(`[]`) }
	if _, errOut, code := run(t, via("apply", "-f", rules, "--reason", "empty", "--dry-run")...); code != 0 || strings.Contains(errOut, "warning") {
		t.Errorf("apply with the gateway's empty warnings: exit %d, stderr %q; want no warning", code, errOut)
	}
}

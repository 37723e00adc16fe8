package main

import (
	"strings"
	"testing"

	"github.com/sluicehq/sluice/fakellm"
)

// What the user does: wants a bad candidate to watch a rollout roll back;
// the README sends them to sluice fakellm, whose -c flag took "behaviour
// file (YAML)" and named some keys, with no example anywhere but the Go
// package's documentation.
// What must happen: sluice fakellm --help shows a behaviour file, and that
// file loads as shown and fails and refuses as its comments say.
func TestCLI_FakellmHelpExampleLoads(t *testing.T) {
	out := mustRun(t, "fakellm", "--help")
	i := strings.Index(out, "  # failing.yaml")
	if i < 0 {
		t.Fatalf("sluice fakellm --help shows no behaviour file:\n%s", out)
	}
	var lines []string
	for _, l := range strings.Split(out[i:], "\n") {
		if !strings.HasPrefix(l, "  ") {
			break
		}
		lines = append(lines, strings.TrimPrefix(l, "  "))
	}
	cfg, err := fakellm.ParseConfig([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("the behaviour file in --help does not load: %v\n%s", err, strings.Join(lines, "\n"))
	}
	if cfg.Default.ErrorRate != 0.2 || cfg.Default.RefusalRate != 0.3 || cfg.Categories["payments"].RefusalRate != 0.5 || cfg.Categories["payments"].ErrorRate != 0.2 {
		t.Errorf("the example loads as %+v", cfg)
	}
	faults := helpExample(t, out, "  # faults.yaml")
	if d := faults.Default; d.StreamErrorRate != 0.3 || d.StreamErrorAt != "first" || d.StreamCutRate != 0.1 || d.BadAnswerRate != 0.05 || d.BadAnswer != "html" ||
		d.IgnoreStreamEncoding != "gzip" || !faults.KeepAlive {
		t.Errorf("the faults example loads as %+v", faults)
	}
	for _, want := range []string{"X-Fake-Status", "sluice fakellm --listen 127.0.0.1:8002 -c failing.yaml", "stream_error_rate, stream_cut_rate, bad_answer_rate",
		// The gateway cannot retry a stream whose events reached the client.
		"one mid-way reaches the client"} {
		if !strings.Contains(out, want) {
			t.Errorf("sluice fakellm --help does not mention %q", want)
		}
	}
}

// helpExample loads the behaviour file that starts at the line first in
// the help text out.
func helpExample(t *testing.T, out, first string) fakellm.Config {
	t.Helper()
	i := strings.Index(out, first)
	if i < 0 {
		t.Fatalf("sluice fakellm --help shows no %s:\n%s", strings.TrimSpace(first), out)
	}
	var lines []string
	for _, l := range strings.Split(out[i:], "\n") {
		if !strings.HasPrefix(l, "  ") {
			break
		}
		lines = append(lines, strings.TrimPrefix(l, "  "))
	}
	cfg, err := fakellm.ParseConfig([]byte(strings.Join(lines, "\n")))
	if err != nil {
		t.Fatalf("the behaviour file %s in --help does not load: %v\n%s", strings.TrimSpace(first), err, strings.Join(lines, "\n"))
	}
	return cfg
}

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sluicehq/sluice"
	"github.com/sluicehq/sluice/fakellm"
)

// TestCLI_RequestsMarkStreamAnsweredWhole: a backend that ignores
// stream: true answers whole, and the gateway sends the answer on as a
// stream, a success. Its request log row had no mark, so an operator could
// not tell from sluice requests which backend does not stream; now its
// TTFT is marked (whole), with a note saying what that means, and -o json
// (the API's answer) has stream_whole. A stream the backend streamed has
// neither.
func TestCLI_RequestsMarkStreamAnsweredWhole(t *testing.T) {
	whole := fakellm.New(fakellm.Config{Default: fakellm.Behavior{IgnoreStreamRate: 1}})
	if err := whole.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(whole.Close)
	streams := fakellm.New(fakellm.Config{})
	if err := streams.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(streams.Close)
	gw, token := startGateway(t)
	doc := strings.Replace(modelsYAML, "BACKEND", streams.URL(), 1)
	doc = strings.Replace(doc, "BACKEND", whole.URL(), 1)
	file := filepath.Join(t.TempDir(), "models.yaml")
	os.WriteFile(file, []byte(doc), 0o644)
	g := []string{"--server", gw.AdminURL(), "--token", token}
	cmd := func(args ...string) []string { return append(append([]string{}, args...), g...) }
	mustRun(t, cmd("apply", "-f", file, "--reason", "one backend ignores stream")...)

	_, wholeID := sdkChat(t, gw, "whole", token, "chat:v1.2.0", "hello", true)
	_, streamedID := sdkChat(t, gw, "streamed", token, "chat:v1.1.0", "hello", true)
	deadline := time.Now().Add(10 * time.Second)
	for gw.Log.Written() < 2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	out, errOut, code := run(t, cmd("requests", "chat")...)
	if code != 0 {
		t.Fatalf("sluice requests: exit %d: %s", code, errOut)
	}
	seen := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
		marked := strings.Contains(l, "(whole)")
		switch {
		case strings.Contains(l, wholeID):
			seen++
			if !marked {
				t.Errorf("the stream v1.2.0's backend answered whole has no (whole) mark:\n%s", out)
			}
		case strings.Contains(l, streamedID):
			seen++
			if marked {
				t.Errorf("the stream v1.1.0's backend streamed is marked (whole):\n%s", out)
			}
		}
	}
	if seen != 2 {
		t.Fatalf("want a row for each of %s and %s, so that each is checked:\n%s", wholeID, streamedID, out)
	}
	if !strings.Contains(errOut, "(whole) marks a streamed request its backend answered whole") {
		t.Errorf("no note on stderr saying what (whole) means: %q", errOut)
	}
	var rows []sluice.Observation
	if err := json.Unmarshal([]byte(mustRun(t, cmd("requests", "chat", "-o", "json")...)), &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("-o json: %d rows, want the two streams'", len(rows))
	}
	for _, o := range rows {
		if o.StreamWhole != (o.RequestID == wholeID) || !o.Stream {
			t.Errorf("row %s (%s) stream %v, stream_whole %v: want stream_whole on %s alone", o.RequestID, o.Version, o.Stream, o.StreamWhole, wholeID)
		}
	}
}

package main

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestDemo_VersionTableAligned: the demo's per-version table put its
// column titles 14 characters right of its numbers ("per version, last
// 30 s" took the width of the 12-character version column), so "requests"
// stood over the request rate and "tokens" over nothing.
func TestDemo_VersionTableAligned(t *testing.T) {
	gw, file, cmd := readmeGateway(t)
	mustRun(t, cmd("apply", "-f", file, "--reason", "setup")...)
	resp, err := http.Post(gw.URL()+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"chat","messages":[{"role":"user","content":"hi"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var out bytes.Buffer
	c := &cli{stdout: &out}
	c.drawDemo(gw, &demoPlan{}, time.Now(), 1, 0, false)
	lines := strings.Split(out.String(), "\n")
	head := -1
	for i, l := range lines {
		if strings.Contains(l, "requests") && strings.Contains(l, "tokens") {
			head = i
		}
	}
	if head < 0 || head+1 >= len(lines) {
		t.Fatalf("no per-version table:\n%s", out.String())
	}
	title, row := lines[head], lines[head+1]
	// Each title ends where its column's values end.
	for _, col := range []string{"requests", "tool calls", "tokens"} {
		end := strings.Index(title, col) + len(col)
		if end > len(row) || row[end-1] == ' ' || (end < len(row) && row[end] != ' ') {
			t.Errorf("column %q does not end over its values:\n%s\n%s", col, title, row)
		}
	}
}

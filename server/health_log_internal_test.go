package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

// TestLogHealthChange: versions out of service are a warning that names
// them, sorted, not an info record with a Go map
// ("unhealthy=map[chat:v1.2.0:true]"); all back in service is info.
func TestLogHealthChange(t *testing.T) {
	var b bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&b, nil))
	logHealthChange(logger, map[string]bool{"chat:v1.2.0": true, "chat:v1.0.0": true, "embed:v1": false}, 3)
	got := b.String()
	for _, want := range []string{"level=WARN", `unhealthy="chat:v1.0.0, chat:v1.2.0"`, "endpoints_down=3", "sluice get routes"} {
		if !strings.Contains(got, want) {
			t.Errorf("log %q lacks %q", got, want)
		}
	}
	b.Reset()
	logHealthChange(logger, map[string]bool{}, 0)
	if got := b.String(); !strings.Contains(got, "level=INFO") || strings.Contains(got, "map[") {
		t.Errorf("all in service: %q", got)
	}
}

package server

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/sluicehq/sluice"
)

// TestRoutingLog_EndpointDown checks that a rebuild caused by one endpoint
// of a version going down (the version stays in service, its requests go
// to its other endpoints) says so, naming the endpoint without its
// credentials, rather than that nothing changed.
func TestRoutingLog_EndpointDown(t *testing.T) {
	var buf bytes.Buffer
	l := &routingLog{logger: slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	const e1, e2 = "http://bob:s3cret@10.0.0.1:8000", "http://10.0.0.2:8000"
	reg := sluice.NewRegistry()
	reg.Versions["chat:v1"] = &sluice.Version{Model: "chat", Version: "v1", Endpoints: []string{e1, e2}, Stage: sluice.StageProduction}
	l.rebuilt(reg, nil, nil)
	buf.Reset()
	l.rebuilt(reg, nil, map[string]bool{e1: true})
	got := buf.String()
	if strings.Contains(got, "no model, version, service or endpoint change") || !strings.Contains(got, "endpoint http://REDACTED@10.0.0.1:8000 down") {
		t.Errorf("an endpoint going down logged %s", got)
	}
	if strings.Contains(got, "s3cret") {
		t.Errorf("the record shows the endpoint's credentials: %s", got)
	}
	buf.Reset()
	l.rebuilt(reg, nil, nil)
	if got := buf.String(); !strings.Contains(got, "endpoint http://REDACTED@10.0.0.1:8000 up again") {
		t.Errorf("an endpoint back up logged %s", got)
	}
}
